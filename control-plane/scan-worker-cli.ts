/**
 * `leakgate scan-worker`: takes scan jobs from the queue in the PostgreSQL store (control-plane/scan-jobs.ts)
 * and runs them as the control plane would (control-plane/scans.ts `runJob`: a child process a scan,
 * findings made into leaks with their dedupe keys), `scanWorkerConcurrency` at a time, heartbeating each
 * scan's record. Any number of workers, on any machine that reaches the database and the sources.
 * Configured like the control plane (the same file, env and flags: databaseUrl, hashKey, scan, scanJobs).
 * SIGTERM/SIGINT stop the running scans and give their jobs back to the queue (retried elsewhere).
 */
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { pino } from 'pino'
import { ConfigError } from '../lib/errors.js'
import { loggerOptions } from '../lib/logger.js'
import { controlPlaneSchema, hashKeyOf, loadControlPlaneConfig } from './config.js'
import { ScanQueue } from './scan-jobs.js'
import { githubAccessFromEnv, ScanService } from './scans.js'
import { Store } from './store/store.js'

/** How often an idle worker asks the queue for a job. */
const POLL_MS = 1000

function usage(): string {
  return [
    'usage: leakgate scan-worker [--config FILE] [--concurrency N] [control-plane options]',
    '',
    'Runs the scans a control plane on PostgreSQL queues (POST /v1/scans, scanSources). It needs the same',
    'databaseUrl (LEAKGATE_DATABASE_URL) and hashKey (LEAKGATE_HASH_KEY) as the control plane, and reads',
    'scan (limits, allowed hosts) and scanJobs (retries, heartbeat) like it. LEAKGATE_GITHUB_TOKEN for GitHub.',
    '',
    `  ${'--concurrency N'.padEnd(22)} ${'LEAKGATE_SCAN_WORKER_CONCURRENCY'.padEnd(34)} scans run at once (default ${String(controlPlaneSchema.properties.scanWorkerConcurrency?.default)})`,
    `  ${'--config FILE'.padEnd(22)} ${''.padEnd(34)} a YAML or JSON file of options (see config/control-plane.yaml)`,
    '  `leakgate control-plane --help` lists every option.',
  ].join('\n')
}

/** Runs the worker; returns -1 while it works (the process stays up), or an exit code. */
export async function main(argv: string[]): Promise<number> {
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' }, config: { type: 'string' } }
  for (const p of Object.values(controlPlaneSchema.properties)) {
    if (p['x-flag'] !== undefined) options[p['x-flag']] = { type: p.type === 'boolean' ? 'boolean' : 'string' }
  }
  let parsed
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: false })
  } catch (err) {
    console.error(`leakgate scan-worker: ${(err as Error).message}\n\n${usage()}`)
    return 2
  }
  if (parsed.values.help === true) {
    console.log(usage())
    return 0
  }
  const { config: file, help: _help, ...flags } = parsed.values
  const config = loadControlPlaneConfig({ file: typeof file === 'string' ? file : undefined, env: process.env, flags })
  if (config.databaseUrl === undefined) {
    throw new ConfigError('leakgate scan-worker takes its jobs from the store on PostgreSQL: set databaseUrl (LEAKGATE_DATABASE_URL, --database-url) as on the control plane; on SQLite the control plane runs scans itself')
  }
  const log = pino(loggerOptions(config.logLevel, 'leakgate-scan-worker'))
  const store = await Store.openConfigured(config, {
    defaultAction: config.defaultAction,
    autoBlockRisk: config.autoBlockRisk,
    sightingsKeptPerLeak: config.limits.sightingsKeptPerLeak,
    changesRetention: config.changesRetention,
    hashKey: { key: hashKeyOf(config) },
  })
  let queue: ScanQueue
  try {
    queue = await ScanQueue.open(config.databaseUrl, config.scanJobs, (err) => log.error({ err: { message: err.message } }, 'scan queue (pg-boss) error'))
  } catch (err) {
    await store.close()
    throw err
  }
  const scans = await ScanService.open(store, {
    cacheDir: join(config.dataDir, 'scan-cache'),
    github: githubAccessFromEnv(process.env),
    actor: 'scanner',
    onError: (err, source) => log.warn({ err: { message: err.message, code: (err as { code?: string }).code }, sourceType: source.type }, 'scan failed'),
    onDiagnostic: (text, source) => log.warn({ git: text.slice(0, 1000), sourceType: source.type }, 'scan: git failed on a remote repository'),
    reach: { allowedPaths: [...config.scan.allowedPaths], allowedHosts: [...config.scan.allowedHosts] },
    limits: { timeoutSeconds: config.scan.timeoutSeconds, memoryMb: config.scan.memoryMb, maxFindings: config.scan.maxFindings, maxBytes: config.scan.maxBytes },
    queue,
    stoppedMessage: 'the scan worker stopped during the scan',
  })

  const stop = new AbortController()
  const loop = async (): Promise<void> => {
    while (!stop.signal.aborted) {
      const job = await queue.fetch().catch((err: unknown) => {
        log.error({ err: { message: (err as Error).message } }, 'cannot fetch a scan job')
        return undefined
      })
      if (job === undefined) {
        await sleep(POLL_MS, undefined, { signal: stop.signal }).catch(() => undefined)
        continue
      }
      log.info({ scan: job.data.scanId, attempt: job.attempt, sourceType: job.data.source.type }, 'scan job taken')
      const outcome = await scans.runJob(queue, job).catch((err: unknown) => {
        log.error({ err: { message: (err as Error).message }, scan: job.data.scanId }, 'scan job could not be ended')
        return 'failed' as const
      })
      log.info({ scan: job.data.scanId, attempt: job.attempt, outcome }, 'scan job ended')
    }
  }
  const loops = Array.from({ length: config.scanWorkerConcurrency }, () => loop())
  log.info({ concurrency: config.scanWorkerConcurrency }, 'scan worker ready')

  let closing = false
  const shutdown = (signal: string): void => {
    if (closing) return
    closing = true
    log.info({ signal }, 'closing')
    stop.abort()
    // Running scans are stopped; their jobs fail and pg-boss gives them to another worker.
    scans.close()
      .then(() => Promise.all(loops))
      .then(() => queue.close())
      .then(() => store.close())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'close failed')
          process.exit(1)
        },
      )
  }
  process.once('SIGTERM', () => shutdown('SIGTERM'))
  process.once('SIGINT', () => shutdown('SIGINT'))
  return -1
}

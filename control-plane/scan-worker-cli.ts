/**
 * `leakgate scan-worker`: takes scan jobs from the queue in the PostgreSQL store (control-plane/scan-jobs.ts)
 * and runs them as the control plane would (control-plane/scans.ts `runJob`: a child process a scan,
 * findings made into leaks with their dedupe keys), `scanWorkerConcurrency` at a time, heartbeating each
 * scan's record. Any number of workers, on any machine that reaches the database and the sources.
 * Configured like the control plane (the same file, env and flags: databaseUrl, hashKey, scan, scanJobs).
 * The loop itself is control-plane/scan-job-runner.ts, which a control plane with `scanJobsInProcess`
 * runs too. With `scanWorkerMetricsPort`, it serves its metrics (`leakgate_scan_worker_*`) on /metrics.
 * With `publicSources`, it also runs up to `publicSourceSlots` shards of each of those public sources
 * under leases (public-sources/worker-sources.ts), sharing them with the other workers.
 * SIGTERM/SIGINT stop the running scans and give their jobs back to the queue (retried elsewhere), and
 * free the public sources' shards.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { registerBuildInfo, registerDefaultMetrics } from '../lib/default-metrics.js'
import { ConfigError } from '../lib/errors.js'
import { loggerOptions } from '../lib/logger.js'
import { leakgateVersion } from '../lib/version.js'
import { bearerKey } from './auth.js'
import { configFromArgs, storeOptionsOf } from './cli-config.js'
import { controlPlaneSchema } from './config.js'
import { ScanJobRunner } from './scan-job-runner.js'
import { ScanQueue } from './scan-jobs.js'
import { createScanWorkerMetrics } from './scan-worker-metrics.js'
import { githubAccessFromEnv, gitlabAccessFromEnv, ScanService } from './scans.js'
import { Store } from './store/store.js'
import { followPublicSources } from './public-sources/worker-sources.js'

function usage(): string {
  return [
    'usage: leakgate scan-worker [--config FILE] [--concurrency N] [--metrics-port N] [control-plane options]',
    '',
    'Runs the scans a control plane on PostgreSQL queues (POST /v1/scans, scanSources). It needs the same',
    'databaseUrl (LEAKGATE_DATABASE_URL) and hashKey (LEAKGATE_HASH_KEY) as the control plane, and reads',
    'scan (limits, allowed hosts) and scanJobs (retries, heartbeat) like it. LEAKGATE_GITHUB_TOKEN for GitHub, LEAKGATE_GITLAB_TOKEN for GitLab.',
    '',
    `  ${'--concurrency N'.padEnd(22)} ${'LEAKGATE_SCAN_WORKER_CONCURRENCY'.padEnd(34)} scans run at once (default ${String(controlPlaneSchema.properties.scanWorkerConcurrency?.default)})`,
    `  ${'--metrics-port N'.padEnd(22)} ${'LEAKGATE_SCAN_WORKER_METRICS_PORT'.padEnd(34)} serve Prometheus /metrics on this port (default 0: none)`,
    `  ${'--public-source-slots N'.padEnd(22)} ${'LEAKGATE_PUBLIC_SOURCE_SLOTS'.padEnd(34)} shards of each of publicSources run besides the scans (default 1)`,
    `  ${'--config FILE'.padEnd(22)} ${''.padEnd(34)} a YAML or JSON file of options (see config/control-plane.yaml)`,
    '  `leakgate control-plane --help` lists every option.',
  ].join('\n')
}

/**
 * Serves `GET /metrics` (the worker's registry) on `host:port`, behind `Authorization: Bearer
 * <metricsKey>` when that is set (compared in constant time, like the control plane's).
 */
async function serveMetrics(registry: Registry, host: string, port: number, metricsKey: string | undefined): Promise<Server> {
  const expected = metricsKey === undefined ? undefined : digest(metricsKey)
  const server = createServer((req, res) => {
    if ((req.url ?? '').split('?')[0] !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the scan worker serves GET /metrics only\n')
      return
    }
    const sent = bearerKey(req.headers.authorization)
    if (expected !== undefined && (sent === undefined || !timingSafeEqual(digest(sent), expected))) {
      res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="leakgate-metrics"' }).end('/metrics needs the metrics key: send Authorization: Bearer <metricsKey>\n')
      return
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics could not be collected\n'),
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new ConfigError(`cannot listen on ${host}:${port} (scanWorkerMetricsPort option LEAKGATE_SCAN_WORKER_METRICS_PORT, --metrics-port): ${err.message}`, { cause: err })))
    server.listen(port, host, () => resolve())
  })
  return server
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest()
}

/** Runs the worker; returns -1 while it works (the process stays up), or an exit code. */
export async function main(argv: string[]): Promise<number> {
  const config = configFromArgs('scan-worker', argv, usage)
  if (typeof config === 'number') return config
  if (config.databaseUrl === undefined) {
    throw new ConfigError('leakgate scan-worker takes its jobs from the store on PostgreSQL: set databaseUrl (LEAKGATE_DATABASE_URL, --database-url) as on the control plane; on SQLite the control plane runs scans itself')
  }
  const log = pino(loggerOptions(config.logLevel, 'leakgate-scan-worker'))
  const registry = new Registry()
  registerDefaultMetrics(registry)
  registerBuildInfo(registry, leakgateVersion())
  const metrics = createScanWorkerMetrics(registry)
  const store = await Store.openConfigured(config, storeOptionsOf(config))
  let queue: ScanQueue
  try {
    queue = await ScanQueue.open(config.databaseUrl, config.scanJobs, (err) => log.error({ err: { message: err.message } }, 'scan queue (pg-boss) error'))
  } catch (err) {
    await store.close()
    throw err
  }
  let server: Server | undefined
  if (config.scanWorkerMetricsPort !== 0) {
    try {
      server = await serveMetrics(registry, config.host, config.scanWorkerMetricsPort, config.metricsKey)
    } catch (err) {
      await queue.close()
      await store.close()
      throw err
    }
  }
  const scans = await ScanService.open(store, {
    cacheDir: join(config.dataDir, 'scan-cache'),
    github: githubAccessFromEnv(process.env),
    gitlab: gitlabAccessFromEnv(process.env),
    actor: 'scanner',
    onError: (err, source) => log.warn({ err: { message: err.message, code: (err as { code?: string }).code }, sourceType: source.type }, 'scan failed'),
    onDiagnostic: (text, source) => log.warn({ git: text.slice(0, 1000), sourceType: source.type }, 'scan: git failed on a remote repository'),
    reach: { allowedPaths: [...config.scan.allowedPaths], allowedHosts: [...config.scan.allowedHosts] },
    limits: { timeoutSeconds: config.scan.timeoutSeconds, memoryMb: config.scan.memoryMb, maxFindings: config.scan.maxFindings, maxBytes: config.scan.maxBytes },
    queue,
    stoppedMessage: 'the scan worker stopped during the scan',
    onHeartbeat: (result) => metrics.heartbeats.inc({ result }),
  })

  const runner = new ScanJobRunner(queue, scans, { concurrency: config.scanWorkerConcurrency, log, metrics })
  const publicStop = new AbortController()
  const following = followPublicSources(store, config.publicSources, {
    slots: config.publicSourceSlots, leaseSeconds: config.publicSourceLeaseSeconds, env: process.env, log, signal: publicStop.signal,
    ...(config.publicSourceRules === '' ? {} : { rulesFile: config.publicSourceRules }),
  }).catch((err: unknown) => log.error({ err: { message: (err as Error).message } }, 'public sources could not be followed'))
  const address = server?.address()
  log.info({ concurrency: config.scanWorkerConcurrency, ...(address == null || typeof address === 'string' ? {} : { metricsPort: address.port }) }, 'scan worker ready')

  let closing = false
  const shutdown = (signal: string): void => {
    if (closing) return
    closing = true
    log.info({ signal }, 'closing')
    const taking = runner.stop()
    publicStop.abort()
    // Running scans are stopped; their jobs fail and pg-boss gives them to another worker.
    scans.close()
      .then(() => taking)
      .then(() => following)
      .then(() => new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve()))))
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

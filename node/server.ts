/**
 * `leakgate node`: load the configuration, build the node, listen, drain on SIGTERM/SIGINT, reload on
 * SIGHUP. A port that cannot be bound ends the process (exit 1): a node half started, its admin port
 * saying healthy with no proxy behind it, would hold traffic an orchestrator should send elsewhere.
 */
import cluster from 'node:cluster'
import { readFileSync } from 'node:fs'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { optionName } from '../lib/config.js'
import { ConfigError, isSnapshotError } from '../lib/errors.js'
import type { Logger } from 'pino'
import { buildNode, type LeakgateNode } from './app.js'
import { loadNodeConfig, nodeConfigSchema, workerCount, type NodeConfig } from './config.js'
import { listenFailure, type PortOption } from './listen-errors.js'
import { runPrimary } from './workers.js'
import { runWorker } from './worker.js'
import { usageMistake } from '../lib/usage.js'

// A drain that takes longer than this is cut short: an orchestrator's kill would come next anyway.
const DRAIN_TIMEOUT_MS = 25_000

function usage(): string {
  const lines = Object.entries(nodeConfigSchema.properties).map(([key, prop]) => {
    const flag = prop['x-flag'] === undefined ? '' : `--${prop['x-flag']}`
    const def = prop.default === undefined ? '' : ` (default ${JSON.stringify(prop.default)})`
    return `  ${flag.padEnd(18)} ${(prop['x-env'] ?? '').padEnd(32)} ${key}: ${prop.description}${def}`
  })
  return [
    'usage: leakgate node [--config FILE] [--index FILE] [options]',
    '',
    'Runs an edge node: a reverse proxy to the upstream that blocks or flags requests carrying leaked',
    'credentials (or, with --mode check, the authorization service a gateway asks before it forwards).',
    'Without --index it follows the control plane and keeps its last index in the cache dir.',
    '',
    '  --config FILE      YAML or JSON file of options (see config/node.yaml); env wins over it, flags over env',
    '  --help             this text',
    '',
    'options (flag, env variable, meaning):',
    ...lines,
  ].join('\n')
}

function version(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { version: string }).version
    } catch {
      // try the next place: the source tree and dist/ differ by one level
    }
  }
  return '0.0.0'
}

/** Runs the node; returns -1 (it keeps running) or an exit code on bad usage. */
export async function main(argv: string[]): Promise<number> {
  const options: NonNullable<ParseArgsConfig['options']> = { help: { type: 'boolean', short: 'h' }, config: { type: 'string' } }
  for (const prop of Object.values(nodeConfigSchema.properties)) {
    const flag = prop['x-flag']
    if (flag !== undefined) options[flag] = { type: 'string' }
  }
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as typeof values
  } catch (err) {
    console.error(usageMistake('node', (err as Error).message))
    return 2
  }
  if (values.help === true) {
    console.log(usage())
    return 0
  }
  const { help: _help, config: file, ...flags } = values
  const sources = { file: typeof file === 'string' ? file : undefined, env: process.env, flags }
  const config = loadNodeConfig(sources)
  const rereadConfig = sources.file === undefined ? undefined : () => loadNodeConfig(sources)
  const workers = workerCount(config)
  if (workers > 1 && cluster.isWorker) return runWorker(config, { version: version(), ...(rereadConfig === undefined ? {} : { rereadConfig }) })
  if (config.index === undefined && config.nodeKey === undefined) {
    console.error(`leakgate node: warning: no ${optionName(nodeConfigSchema, 'nodeKey')}; the control plane will refuse this node`)
  }
  if (workers > 1) return runPrimary(config, workers, { version: version(), ...(rereadConfig === undefined ? {} : { rereadConfig }) })
  let node: LeakgateNode
  try {
    // SIGHUP rereads the same file, env and flags: only the file can have changed.
    node = buildNode(config, { version: version(), ...(sources.file === undefined ? {} : { rereadConfig: () => loadNodeConfig(sources) }) })
  } catch (err) {
    const e = err as { code?: string; message?: string }
    if (isSnapshotError(err) || e.code === 'ENOENT') {
      throw new ConfigError(`${optionName(nodeConfigSchema, 'index')}: cannot load ${config.index ?? ''}: ${e.message ?? ''}`, { cause: err })
    }
    throw err
  }
  const { proxy, admin, logger } = node

  let closing = false
  const shutdown = (signal: string): void => {
    if (closing) return
    closing = true
    logger.info({ signal }, 'draining requests in flight, then exiting')
    const timer = setTimeout(() => {
      logger.error('drain took too long; exiting')
      process.exit(1)
    }, DRAIN_TIMEOUT_MS)
    timer.unref()
    node.close().then(
      () => {
        logger.info('stopped')
        logger.flush?.()
        process.exit(0)
      },
      (err: unknown) => {
        logger.error({ err: { message: (err as Error).message } }, 'error while stopping')
        process.exit(1)
      },
    )
  }
  // Before listening: a signal during the start (the cache can take seconds to load) is handled too;
  // SIGHUP's default would kill the node, where operators expect a reload.
  process.once('SIGTERM', () => shutdown('SIGTERM'))
  process.once('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGHUP', () => {
    if (closing) return
    logger.info({ signal: 'SIGHUP' }, 'reloading what can change without a restart')
    void node.reload('SIGHUP')
  })

  const isClosing = (): boolean => closing
  const { checks } = node
  const { checkPort } = config
  const bound = (await listenOrFail(node, 'adminPort', config, isClosing, () => admin.listen({ port: config.adminPort, host: config.adminHost }))) &&
    (await listenOrFail(node, 'port', config, isClosing, () => proxy.listen({ port: config.port, host: config.host }))) &&
    (checks === undefined || checkPort === undefined ||
      (await listenOrFail(node, 'checkPort', config, isClosing, () => checks.listen({ port: checkPort, host: config.host }))))
  if (closing) return -1 // a signal came while starting: its handler exits
  if (!bound) {
    await stopAfterFailedStart(node)
    return 1
  }
  logger.info({ mode: config.mode, proxy: proxy.addresses()[0], checks: node.checks?.addresses()[0], admin: admin.addresses()[0], upstream: config.upstream, nodeId: config.nodeId }, 'leakgate node listening')
  return -1
}

/** Runs `listen`; on failure logs one line naming the port, its option and why, and answers false. */
async function listenOrFail(node: LeakgateNode, key: PortOption, config: Readonly<NodeConfig>, isClosing: () => boolean, listen: () => Promise<unknown>): Promise<boolean> {
  try {
    await listen()
    return true
  } catch (err) {
    if (isClosing()) return false // stopped by a signal while starting, not a port problem
    const e = err as { code?: string; message?: string }
    const { fields, msg } = listenFailure(key, config, { code: e.code, message: e.message ?? String(err) })
    logFatal(node.logger, fields, msg)
    return false
  }
}

function logFatal(logger: Logger, fields: Record<string, unknown>, msg: string): void {
  logger.fatal(fields, msg)
  logger.flush?.()
}

/** Closes what did start (the other port, the cache load) so the process ends; exits if something still holds it. */
async function stopAfterFailedStart(node: LeakgateNode): Promise<void> {
  // Exits anyway if anything keeps the process alive past the close: never a half-started node.
  setTimeout(() => process.exit(1), 5000).unref()
  await node.close().catch(() => {})
}

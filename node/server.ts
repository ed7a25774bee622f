/**
 * `leakgate node`: load the configuration, build the node, listen, and drain on SIGTERM/SIGINT.
 */
import { readFileSync } from 'node:fs'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { optionName } from '../lib/config.js'
import { ConfigError, isSnapshotError } from '../lib/errors.js'
import { buildNode } from './app.js'
import { loadNodeConfig, nodeConfigSchema } from './config.js'

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
    console.error(`leakgate node: ${(err as Error).message}\n\n${usage()}`)
    return 2
  }
  if (values.help === true) {
    console.log(usage())
    return 0
  }
  const { help: _help, config: file, ...flags } = values
  const config = loadNodeConfig({ file: typeof file === 'string' ? file : undefined, env: process.env, flags })
  if (config.index === undefined && config.nodeKey === undefined) {
    console.error(`leakgate node: warning: no ${optionName(nodeConfigSchema, 'nodeKey')}; the control plane will refuse this node`)
  }
  let node: ReturnType<typeof buildNode>
  try {
    node = buildNode(config, { version: version() })
  } catch (err) {
    const e = err as { code?: string; message?: string }
    if (isSnapshotError(err) || e.code === 'ENOENT') {
      throw new ConfigError(`${optionName(nodeConfigSchema, 'index')}: cannot load ${config.index ?? ''}: ${e.message ?? ''}`, { cause: err })
    }
    throw err
  }
  const { proxy, admin, logger } = node
  await admin.listen({ port: config.adminPort, host: config.adminHost })
  await proxy.listen({ port: config.port, host: config.host })
  if (node.checks !== undefined && config.checkPort !== undefined) await node.checks.listen({ port: config.checkPort, host: config.host })
  logger.info({ mode: config.mode, proxy: proxy.addresses()[0], checks: node.checks?.addresses()[0], admin: admin.addresses()[0], upstream: config.upstream, nodeId: config.nodeId }, 'leakgate node listening')

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
  process.once('SIGTERM', () => shutdown('SIGTERM'))
  process.once('SIGINT', () => shutdown('SIGINT'))
  return -1
}

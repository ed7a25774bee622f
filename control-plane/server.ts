/**
 * `leakgate control-plane`: load the configuration, open the store, seed the keys given in the
 * environment, listen, and close cleanly on SIGTERM/SIGINT.
 */
import { parseArgs } from 'node:util'
import { ConfigError } from '../lib/errors.js'
import { buildControlPlane } from './app.js'
import { controlPlaneSchema, hashKeyOf, loadControlPlaneConfig } from './config.js'
import { Store } from './store/store.js'

function usage(): string {
  const lines = Object.entries(controlPlaneSchema.properties).map(([key, p]) => {
    const flag = p['x-flag'] === undefined ? '' : `--${p['x-flag']}`
    const env = p['x-env'] ?? ''
    const def = p.default === undefined ? '' : ` (default ${JSON.stringify(p.default)})`
    return `  ${flag.padEnd(22)} ${env.padEnd(28)} ${key}: ${p.description}${def}`
  })
  return [
    'usage: leakgate control-plane [--config FILE] [options]',
    '',
    'Runs the API, the console and the sync endpoints. Every option has an env variable and a config-file key;',
    'flags win over env, env over the file. LEAKGATE_ADMIN_KEY and LEAKGATE_NODE_KEY seed keys at start.',
    '',
    `  ${'--config FILE'.padEnd(22)} ${''.padEnd(28)} a YAML or JSON file of options (see config/control-plane.yaml)`,
    ...lines,
  ].join('\n')
}

/** Runs the control plane; returns -1 while it serves (the process stays up), or an exit code. */
export async function main(argv: string[]): Promise<number> {
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' }, config: { type: 'string' } }
  for (const p of Object.values(controlPlaneSchema.properties)) {
    if (p['x-flag'] !== undefined) options[p['x-flag']] = { type: p.type === 'boolean' ? 'boolean' : 'string' }
  }
  let parsed
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: false })
  } catch (err) {
    console.error(`leakgate control-plane: ${(err as Error).message}\n\n${usage()}`)
    return 2
  }
  if (parsed.values.help === true) {
    console.log(usage())
    return 0
  }
  const { config: file, help: _help, ...flags } = parsed.values
  const config = loadControlPlaneConfig({ file: typeof file === 'string' ? file : undefined, env: process.env, flags })

  const store = await Store.openConfigured(config, {
    defaultAction: config.defaultAction,
    autoBlockRisk: config.autoBlockRisk,
    sightingsKeptPerLeak: config.limits.sightingsKeptPerLeak,
    changesRetention: config.changesRetention,
    hashKey: { key: hashKeyOf(config) },
  })
  const seeded: string[] = []
  if (config.adminKey !== undefined) seeded.push(`admin ${await store.keys.seed(config.adminKey, 'admin', 'LEAKGATE_ADMIN_KEY')}`)
  if (config.nodeKey !== undefined) seeded.push(`node ${await store.keys.seed(config.nodeKey, 'node', 'LEAKGATE_NODE_KEY')}`)

  const app = await buildControlPlane(config, { store })
  app.addHook('onClose', async () => store.close())
  if (seeded.length > 0) app.log.info({ keys: seeded }, 'seeded API keys from the environment')
  if (await store.keys.count() === 0) {
    app.log.warn('no API key exists: set LEAKGATE_ADMIN_KEY or run `leakgate keys create --role admin`')
  }
  try {
    await app.listen({ port: config.port, host: config.host })
  } catch (err) {
    await app.close()
    throw new ConfigError(`cannot listen on ${config.host}:${config.port} (port option LEAKGATE_CP_PORT, --port): ${(err as Error).message}`, { cause: err })
  }

  let closing = false
  const shutdown = (signal: string): void => {
    if (closing) return
    closing = true
    app.log.info({ signal }, 'closing')
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        app.log.error({ err }, 'close failed')
        process.exit(1)
      },
    )
  }
  process.once('SIGTERM', () => shutdown('SIGTERM'))
  process.once('SIGINT', () => shutdown('SIGINT'))
  return -1
}

/**
 * `leakgate control-plane`: load the configuration, open the store, seed the keys given in the
 * environment, listen, and close cleanly on SIGTERM/SIGINT.
 */
import { ConfigError } from '../lib/errors.js'
import { buildControlPlane } from './app.js'
import { configFromArgs, storeOptionsOf } from './cli-config.js'
import { controlPlaneSchema } from './config.js'
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
  const config = configFromArgs('control-plane', argv, usage)
  if (typeof config === 'number') return config

  const store = await Store.openConfigured(config, storeOptionsOf(config))
  const seeded: string[] = []
  if (config.adminKey !== undefined) seeded.push(`admin ${await store.keys.seed(config.adminKey, 'admin', 'LEAKGATE_ADMIN_KEY')}`)
  if (config.nodeKey !== undefined) seeded.push(`node ${await store.keys.seed(config.nodeKey, 'node', 'LEAKGATE_NODE_KEY')}`)

  const app = await buildControlPlane(config, { store })
  if (seeded.length > 0) app.log.info({ keys: seeded }, 'seeded API keys from the environment')
  // A seeded key a person revoked stays revoked (keys.ts): say so rather than let its holder meet 401s.
  for (const [variable, key] of [['LEAKGATE_ADMIN_KEY', config.adminKey], ['LEAKGATE_NODE_KEY', config.nodeKey]] as const) {
    const checked = key === undefined ? undefined : await store.keys.check(key)
    if (checked !== undefined && 'refused' in checked) app.log.warn({ variable }, `${variable} is not usable (${checked.refused}): set a new key in it`)
  }
  if (await store.keys.count() === 0) {
    app.log.warn('no usable API key exists (none made, or every one revoked or expired): set LEAKGATE_ADMIN_KEY or run `leakgate keys create --role admin`')
  }
  try {
    await app.listen({ port: config.port, host: config.host })
  } catch (err) {
    await app.close()
    await store.close()
    throw new ConfigError(`cannot listen on ${config.host}:${config.port} (port option LEAKGATE_CP_PORT, --port): ${(err as Error).message}`, { cause: err })
  }

  let closing = false
  const shutdown = (signal: string): void => {
    if (closing) return
    closing = true
    app.log.info({ signal }, 'closing')
    // The store closes after the app: closing, the app ends its scans, which write their records.
    app.close().then(() => store.close()).then(
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

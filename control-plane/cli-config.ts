/**
 * The configuration of a command that runs on the control plane's options (`leakgate control-plane`,
 * `leakgate scan-worker`): every option's flag, `--config FILE` and `--help` parsed from argv, then
 * the file, the environment and the flags loaded in that order.
 */
import { parseArgs } from 'node:util'
import { controlPlaneSchema, hashKeyOf, loadControlPlaneConfig, type ControlPlaneConfig } from './config.js'
import type { StoreOptions } from './store/store.js'
import { usageMistake } from '../lib/usage.js'

/**
 * The loaded configuration, or the exit code once `--help` printed `usage()` (0) or a wrong flag was
 * reported with it (2).
 * @throws {ConfigError} naming each bad option, as loadControlPlaneConfig does.
 */
export function configFromArgs(command: string, argv: string[], usage: () => string, env: NodeJS.ProcessEnv = process.env): Readonly<ControlPlaneConfig> | number {
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' }, config: { type: 'string' } }
  for (const p of Object.values(controlPlaneSchema.properties)) {
    if (p['x-flag'] !== undefined) options[p['x-flag']] = { type: p.type === 'boolean' ? 'boolean' : 'string' }
  }
  let parsed
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: false })
  } catch (err) {
    console.error(usageMistake(command, (err as Error).message))
    return 2
  }
  if (parsed.values.help === true) {
    console.log(usage())
    return 0
  }
  const { config: file, help: _help, ...flags } = parsed.values
  return loadControlPlaneConfig({ file: typeof file === 'string' ? file : undefined, env, flags })
}

/** What the store is opened with, from the configuration (both commands open the same store). */
export function storeOptionsOf(config: Readonly<ControlPlaneConfig>): StoreOptions {
  return {
    defaultAction: config.defaultAction,
    autoBlockRisk: config.autoBlockRisk,
    sightingsKeptPerLeak: config.limits.sightingsKeptPerLeak,
    changesRetention: config.changesRetention,
    hashKey: { key: hashKeyOf(config) },
  }
}

/**
 * The frame of a `leakgate <name> <command>` that works on the store itself (`keys`, `sessions`): the
 * options parsed, `--help`, the command checked and its arguments planned before anything is opened (a
 * mistake is one line and exit 2, nothing changed), then the store the control plane's configuration
 * names opened, the command run (a refusal of the store's is one line and exit 1) and the store closed.
 */
import { parseArgs } from 'node:util'
import { loadControlPlaneConfig } from './config.js'
import { Store } from './store/store.js'
import { isLeakgateError } from '../lib/errors.js'
import { usageMistake } from '../lib/usage.js'

/** A mistake in the command line, found while planning: printed as one line, exit 2, nothing changed. */
export class CommandMistake extends Error {}

/** The parsed options, by name. */
export type CommandValues = Record<string, string | boolean | undefined>

/** What a command does with the store; `where` names the store for the operator (a path, or the database). */
export type StoreRun = (store: Store, where: string) => Promise<void>

/** The options every store command takes: where the store is, and help. */
export const STORE_OPTIONS = ['data-dir', 'database-url', 'config', 'help'] as const

/** One store command group. */
export interface StoreCommand<C extends string> {
  /** `keys`, `sessions`: the word after `leakgate`. */
  name: string
  usage: string
  commands: readonly C[]
  /** The group's own options, beside `STORE_OPTIONS`. */
  options: Record<string, { type: 'string' | 'boolean' }>
  /** Checks `command`'s arguments and answers what it does; throws a `CommandMistake`. */
  plan: (command: C, args: string[], values: CommandValues) => StoreRun
}

/** Runs `leakgate <spec.name> ...argv`; answers the exit code. */
export async function runStoreCommand<C extends string>(spec: StoreCommand<C>, argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        ...spec.options,
        'data-dir': { type: 'string' },
        'database-url': { type: 'string' },
        config: { type: 'string' },
        help: { type: 'boolean' },
      },
      allowPositionals: true,
      strict: true,
    })
  } catch (err) {
    console.error(usageMistake(spec.name, (err as Error).message))
    return 2
  }
  const values = parsed.values as CommandValues
  if (values.help === true) {
    console.log(spec.usage)
    return 0
  }
  const [command, ...args] = parsed.positionals
  if (command === undefined || !(spec.commands as readonly string[]).includes(command)) {
    console.error(usageMistake(spec.name, `expected a command: ${spec.commands.join(', ')}${command === undefined ? '' : `; got "${command}"`}`))
    return 2
  }
  let run: StoreRun
  try {
    run = spec.plan(command as C, args, values)
  } catch (err) {
    if (!(err instanceof CommandMistake)) throw err
    console.error(`leakgate ${spec.name} ${command}: ${err.message}`)
    return 2
  }
  // The control plane's own loader, so the command works on the store the control plane opens: the
  // same file, env and flags, with the same precedence and the same errors.
  const config = loadControlPlaneConfig({
    file: values.config as string | undefined,
    env: process.env,
    flags: { 'data-dir': values['data-dir'] as string | undefined, 'database-url': values['database-url'] as string | undefined },
  })
  // No hash key: keys and sessions are stored as plain SHA-256s, and opening with one could convert the
  // store's leak hashes, which is the control plane's work.
  const store = await Store.openConfigured(config)
  try {
    await run(store, storeName(config))
  } catch (err) {
    // The store's refusals (no such key or session, an ambiguous id, the last admin key) are the
    // operator's to act on: one line, as the API's problem detail says it.
    if (!isLeakgateError(err)) throw err
    console.error(`leakgate ${spec.name} ${command}: ${err.message}`)
    return 1
  } finally {
    await store.close()
  }
  return 0
}

/** Where the store is, for the operator: the data directory, or the database without its password. */
function storeName(where: { dataDir: string; databaseUrl?: string | undefined }): string {
  if (where.databaseUrl === undefined) return where.dataDir
  const url = new URL(where.databaseUrl)
  url.password = ''
  return url.toString()
}

/**
 * `leakgate keys create --role admin|analyst|node|issuer|checker`: makes an API key, stores its hash in the control
 * plane's store (SQLite or PostgreSQL, found as the control plane finds it), and prints the key once.
 * It cannot be shown again.
 */
import { parseArgs } from 'node:util'
import { loadControlPlaneConfig } from './config.js'
import { Store } from './store/store.js'
import { ROLES, generateKey, type Role } from './store/keys.js'
import { usageMistake } from '../lib/usage.js'

const USAGE = `usage: leakgate keys create --role admin|analyst|node|issuer|checker [--label TEXT]
                             [--database-url URL | --data-dir DIR] [--config FILE]

Makes an API key, stores only its SHA-256 in the control plane's store, and prints the key once on
standard output. Roles: admin (everything), analyst (read only), node (sync, heartbeat, sightings),
issuer (the credential issuer's system: reads the leaks it is asked to rotate and confirms their
rotation), checker (range checks only).

The store is found as the control plane finds it: PostgreSQL when databaseUrl is set (--database-url,
LEAKGATE_DATABASE_URL, or the --config file), otherwise the SQLite file of dataDir (--data-dir,
LEAKGATE_DATA_DIR, the --config file, default ./data).`

/** Runs `leakgate keys ...`; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        role: { type: 'string' },
        label: { type: 'string' },
        'data-dir': { type: 'string' },
        'database-url': { type: 'string' },
        config: { type: 'string' },
        help: { type: 'boolean' },
      },
      allowPositionals: true,
      strict: true,
    })
  } catch (err) {
    console.error(usageMistake('keys', (err as Error).message))
    return 2
  }
  if (parsed.values.help === true) {
    console.log(USAGE)
    return 0
  }
  const [command, ...extra] = parsed.positionals
  if (command !== 'create' || extra.length > 0) {
    console.error(usageMistake('keys', 'expected the command "create"'))
    return 2
  }
  const role = parsed.values.role
  if (role === undefined || !(ROLES as readonly string[]).includes(role)) {
    console.error(`leakgate keys create: --role must be one of ${ROLES.join(', ')}${role === undefined ? '' : `, got "${role}"`}`)
    return 2
  }
  const label = parsed.values.label
  if (label !== undefined && (label.length > 200 || /[\u0000-\u001f\u007f]/.test(label))) {
    console.error('leakgate keys create: --label must be at most 200 characters without control characters')
    return 2
  }
  // The control plane's own loader, so the key lands in the store the control plane opens: the same
  // file, env and flags, with the same precedence and the same errors.
  const config = loadControlPlaneConfig({
    file: parsed.values.config,
    env: process.env,
    flags: { 'data-dir': parsed.values['data-dir'], 'database-url': parsed.values['database-url'] },
  })
  // No hash key: API keys are stored as plain SHA-256s, and opening with one could convert the store's
  // leak hashes, which is the control plane's work.
  const store = await Store.openConfigured(config)
  try {
    const key = generateKey()
    const keyId = await store.keys.add(key, role as Role, label)
    console.log(key)
    console.error(`created ${role} key ${keyId} in ${storeName(config)}; it is shown only this once`)
  } finally {
    await store.close()
  }
  return 0
}

/** Where the key went, for the operator: the data directory, or the database without its password. */
function storeName(where: { dataDir: string; databaseUrl?: string | undefined }): string {
  if (where.databaseUrl === undefined) return where.dataDir
  const url = new URL(where.databaseUrl)
  url.password = ''
  return url.toString()
}

/**
 * `leakgate keys create --role admin|analyst|node|issuer [--data-dir DIR]`: makes an API key, stores its
 * hash in the control plane's store, and prints the key once. It cannot be shown again.
 */
import { parseArgs } from 'node:util'
import { Store } from './store/store.js'
import { ROLES, generateKey, type Role } from './store/keys.js'

const USAGE = `usage: leakgate keys create --role admin|analyst|node|issuer [--data-dir DIR] [--label TEXT]

Makes an API key, stores only its SHA-256 in the store (DIR, default LEAKGATE_DATA_DIR or ./data),
and prints the key once on standard output. Roles: admin (everything), analyst (read only),
node (sync, heartbeat, sightings), issuer (the credential issuer's system: reads the leaks it is
asked to rotate and confirms their rotation).`

/** Runs `leakgate keys ...`; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      options: { role: { type: 'string' }, 'data-dir': { type: 'string' }, label: { type: 'string' }, help: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    })
  } catch (err) {
    console.error(`leakgate keys: ${(err as Error).message}\n\n${USAGE}`)
    return 2
  }
  if (parsed.values.help === true) {
    console.log(USAGE)
    return 0
  }
  const [command, ...extra] = parsed.positionals
  if (command !== 'create' || extra.length > 0) {
    console.error(`leakgate keys: expected the command "create"\n\n${USAGE}`)
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
  const dataDir = parsed.values['data-dir'] ?? (process.env.LEAKGATE_DATA_DIR || './data')
  const store = await Store.open(dataDir)
  try {
    const key = generateKey()
    const keyId = await store.keys.add(key, role as Role, label)
    console.log(key)
    console.error(`created ${role} key ${keyId} in ${dataDir}; it is shown only this once`)
  } finally {
    await store.close()
  }
  return 0
}

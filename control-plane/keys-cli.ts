/**
 * `leakgate keys create|list|revoke|rotate`: API keys in the control plane's store (SQLite or
 * PostgreSQL, found as the control plane finds it). A key is printed once, when made; only its
 * SHA-256 is kept.
 */
import { CommandMistake, STORE_OPTIONS, runStoreCommand, type CommandValues, type StoreRun } from './store-command.js'
import { KEY_NAME_MAX, KEY_OWNER_MAX, MAX_OVERLAP_SECONDS, ROLES, type KeyInfo, type KeyOptions, type Role } from './store/keys.js'
import { isPlainText } from '../lib/text.js'

const USAGE = `usage: leakgate keys create --role admin|analyst|node|issuer|checker [--name TEXT] [--owner PERSON]
                            [--expires-in 90d | --expires-at ISO-TIME]
       leakgate keys list [--json]
       leakgate keys revoke KEY_ID
       leakgate keys rotate KEY_ID [--overlap 1h]
       each with [--database-url URL | --data-dir DIR] [--config FILE]

create   makes an API key, stores only its SHA-256 in the control plane's store, and prints the key
         once on standard output. Roles: admin (everything), analyst (read only), node (sync,
         heartbeat, sightings), issuer (the credential issuer's system: reads the leaks it is asked to
         rotate and confirms their rotation), checker (range checks only). --name says what the key is
         for; --owner names the person answerable for it (an email, say): the audit trail names them,
         "alice@example.com via key_c29bf0b9". --expires-in takes a number and s, m, h, d or w.
list     every key, newest first: id, name, owner, role, made, expiry, last use (written at most
         once a minute), state (active, retiring, revoked, expired). Revoked keys stay listed, so the
         key ids the audit names keep meaning. --json prints the list as JSON.
revoke   the key stops working at once. The last admin key that works cannot be revoked.
rotate   makes a key of the same role, name, owner and lifetime, prints it once, and revokes the old
         one, at once or after --overlap (at most 7d) during which both work.
KEY_ID is key_ and 8 hex characters, as listed; when two keys share one, the error gives longer ids.

The store is found as the control plane finds it: PostgreSQL when databaseUrl is set (--database-url,
LEAKGATE_DATABASE_URL, or the --config file), otherwise the SQLite file of dataDir (--data-dir,
LEAKGATE_DATA_DIR, the --config file, default ./data).`

const COMMANDS = ['create', 'list', 'revoke', 'rotate'] as const
/** Who revoked a key, as `revokedBy` lists it: the command works on the store, without a key of its own. */
const CLI_ACTOR = 'leakgate keys'


/** Seconds in a duration written as a number and a unit (`90d`, `12h`, `30m`, `45s`, `2w`). */
export function parseDuration(text: string, option: string): number {
  const match = /^(\d{1,6})([smhdw])$/.exec(text)
  if (match?.[1] === undefined || match[2] === undefined) throw new CommandMistake(`${option} takes a number and a unit (s, m, h, d or w), as 90d or 12h; got "${text}"`)
  const unit = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }[match[2] as 's']
  return Number(match[1]) * unit
}

/** Runs `leakgate keys ...`; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  return runStoreCommand({ name: 'keys', usage: USAGE, commands: COMMANDS, options: {
    role: { type: 'string' }, label: { type: 'string' }, name: { type: 'string' }, owner: { type: 'string' },
    'expires-in': { type: 'string' }, 'expires-at': { type: 'string' }, overlap: { type: 'string' }, json: { type: 'boolean' },
  }, plan }, argv)
}

type Run = StoreRun

/** Checks the arguments of `command` and answers what it does with the store; throws a Mistake. */
function plan(command: (typeof COMMANDS)[number], args: string[], values: CommandValues): Run {
  const allowed: Record<typeof command, string[]> = {
    create: ['role', 'label', 'name', 'owner', 'expires-in', 'expires-at'],
    list: ['json'],
    revoke: [],
    rotate: ['overlap'],
  }
  for (const [option, value] of Object.entries(values)) {
    if (value === undefined || (STORE_OPTIONS as readonly string[]).includes(option)) continue
    if (!allowed[command].includes(option)) throw new CommandMistake(`--${option} is not an option of ${command}`)
  }
  if (command === 'create') {
    if (args.length > 0) throw new CommandMistake(`unexpected argument "${args[0]}"`)
    return create(values)
  }
  if (command === 'list') {
    if (args.length > 0) throw new CommandMistake(`unexpected argument "${args[0]}"`)
    return async (store) => {
      const keys = await store.keys.list()
      console.log(values.json === true ? JSON.stringify(keys, null, 2) : table(keys))
    }
  }
  const [keyId, ...extra] = args
  if (keyId === undefined) throw new CommandMistake('give the key id (key_ and 8 hex characters, as leakgate keys list shows it)')
  if (extra.length > 0) throw new CommandMistake(`one key id at a time; unexpected "${extra[0]}"`)
  if (!/^key_[0-9a-f]{8,64}$/.test(keyId)) throw new CommandMistake(`"${keyId}" is not a key id: key ids are key_ and 8 hex characters, as leakgate keys list shows them`)
  if (command === 'revoke') {
    return async (store) => {
      const key = await store.keys.revoke(keyId, CLI_ACTOR)
      console.log(`revoked ${key.role} key ${key.keyId}${key.name === null ? '' : ` (${key.name})`} at ${key.revokedAt ?? ''}`)
    }
  }
  const overlap = typeof values.overlap === 'string' ? parseDuration(values.overlap, '--overlap') : 0
  if (overlap > MAX_OVERLAP_SECONDS) throw new CommandMistake('--overlap may be at most 7d')
  return async (store, where) => {
    const made = await store.keys.rotate(keyId, overlap, CLI_ACTOR)
    console.log(made.key)
    console.error(`made ${made.role} key ${made.keyId} in ${where}, shown only this once; ${made.replaced.keyId} ${overlap === 0 ? 'is revoked' : `keeps working until ${made.replaced.revokedAt ?? ''}`}`)
  }
}

function create(values: CommandValues): Run {
  const role = values.role
  if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
    throw new CommandMistake(`--role must be one of ${ROLES.join(', ')}${typeof role === 'string' ? `, got "${role}"` : ''}`)
  }
  const text = (option: string, max: number): string | undefined => {
    const value = values[option]
    if (typeof value !== 'string') return undefined
    if (value.length === 0 || value.length > max || !isPlainText(value)) throw new CommandMistake(`--${option} must be 1 to ${max} characters of one line, without control characters`)
    return value
  }
  const label = text('label', 200)
  const name = text('name', KEY_NAME_MAX)
  const owner = text('owner', KEY_OWNER_MAX)
  const options: KeyOptions = { name: name ?? label, owner }
  if (typeof values['expires-in'] === 'string' && typeof values['expires-at'] === 'string') throw new CommandMistake('give --expires-in or --expires-at, not both')
  if (typeof values['expires-in'] === 'string') {
    const seconds = parseDuration(values['expires-in'], '--expires-in')
    if (seconds === 0) throw new CommandMistake('--expires-in must be more than 0')
    options.expiresAt = new Date(Date.now() + seconds * 1000).toISOString()
  }
  if (typeof values['expires-at'] === 'string') {
    const at = values['expires-at']
    // A date and a time with its zone: a bare date, or a time without a zone, would mean a different
    // moment on each operator's machine.
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(at) || Number.isNaN(Date.parse(at))) {
      throw new CommandMistake(`--expires-at takes an ISO time with its zone, as 2027-03-01T00:00:00Z; got "${at}"`)
    }
    if (Date.parse(at) <= Date.now()) throw new CommandMistake(`--expires-at ${at} is not in the future`)
    options.expiresAt = new Date(Date.parse(at)).toISOString()
  }
  return async (store, where) => {
    const made = await store.keys.create(role as Role, options)
    console.log(made.key)
    console.error(`created ${role} key ${made.keyId} in ${where}${made.expiresAt === null ? '' : `, expiring ${made.expiresAt}`}; it is shown only this once`)
  }
}

/** The keys as an aligned table for a terminal. */
function table(keys: KeyInfo[]): string {
  if (keys.length === 0) return 'no API key yet: leakgate keys create --role admin'
  const time = (iso: string | null): string => (iso === null ? '-' : `${iso.slice(0, 16).replace('T', ' ')}Z`)
  const rows = [
    ['ID', 'NAME', 'OWNER', 'ROLE', 'CREATED', 'EXPIRES', 'LAST USED', 'STATE'],
    ...keys.map((k) => [k.keyId, k.name ?? '-', k.owner ?? '-', k.role, time(k.createdAt), time(k.expiresAt), time(k.lastUsedAt),
      k.state === 'retiring' ? `retiring (until ${time(k.revokedAt)})` : k.state]),
  ]
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? []
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')).join('\n')
}

/**
 * `leakgate sessions list|end`: console sessions of people signed in through OpenID Connect, in the
 * control plane's store (SQLite or PostgreSQL, found as the control plane finds it). Listing shows
 * session ids, never tokens; ending one stops it at once, on every replica (they read the store).
 */
import { CommandMistake, STORE_OPTIONS, runStoreCommand, type CommandValues, type StoreRun } from './store-command.js'
import { PERSON_MAX, type SessionInfo } from './store/sessions.js'
import { isPlainText } from '../lib/text.js'

const USAGE = `usage: leakgate sessions list [--person PERSON] [--json]
       leakgate sessions end --person PERSON
       leakgate sessions end SESSION_ID
       each with [--database-url URL | --data-dir DIR] [--config FILE]

list     the console sessions, newest first: id, person, role, started, expiry, last use (written at
         most once a minute), state (active, ended, expired), and who ended it. Ended and expired
         sessions stay listed until their expiry passes and the control plane removes them.
         --person lists one person's (without case, as emails are compared); --json prints JSON.
end      ends sessions now: every session of --person, with their sign-ins under way, or the one
         SESSION_ID names (session_ and 8 hex characters, as listed). Their next request gets 401.
         Ending does not keep a person out: take away their role at the OpenID Connect provider (or
         in oidc.roles) first, or they can sign in again.

The store is found as the control plane finds it: PostgreSQL when databaseUrl is set (--database-url,
LEAKGATE_DATABASE_URL, or the --config file), otherwise the SQLite file of dataDir (--data-dir,
LEAKGATE_DATA_DIR, the --config file, default ./data).`

const COMMANDS = ['list', 'end'] as const
/** Who ended a session, as `endedBy` lists it: the command works on the store, without a key of its own. */
const CLI_ACTOR = 'leakgate sessions'


/** Runs `leakgate sessions ...`; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  return runStoreCommand({ name: 'sessions', usage: USAGE, commands: COMMANDS, options: {
    person: { type: 'string' }, json: { type: 'boolean' },
  }, plan }, argv)
}

type Run = StoreRun

/** Checks the arguments of `command` and answers what it does with the store; throws a Mistake. */
function plan(command: (typeof COMMANDS)[number], args: string[], values: CommandValues): Run {
  const allowed: Record<typeof command, string[]> = { list: ['json', 'person'], end: ['person'] }
  for (const [option, value] of Object.entries(values)) {
    if (value === undefined || (STORE_OPTIONS as readonly string[]).includes(option)) continue
    if (!allowed[command].includes(option)) throw new CommandMistake(`--${option} is not an option of ${command}`)
  }
  const person = values.person
  if (typeof person === 'string' && (person.length === 0 || person.length > PERSON_MAX || !isPlainText(person))) {
    throw new CommandMistake(`--person must be 1 to ${PERSON_MAX} characters of one line, without control characters`)
  }
  if (command === 'list') {
    if (args.length > 0) throw new CommandMistake(`unexpected argument "${args[0]}"`)
    return async (store) => {
      const sessions = await store.sessions.list(typeof person === 'string' ? person : undefined)
      console.log(values.json === true ? JSON.stringify(sessions, null, 2) : table(sessions, typeof person === 'string' ? person : undefined))
    }
  }
  const [sessionId, ...extra] = args
  if (typeof person === 'string') {
    if (sessionId !== undefined) throw new CommandMistake('give --person or a session id, not both')
    return async (store) => {
      const ended = await store.sessions.endPerson(person, CLI_ACTOR)
      console.log(ended.length === 0
        ? `${person} had no live console session (nothing to end)`
        : `ended ${ended.length} console session${ended.length === 1 ? '' : 's'} of ${person}: ${ended.map((s) => s.id).join(', ')}`)
    }
  }
  if (sessionId === undefined) throw new CommandMistake('give --person PERSON (every session of theirs) or a session id (as leakgate sessions list shows it)')
  if (extra.length > 0) throw new CommandMistake(`one session id at a time; unexpected "${extra[0]}"`)
  if (!/^session_[0-9a-f]{8}$/.test(sessionId)) throw new CommandMistake(`"${sessionId}" is not a session id: session ids are session_ and 8 hex characters, as leakgate sessions list shows them`)
  return async (store) => {
    // A session ended before stays as it was: the line says when, and by whom.
    for (const s of await store.sessions.end(sessionId, CLI_ACTOR)) {
      console.log(`${s.role} session ${s.id} of ${s.person}: ended at ${s.endedAt ?? ''} by ${s.endedBy ?? 'nobody recorded'}`)
    }
  }
}

/** The sessions as an aligned table for a terminal. */
function table(sessions: SessionInfo[], person: string | undefined): string {
  if (sessions.length === 0) return person === undefined ? 'no console session' : `no console session of ${person}`
  const time = (iso: string | null): string => (iso === null ? '-' : `${iso.slice(0, 16).replace('T', ' ')}Z`)
  const rows = [
    ['ID', 'PERSON', 'ROLE', 'STARTED', 'EXPIRES', 'LAST USED', 'STATE'],
    ...sessions.map((s) => [s.id, s.person, s.role, time(s.createdAt), time(s.expiresAt), time(s.lastUsedAt),
      s.state === 'ended' ? `ended ${time(s.endedAt)}${s.endedBy === null ? '' : ` by ${s.endedBy}`}` : s.state]),
  ]
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? []
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')).join('\n')
}

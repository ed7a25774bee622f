/**
 * Console sessions of people signed in through OpenID Connect, and the sign-ins under way.
 *
 * A session starts at the provider's callback as a one-time handoff code (an HttpOnly cookie carries
 * it to the console page); the page redeems the code once, within two minutes, and only then is the
 * session's token (`lgs_` + 40 base62 characters) made and handed over, in a POST answer. Tokens and
 * codes are stored as SHA-256 only; a token is found by its session id (`session_` + the first 8 hex
 * characters of its hash, which the audit trail names) and compared in constant time, as API keys are.
 * Only the console's roles (admin, analyst) can hold a session. An admin ends a person's sessions
 * (`endPerson`, `end`) when they leave; sessions past their end are pruned on a timer (`prune`).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { NotFoundError } from '../../lib/errors.js'
import type { KeyCheck, Principal } from './keys.js'
import type { Sql } from './sql.js'

/** The roles a console session can have. */
export type SessionRole = 'admin' | 'analyst'

/** How long a handoff code may wait for the console page to redeem it. */
export const HANDOFF_SECONDS = 120

/** How long a sign-in may spend at the provider (its login form, consent) before the callback. */
export const LOGIN_SECONDS = 600

/** The longest person a session names (a sign-in's person claim may be no longer). */
export const PERSON_MAX = 320

/** The prefix of a session token, which tells it from an API key (`lgk_`). */
export const SESSION_PREFIX = 'lgs_'

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

/** A random `prefix` + 40 base62 characters (about 238 bits). */
function randomToken(prefix: string): string {
  let out = prefix
  while (out.length < prefix.length + 40) {
    for (const byte of randomBytes(64)) {
      // 248 = 4 × 62: rejecting larger bytes keeps every character equally likely.
      if (byte < 248 && out.length < prefix.length + 40) out += BASE62[byte % 62]
    }
  }
  return out
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest()
}

/** The session id of a token: `session_` + the first 8 hex characters of its SHA-256. */
export function sessionIdOf(token: string): string {
  return `session_${sha256(token).toString('hex').slice(0, 8)}`
}

/** A session handed to the console page: its token (shown once) and who it is. */
export interface IssuedSession {
  token: string
  principal: Principal & { person: string }
  expiresAt: string
}

/**
 * A session as listed: never its token or hash. `state`: `active`; `ended` (signed out, or ended by an
 * admin: `endedBy` says who); `expired` (past `expiresAt`, not yet pruned).
 */
export interface SessionInfo {
  /** `session_` + 8 hex characters, as the audit trail names the session. */
  id: string
  person: string
  role: SessionRole
  createdAt: string
  expiresAt: string
  /** Written at most once a minute a session, so it may lag by that much. */
  lastUsedAt: string | null
  endedAt: string | null
  /** Who ended it: the actor as the audit names callers, `leakgate sessions`, or the person signing out. */
  endedBy: string | null
  state: 'active' | 'ended' | 'expired'
}

interface SessionRow {
  id: number
  session_id: string | null
  token_hash: string | null
  person: string
  role: SessionRole
  created_at: string
  expires_at: string
  last_used_at: string | null
  revoked_at: string | null
  revoked_by: string | null
}

const COLUMNS = 'id, session_id, token_hash, person, role, created_at, expires_at, last_used_at, revoked_at, revoked_by'

/** How often a session's last use is written at most: the console calls every few seconds, and a write a request would cost. */
const LAST_USED_EVERY_MS = 60_000

/** The sessions and oidc_logins tables. */
export class SessionRepo {
  readonly #sql: Sql
  readonly #now: () => Date
  /** When this process last wrote each session's last use (by token hash), so a burst of requests writes once. */
  readonly #lastWritten = new Map<string, number>()
  readonly #pending = new Set<Promise<void>>()

  constructor(sql: Sql, now: () => Date = () => new Date()) {
    this.#sql = sql
    this.#now = now
  }

  /**
   * Keeps a sign-in under `state` until the callback takes it (at most LOGIN_SECONDS). `login` is the
   * browser's cookie (its state, nonce and PKCE verifier): only its hash is kept, so the store holds no
   * secret of a sign-in, and only the browser that began it can finish it.
   */
  async beginLogin(state: string, login: string): Promise<void> {
    const now = this.#now()
    await this.#sql.transaction(async () => {
      // Sign-ins abandoned at the provider are dropped as new ones begin.
      await this.#sql.run('DELETE FROM oidc_logins WHERE expires_at < ?', [now.toISOString()])
      await this.#sql.run('INSERT INTO oidc_logins (state_hash, login_hash, expires_at) VALUES (?, ?, ?)', [
        sha256(state).toString('hex'), sha256(login).toString('hex'), new Date(now.getTime() + LOGIN_SECONDS * 1000).toISOString(),
      ])
    })
  }

  /**
   * Takes (and forgets) the sign-in begun under `state`: true when it was begun with this `login`
   * cookie, is not too old, and was not taken before.
   */
  async takeLogin(state: string, login: string): Promise<boolean> {
    const hash = sha256(state).toString('hex')
    return this.#sql.transaction(async () => {
      const row = await this.#sql.get<{ login_hash: string; expires_at: string }>('SELECT login_hash, expires_at FROM oidc_logins WHERE state_hash = ?', [hash])
      if (row === undefined) return false
      await this.#sql.run('DELETE FROM oidc_logins WHERE state_hash = ?', [hash])
      return row.expires_at >= this.#now().toISOString() && timingSafeEqual(Buffer.from(row.login_hash, 'hex'), sha256(login))
    })
  }

  /**
   * Starts a session of `person` with `role` for `lifetimeSeconds`, and answers the one-time code the
   * console page redeems for its token (`redeem`).
   */
  async start(person: string, role: SessionRole, lifetimeSeconds: number): Promise<string> {
    const code = randomToken('lgh_')
    const now = this.#now()
    await this.#sql.transaction(async () => {
      // Sessions past their end, and handoffs never redeemed, are dropped as new ones start.
      await this.#sql.run('DELETE FROM sessions WHERE expires_at < ? OR (token_hash IS NULL AND handoff_expires_at < ?)', [now.toISOString(), now.toISOString()])
      await this.#sql.run(`
        INSERT INTO sessions (handoff_hash, handoff_expires_at, person, role, created_at, expires_at)
        VALUES (?, ?, ?, ?, ?, ?)`, [
        sha256(code).toString('hex'), new Date(now.getTime() + HANDOFF_SECONDS * 1000).toISOString(),
        person, role, now.toISOString(), new Date(now.getTime() + lifetimeSeconds * 1000).toISOString(),
      ])
    })
    return code
  }

  /** The session a handoff code stands for, with its new token; undefined when the code is unknown, used or too old. */
  async redeem(code: string): Promise<IssuedSession | undefined> {
    const hash = sha256(code).toString('hex')
    const now = this.#now().toISOString()
    return this.#sql.transaction(async () => {
      const row = await this.#sql.get<{ id: number; person: string; role: SessionRole; expires_at: string; handoff_expires_at: string }>(
        'SELECT id, person, role, expires_at, handoff_expires_at FROM sessions WHERE handoff_hash = ? AND token_hash IS NULL AND revoked_at IS NULL', [hash])
      if (row === undefined || row.handoff_expires_at < now || row.expires_at < now) return undefined
      const token = randomToken(SESSION_PREFIX)
      const digest = sha256(token).toString('hex')
      const sessionId = `session_${digest.slice(0, 8)}`
      await this.#sql.run('UPDATE sessions SET token_hash = ?, session_id = ?, handoff_hash = NULL, handoff_expires_at = NULL WHERE id = ?', [digest, sessionId, row.id])
      return { token, principal: { keyId: sessionId, role: row.role, person: row.person }, expiresAt: row.expires_at }
    })
  }

  /**
   * Checks a presented session token: its principal, or why it is refused (ended, expired, unknown: a
   * session past its end may already be pruned). A live session's last use is written at most once a
   * minute, after the answer, as an API key's is.
   */
  async check(token: string): Promise<KeyCheck> {
    if (!token.startsWith(SESSION_PREFIX)) return undefined
    const digest = sha256(token)
    const sessionId = `session_${digest.toString('hex').slice(0, 8)}`
    const now = this.#now()
    let found: SessionRow | undefined
    for (const row of await this.#sql.all<SessionRow>(`SELECT ${COLUMNS} FROM sessions WHERE session_id = ?`, [sessionId])) {
      if (row.token_hash !== null && timingSafeEqual(Buffer.from(row.token_hash, 'hex'), digest)) found = row
    }
    if (found === undefined) return { refused: `this console session (${sessionId}) is not known (it expired and was removed, or never was); sign in again` }
    if (found.revoked_at !== null) return { refused: `this console session (${sessionId}) was ended at ${found.revoked_at}; sign in again` }
    if (found.expires_at <= now.toISOString()) return { refused: `this console session (${sessionId}) expired at ${found.expires_at}; sign in again` }
    // The role is checked again here, not only by the table: a session is never anything but the console's.
    if (found.role !== 'admin' && found.role !== 'analyst') return undefined
    this.#touch(found, now.getTime())
    return { principal: { keyId: sessionId, role: found.role, person: found.person } }
  }

  /** The principal of a presented session token, or undefined when it is unknown, ended or expired. */
  async verify(token: string): Promise<Principal | undefined> {
    const checked = await this.check(token)
    return checked !== undefined && 'principal' in checked ? checked.principal : undefined
  }

  /** Ends the session of `token` (signing out), recording `by`; true when there was a live one. */
  async revoke(token: string, by?: string): Promise<boolean> {
    const principal = await this.verify(token)
    if (principal === undefined) return false
    const { changes } = await this.#sql.run('UPDATE sessions SET revoked_at = ?, revoked_by = ? WHERE token_hash = ? AND revoked_at IS NULL',
      [this.#now().toISOString(), by ?? principal.person ?? null, sha256(token).toString('hex')])
    return changes > 0
  }

  /**
   * The sessions not yet pruned (live, ended, or expired since the last prune), newest first; of
   * `person` only (without case, as emails are compared) when given. Sign-ins whose page has not yet
   * taken its token are not sessions yet and are not listed.
   */
  async list(person?: string): Promise<SessionInfo[]> {
    const rows = person === undefined
      ? await this.#sql.all<SessionRow>(`SELECT ${COLUMNS} FROM sessions WHERE session_id IS NOT NULL ORDER BY created_at DESC, id DESC`)
      : await this.#sql.all<SessionRow>(`SELECT ${COLUMNS} FROM sessions WHERE session_id IS NOT NULL AND lower(person) = lower(?) ORDER BY created_at DESC, id DESC`, [person])
    return rows.map((row) => this.#info(row))
  }

  /**
   * Ends the session `sessionId` names now, recording `by` (who); answers it as it is after (several,
   * in the unlikely case that two sessions share the id's 8 hex characters: both end). Ending an ended
   * session changes nothing.
   * @throws {NotFoundError} no session has that id (or it expired and was pruned).
   */
  async end(sessionId: string, by: string): Promise<SessionInfo[]> {
    return this.#sql.transaction(async () => {
      const rows = await this.#sql.all<SessionRow>(`SELECT ${COLUMNS} FROM sessions WHERE session_id = ? ORDER BY id`, [sessionId])
      if (rows.length === 0) throw new NotFoundError(`there is no session ${sessionId} (leakgate sessions list shows them; an expired session is removed)`)
      const at = this.#now().toISOString()
      await this.#sql.run('UPDATE sessions SET revoked_at = ?, revoked_by = ? WHERE session_id = ? AND revoked_at IS NULL', [at, by, sessionId])
      return rows.map((row) => this.#info(row.revoked_at === null ? { ...row, revoked_at: at, revoked_by: by } : row))
    })
  }

  /**
   * Ends every live session of `person` (without case), and their sign-ins whose token is not yet
   * taken (which would otherwise become a session within two minutes), recording `by`; answers the
   * sessions ended (not those ended before, nor the sign-ins under way).
   */
  async endPerson(person: string, by: string): Promise<SessionInfo[]> {
    return this.#sql.transaction(async () => {
      const at = this.#now().toISOString()
      const live = await this.#sql.all<SessionRow>(`SELECT ${COLUMNS} FROM sessions WHERE lower(person) = lower(?) AND revoked_at IS NULL ORDER BY created_at DESC, id DESC`, [person])
      await this.#sql.run('UPDATE sessions SET revoked_at = ?, revoked_by = ? WHERE lower(person) = lower(?) AND revoked_at IS NULL', [at, by, person])
      return live.filter((row) => row.session_id !== null && row.expires_at > at).map((row) => this.#info({ ...row, revoked_at: at, revoked_by: by }))
    })
  }

  /**
   * Removes sessions past their end (ended ones too, once their end has passed: until then they stay
   * listed, saying who ended them), handoffs never redeemed, and sign-ins abandoned at the provider;
   * how many rows went. The control plane calls it on a timer; starting a session does it too.
   */
  async prune(): Promise<number> {
    const now = this.#now().toISOString()
    return this.#sql.transaction(async () => {
      const sessions = await this.#sql.run('DELETE FROM sessions WHERE expires_at < ? OR (token_hash IS NULL AND handoff_expires_at < ?)', [now, now])
      const logins = await this.#sql.run('DELETE FROM oidc_logins WHERE expires_at < ?', [now])
      return sessions.changes + logins.changes
    })
  }

  /** Resolves once the last-use writes started so far are done (the store waits for them before closing). */
  async settled(): Promise<void> {
    await Promise.all([...this.#pending])
  }

  /** Writes the session's last use unless it (here, or by another replica: the row says) was written less than a minute ago. */
  #touch(row: SessionRow, now: number): void {
    const since = now - LAST_USED_EVERY_MS
    const key = row.token_hash ?? ''
    if ((this.#lastWritten.get(key) ?? -Infinity) > since) return
    if (row.last_used_at !== null && Date.parse(row.last_used_at) > since) return
    this.#lastWritten.set(key, now)
    // The map would otherwise grow with every session this process ever saw.
    if (this.#lastWritten.size > 10_000) this.#lastWritten.clear()
    const at = new Date(now).toISOString()
    // Not awaited, as for keys: a failed write loses one last-use time, which a request after a minute writes again.
    const write = this.#sql.run('UPDATE sessions SET last_used_at = ? WHERE token_hash = ? AND (last_used_at IS NULL OR last_used_at < ?)', [at, key, at])
      .then(() => undefined, () => { this.#lastWritten.delete(key) })
    this.#pending.add(write)
    void write.finally(() => this.#pending.delete(write))
  }

  #info(row: SessionRow): SessionInfo {
    const now = this.#now().toISOString()
    return {
      id: row.session_id ?? '',
      person: row.person,
      role: row.role,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      lastUsedAt: row.last_used_at,
      endedAt: row.revoked_at,
      endedBy: row.revoked_by,
      state: row.revoked_at !== null ? 'ended' : row.expires_at <= now ? 'expired' : 'active',
    }
  }
}

/**
 * Console sessions of people signed in through OpenID Connect, and the sign-ins under way.
 *
 * A session starts at the provider's callback as a one-time handoff code (an HttpOnly cookie carries
 * it to the console page); the page redeems the code once, within two minutes, and only then is the
 * session's token (`lgs_` + 40 base62 characters) made and handed over, in a POST answer. Tokens and
 * codes are stored as SHA-256 only; a token is found by its session id (`session_` + the first 8 hex
 * characters of its hash, which the audit trail names) and compared in constant time, as API keys are.
 * Only the console's roles (admin, analyst) can hold a session.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Principal } from './keys.js'
import type { Sql } from './sql.js'

/** The roles a console session can have. */
export type SessionRole = 'admin' | 'analyst'

/** How long a handoff code may wait for the console page to redeem it. */
export const HANDOFF_SECONDS = 120

/** How long a sign-in may spend at the provider (its login form, consent) before the callback. */
export const LOGIN_SECONDS = 600

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

/** The sessions and oidc_logins tables. */
export class SessionRepo {
  readonly #sql: Sql
  readonly #now: () => Date

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

  /** The principal of a presented session token, or undefined when it is unknown, ended or revoked. */
  async verify(token: string): Promise<Principal | undefined> {
    if (!token.startsWith(SESSION_PREFIX)) return undefined
    const digest = sha256(token)
    const sessionId = `session_${digest.toString('hex').slice(0, 8)}`
    const now = this.#now().toISOString()
    let found: Principal | undefined
    const rows = await this.#sql.all<{ token_hash: string; role: SessionRole; person: string; expires_at: string; revoked_at: string | null }>(
      'SELECT token_hash, role, person, expires_at, revoked_at FROM sessions WHERE session_id = ?', [sessionId])
    for (const row of rows) {
      const match = timingSafeEqual(Buffer.from(row.token_hash, 'hex'), digest)
      // The role is checked again here, not only by the table: a session is never anything but the console's.
      if (match && row.revoked_at === null && row.expires_at > now && (row.role === 'admin' || row.role === 'analyst')) {
        found = { keyId: sessionId, role: row.role, person: row.person }
      }
    }
    return found
  }

  /** Ends the session of `token` (signing out); true when there was a live one. */
  async revoke(token: string): Promise<boolean> {
    const principal = await this.verify(token)
    if (principal === undefined) return false
    const { changes } = await this.#sql.run('UPDATE sessions SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL',
      [this.#now().toISOString(), sha256(token).toString('hex')])
    return changes > 0
  }

  /** Ends every live session of `person` (for an operator removing someone); how many were ended. */
  async revokePerson(person: string): Promise<number> {
    const { changes } = await this.#sql.run('UPDATE sessions SET revoked_at = ? WHERE person = ? AND revoked_at IS NULL', [this.#now().toISOString(), person])
    return changes
  }
}

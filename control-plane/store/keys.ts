/**
 * API keys: made here, stored as SHA-256 only (with a key id, `key_` + the first 8 hex characters of
 * that hash, which audit entries name), and checked in constant time. A key may have a name, an owner
 * (the person the audit names for it), an expiry; it is revoked rather than deleted, so the key ids
 * of the audit trail keep naming a listed key.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { AmbiguousKeyIdError, KeyRevokedError, LastAdminKeyError, NotFoundError } from '../../lib/errors.js'
import type { Sql } from './sql.js'

/** The roles a key can have. */
export const ROLES = ['admin', 'analyst', 'node', 'issuer', 'checker'] as const
/** A key's role. */
export type Role = (typeof ROLES)[number]

/** Who a request's key belongs to. */
export interface Principal {
  keyId: string
  role: Role
  /** The person acting: a key's owner, or the person signed in to the console; absent for keys without one. */
  person?: string
}

/**
 * How the audit trail names a caller: the person and, for a key, which one (`alice@example.com via
 * key_c29bf0b9`), or the key id alone for a key nobody owns.
 */
export function actorOf(principal: Principal): string {
  return principal.person === undefined ? principal.keyId : `${principal.person} via ${principal.keyId}`
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

/** A new random key: `lgk_` + 40 base62 characters (about 238 bits). */
export function generateKey(): string {
  let out = 'lgk_'
  while (out.length < 44) {
    for (const byte of randomBytes(64)) {
      // 248 = 4 × 62: rejecting larger bytes keeps every character equally likely.
      if (byte < 248 && out.length < 44) out += BASE62[byte % 62]
    }
  }
  return out
}

function hashKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest()
}

/** The key id of a key: `key_` + the first 8 hex characters of its SHA-256. */
export function keyIdOf(key: string): string {
  return `key_${hashKey(key).toString('hex').slice(0, 8)}`
}

/** The longest key name. */
export const KEY_NAME_MAX = 100
/** The longest key owner (an email address is at most 254 characters). */
export const KEY_OWNER_MAX = 254
/** The longest a rotated key may keep working beside its replacement: 7 days. */
export const MAX_OVERLAP_SECONDS = 7 * 86_400

/** What a key may be made with besides its role. */
export interface KeyOptions {
  /** What the key is for ("edge-eu-1", "CI"); listed, never secret. */
  name?: string | undefined
  /** The person answerable for the key (an email, say): the audit names them for what the key does. */
  owner?: string | undefined
  /** When the key stops working (ISO time). */
  expiresAt?: string | undefined
}

/**
 * A key as listed: never its hash. `state`: `active`; `retiring` (rotated with an overlap: it works
 * until `revokedAt`); `revoked`; `expired`.
 */
export interface KeyInfo {
  keyId: string
  name: string | null
  owner: string | null
  role: Role
  createdAt: string
  expiresAt: string | null
  lastUsedAt: string | null
  revokedAt: string | null
  /** Who revoked it: the audit's actor, `leakgate keys`, or `env:<variable>` for a seeded key the variable replaced. */
  revokedBy: string | null
  state: 'active' | 'retiring' | 'revoked' | 'expired'
}

/** A key just made: the one time its value is at hand. */
export interface NewKey extends KeyInfo {
  key: string
}

/** The outcome of checking a presented key: its principal, or why a key we know is refused. */
export type KeyCheck = { principal: Principal } | { refused: string } | undefined

interface KeyRow {
  key_id: string
  hash: string
  role: Role
  label: string | null
  name: string | null
  owner: string | null
  created_at: string
  expires_at: string | null
  last_used_at: string | null
  revoked_at: string | null
  revoked_by: string | null
}

/** How often a key's last use is written at most: nodes call every few seconds, and a write a request would cost. */
const LAST_USED_EVERY_MS = 60_000

/** The longest id given to tell keys apart that share a key id (the hash's first characters say nothing useful about a key). */
const LONG_ID_HEX = 16

/** The api_keys table. */
export class KeyRepo {
  readonly #sql: Sql
  readonly #now: () => number
  /** When this process last wrote each key's last use (by hash), so a burst of requests writes once. */
  readonly #lastWritten = new Map<string, number>()
  readonly #pending = new Set<Promise<void>>()

  /** `now` is the clock (tests move it). */
  constructor(sql: Sql, now: () => number = Date.now) {
    this.#sql = sql
    this.#now = now
  }

  /** Stores `key` (hashed) with `role`; a key already stored takes the new role (a revoked one stays revoked). Returns its key id. */
  async add(key: string, role: Role, label?: string): Promise<string> {
    const keyId = keyIdOf(key)
    await this.#sql.run(`
      INSERT INTO api_keys (key_id, hash, role, label, created_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (hash) DO UPDATE SET role = excluded.role, label = coalesce(excluded.label, api_keys.label)`,
    [keyId, hashKey(key).toString('hex'), role, label ?? null, this.#iso()])
    return keyId
  }

  /** Makes a new key with `role` and `options`; the answer carries the key, which is not kept. */
  async create(role: Role, options: KeyOptions = {}): Promise<NewKey> {
    return this.#sql.transaction(async () => this.#insert(role, options))
  }

  async #insert(role: Role, options: KeyOptions): Promise<NewKey> {
    const key = generateKey()
    const hash = hashKey(key).toString('hex')
    await this.#sql.run(`
      INSERT INTO api_keys (key_id, hash, role, name, owner, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    [keyIdOf(key), hash, role, options.name ?? null, options.owner ?? null, this.#iso(), options.expiresAt ?? null])
    const row = await this.#sql.get<KeyRow>('SELECT * FROM api_keys WHERE hash = ?', [hash])
    if (row === undefined) throw new Error('a key just added is missing')
    return { key, ...this.#info(row) }
  }

  /**
   * Seeds a key from the environment under `label` (e.g. `LEAKGATE_ADMIN_KEY`), revoking the key a
   * previous start seeded under the same label: changing the variable rotates the key. A key the
   * variable replaced comes back when the variable does (replicas restarted with the old and the new
   * value during a rollout each keep working, as before revocation existed); a seeded key that a person
   * revoked stays revoked: restarting with a key that leaked must not bring it back.
   */
  async seed(key: string, role: Role, label: string): Promise<string> {
    const hash = hashKey(key).toString('hex')
    const now = this.#iso()
    return this.#sql.transaction(async () => {
      await this.#sql.run('UPDATE api_keys SET revoked_at = ?, revoked_by = ? WHERE label = ? AND hash <> ? AND (revoked_at IS NULL OR revoked_at > ?)',
        [now, `env:${label}`, label, hash, now])
      await this.#sql.run('UPDATE api_keys SET revoked_at = NULL, revoked_by = NULL WHERE hash = ? AND revoked_by = ?', [hash, `env:${label}`])
      return this.add(key, role, label)
    })
  }

  /** Every key, newest first, without hashes. */
  async list(): Promise<KeyInfo[]> {
    return (await this.#sql.all<KeyRow>('SELECT * FROM api_keys ORDER BY created_at DESC, key_id')).map((row) => this.#info(row))
  }

  /**
   * Revokes the key `keyId` names now, recording `by` (who); answers it as it is after. Revoking a
   * revoked key changes nothing.
   * @throws {NotFoundError} no key has that id.
   * @throws {AmbiguousKeyIdError} several keys share it: the detail gives longer ids that tell them apart.
   * @throws {LastAdminKeyError} it is the last admin key that is neither revoked nor expired.
   */
  async revoke(keyId: string, by: string): Promise<KeyInfo> {
    return this.#sql.transaction(async () => {
      const row = await this.#find(keyId)
      const now = this.#iso()
      if (row.revoked_at !== null && row.revoked_at <= now) {
        // A seeded key its variable replaced would come back with the variable: a person revoking it makes it final.
        if (row.revoked_by?.startsWith('env:') !== true) return this.#info(row)
        await this.#sql.run('UPDATE api_keys SET revoked_by = ? WHERE hash = ?', [by, row.hash])
        return this.#info({ ...row, revoked_by: by })
      }
      await this.#keepAnAdmin(row)
      await this.#sql.run('UPDATE api_keys SET revoked_at = ?, revoked_by = ? WHERE hash = ?', [now, by, row.hash])
      return this.#info({ ...row, revoked_at: now, revoked_by: by })
    })
  }

  /**
   * Replaces the key `keyId` names with a new one of the same role, name, owner and lifetime (a key
   * that expired 90 days after it was made is replaced by one that expires 90 days from now). The old
   * key is revoked now, or after `overlapSeconds` (it keeps working meanwhile, for the time it takes
   * to put the new key where the old one is used). `by`: who, recorded as the old key's revoker. The
   * answer carries the new key; `replaced` is the old.
   * @throws {NotFoundError} no key has that id. @throws {AmbiguousKeyIdError} several keys share it.
   * @throws {KeyRevokedError} the key is revoked already.
   */
  async rotate(keyId: string, overlapSeconds: number, by: string): Promise<NewKey & { replaced: KeyInfo }> {
    return this.#sql.transaction(async () => {
      const row = await this.#find(keyId)
      const now = this.#now()
      if (row.revoked_at !== null && Date.parse(row.revoked_at) <= now) {
        throw new KeyRevokedError(`${keyId} was revoked at ${row.revoked_at}; a revoked key cannot be rotated: create a new key (leakgate keys create)`)
      }
      const lifetime = row.expires_at === null ? undefined : Date.parse(row.expires_at) - Date.parse(row.created_at)
      const made = await this.#insert(row.role, {
        name: row.name ?? row.label ?? undefined,
        owner: row.owner ?? undefined,
        expiresAt: lifetime === undefined ? undefined : new Date(now + Math.max(lifetime, 0)).toISOString(),
      })
      const revokedAt = new Date(now + overlapSeconds * 1000).toISOString()
      // A key already retiring keeps its earlier end.
      const until = row.revoked_at !== null && row.revoked_at < revokedAt ? row.revoked_at : revokedAt
      const revoker = until === row.revoked_at ? row.revoked_by : by
      await this.#sql.run('UPDATE api_keys SET revoked_at = ?, revoked_by = ? WHERE hash = ?', [until, revoker, row.hash])
      return { ...made, replaced: this.#info({ ...row, revoked_at: until, revoked_by: revoker }) }
    })
  }

  /**
   * Checks a presented key. Rows are found by key id (a prefix of the hash, which says nothing useful
   * about the key), then the full hashes are compared in constant time. A revoked or expired key is
   * refused with the reason; a key nobody made answers undefined. A good key's last use is recorded at
   * most once a minute, after the answer: the request does not wait for that write.
   */
  async check(key: string): Promise<KeyCheck> {
    const digest = hashKey(key)
    const keyId = `key_${digest.toString('hex').slice(0, 8)}`
    let found: KeyRow | undefined
    for (const row of await this.#sql.all<KeyRow>('SELECT * FROM api_keys WHERE key_id = ?', [keyId])) {
      if (timingSafeEqual(Buffer.from(row.hash, 'hex'), digest)) found = row
    }
    if (found === undefined) return undefined
    const now = this.#now()
    if (found.revoked_at !== null && Date.parse(found.revoked_at) <= now) return { refused: `this API key (${keyId}) was revoked at ${found.revoked_at}` }
    if (found.expires_at !== null && Date.parse(found.expires_at) <= now) return { refused: `this API key (${keyId}) expired at ${found.expires_at}` }
    this.#touch(found, now)
    return { principal: { keyId, role: found.role, ...(found.owner === null ? {} : { person: found.owner }) } }
  }

  /** The principal of a presented key, or undefined when it is unknown, revoked or expired. */
  async verify(key: string): Promise<Principal | undefined> {
    const checked = await this.check(key)
    return checked !== undefined && 'principal' in checked ? checked.principal : undefined
  }

  /** Resolves once the last-use writes started so far are done (the store waits for them before closing). */
  async settled(): Promise<void> {
    await Promise.all([...this.#pending])
  }

  /** How many keys exist that are neither revoked nor expired. */
  async count(): Promise<number> {
    const now = this.#iso()
    return (await this.#sql.get<{ n: number }>('SELECT count(*) AS n FROM api_keys WHERE (revoked_at IS NULL OR revoked_at > ?) AND (expires_at IS NULL OR expires_at > ?)',
      [now, now]))?.n ?? 0
  }

  /** Writes the key's last use unless it (here, or by another replica: the row says) was written less than a minute ago. */
  #touch(row: KeyRow, now: number): void {
    const since = now - LAST_USED_EVERY_MS
    if ((this.#lastWritten.get(row.hash) ?? -Infinity) > since) return
    if (row.last_used_at !== null && Date.parse(row.last_used_at) > since) return
    this.#lastWritten.set(row.hash, now)
    const at = new Date(now).toISOString()
    // The WHERE keeps the newest time when replicas write at once. Not awaited: a failed write (the
    // store closing) loses one last-use time, which the next request after a minute writes again.
    const write = this.#sql.run('UPDATE api_keys SET last_used_at = ? WHERE hash = ? AND (last_used_at IS NULL OR last_used_at < ?)', [at, row.hash, at])
      .then(() => undefined, () => { this.#lastWritten.delete(row.hash) })
    this.#pending.add(write)
    void write.finally(() => this.#pending.delete(write))
  }

  /**
   * The one row `keyId` names: `key_` + 8 or more hex characters of the key's hash (a longer id tells
   * apart keys that share the first 8).
   */
  async #find(keyId: string): Promise<KeyRow> {
    const match = /^key_([0-9a-f]{8,64})$/.exec(keyId)
    if (match?.[1] === undefined) throw new NotFoundError(`"${keyId}" is not a key id: key ids are key_ and 8 hex characters (leakgate keys list shows them)`)
    const prefix = match[1]
    const rows = (await this.#sql.all<KeyRow>('SELECT * FROM api_keys WHERE key_id = ? ORDER BY created_at', [`key_${prefix.slice(0, 8)}`]))
      .filter((row) => row.hash.startsWith(prefix))
    const [row, ...others] = rows
    if (row === undefined) throw new NotFoundError(`there is no key ${keyId}`)
    if (others.length > 0) {
      const names = rows.map((r) => `key_${r.hash.slice(0, LONG_ID_HEX)} (${r.role}, made ${r.created_at})`)
      throw new AmbiguousKeyIdError(`${rows.length} keys share the id ${keyId}: ${names.join(', ')}; give the longer id of the one you mean`)
    }
    return row
  }

  /** Throws when revoking `row` would leave no admin key that works. Call inside the revoking transaction. */
  async #keepAnAdmin(row: KeyRow): Promise<void> {
    if (row.role !== 'admin' || !this.#usable(row)) return
    const now = this.#iso()
    const others = await this.#sql.get<{ n: number }>(`
      SELECT count(*) AS n FROM api_keys
      WHERE role = 'admin' AND hash <> ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`, [row.hash, now])
    if ((others?.n ?? 0) === 0) {
      throw new LastAdminKeyError(`${row.key_id} is the last admin key that works: revoking it would leave nobody able to manage this control plane; create another admin key first, or rotate this one`)
    }
  }

  #usable(row: KeyRow): boolean {
    const now = this.#now()
    return (row.revoked_at === null || Date.parse(row.revoked_at) > now) && (row.expires_at === null || Date.parse(row.expires_at) > now)
  }

  #info(row: KeyRow): KeyInfo {
    const now = this.#now()
    const state: KeyInfo['state'] = row.revoked_at !== null && Date.parse(row.revoked_at) <= now ? 'revoked'
      : row.expires_at !== null && Date.parse(row.expires_at) <= now ? 'expired'
        : row.revoked_at !== null ? 'retiring' : 'active'
    return {
      keyId: row.key_id,
      name: row.name ?? row.label,
      owner: row.owner,
      role: row.role,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      lastUsedAt: row.last_used_at,
      revokedAt: row.revoked_at,
      revokedBy: row.revoked_by,
      state,
    }
  }

  #iso(): string {
    return new Date(this.#now()).toISOString()
  }
}

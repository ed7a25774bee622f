/**
 * API keys: made here, stored as SHA-256 only (with a key id, `key_` + the first 8 hex characters of
 * that hash, which audit entries name), and checked in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
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

/** The api_keys table. */
export class KeyRepo {
  readonly #sql: Sql

  constructor(sql: Sql) {
    this.#sql = sql
  }

  /** Stores `key` (hashed) with `role`; a key already stored takes the new role. Returns its key id. */
  async add(key: string, role: Role, label?: string): Promise<string> {
    const keyId = keyIdOf(key)
    await this.#sql.run(`
      INSERT INTO api_keys (key_id, hash, role, label, created_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (hash) DO UPDATE SET role = excluded.role, label = coalesce(excluded.label, api_keys.label)`,
    [keyId, hashKey(key).toString('hex'), role, label ?? null, new Date().toISOString()])
    return keyId
  }

  /**
   * Seeds a key from the environment under `label` (e.g. `LEAKGATE_ADMIN_KEY`), revoking the key a
   * previous start seeded under the same label: changing the variable rotates the key.
   */
  async seed(key: string, role: Role, label: string): Promise<string> {
    const hash = hashKey(key).toString('hex')
    return this.#sql.transaction(async () => {
      await this.#sql.run('DELETE FROM api_keys WHERE label = ? AND hash <> ?', [label, hash])
      return this.add(key, role, label)
    })
  }

  /**
   * The principal of a presented key, or undefined. Rows are found by key id (a prefix of the hash,
   * which says nothing useful about the key), then the full hashes are compared in constant time.
   */
  async verify(key: string): Promise<Principal | undefined> {
    const digest = hashKey(key)
    const keyId = `key_${digest.toString('hex').slice(0, 8)}`
    let found: Principal | undefined
    for (const row of await this.#sql.all<{ hash: string; role: Role }>('SELECT hash, role FROM api_keys WHERE key_id = ?', [keyId])) {
      if (timingSafeEqual(Buffer.from(row.hash, 'hex'), digest)) found = { keyId, role: row.role }
    }
    return found
  }

  /** How many keys exist. */
  async count(): Promise<number> {
    return (await this.#sql.get<{ n: number }>('SELECT count(*) AS n FROM api_keys'))?.n ?? 0
  }
}

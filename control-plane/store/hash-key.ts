/**
 * The store's hash key: whether the token hashes it holds are plain SHA-256s or keyed hashes
 * (protocol/token-hash.ts `keyedHash`), and under which key (its id, never the key).
 *
 * Every SHA-256 the control plane receives (a token added by value or by hash, a scanner's finding)
 * goes through `StoredHashes.of` before it is written, so the store never holds a plain SHA-256 once
 * it is keyed. Starting with a key on an unkeyed store converts every hash it holds, once, in one
 * transaction: SHA-256 → keyed hash is computable, the other way is not, so the conversion is one way.
 * Starting without the key, or with another, is refused: the hashes would no longer match any node's.
 */
import { HashKeyMismatchError } from '../../lib/errors.js'
import { hashKeyId, keyedHash, sha256Hex } from '../../protocol/token-hash.js'
import { searchText } from './leak-records.js'
import type { LeakLocation } from './leak-types.js'
import type { Sql } from './sql.js'

/** The preview a token added by hash only gets: `sha256:` and the first 8 characters of its stored hash. */
export const HASH_PREVIEW_PREFIX = 'sha256:'

/** How many of each kind of row a conversion rewrote (logged as one line; no hash in it). */
export interface HashKeyConversion {
  tokens: number
  indexEntries: number
  changes: number
  sightings: number
  scans: number
  /** The issued tokens' hashes (`POST /v1/issued-hashes`). */
  issuedHashes: number
  /** Other providers' findings kept apart by public sources. */
  otherFindings: number
}

/** How the SHA-256s the control plane receives become the hashes it stores and syncs. */
export class StoredHashes {
  /** The id of the hash key (16 hex characters), or undefined for plain SHA-256s. */
  readonly keyId: string | undefined
  readonly #key: Buffer | undefined
  readonly #locked: boolean

  /**
   * `key` undefined and `lockedKeyId` set: a keyed store opened by a tool that was not given the key
   * (`leakgate keys`); it may do what needs no token hash, and refuses to store one.
   */
  constructor(key: Buffer | undefined, lockedKeyId?: string) {
    this.#key = key
    this.#locked = key === undefined && lockedKeyId !== undefined
    this.keyId = key === undefined ? lockedKeyId : hashKeyId(key)
  }

  /** Whether hashes are keyed. */
  get keyed(): boolean {
    return this.keyId !== undefined
  }

  /** The stored form of a SHA-256 (64 hex characters of either case): its keyed hash, or itself lowercased. */
  of(sha256: string): string {
    if (this.#locked) throw new HashKeyMismatchError('this store\'s token hashes are keyed and this command was not given the hashKey option (LEAKGATE_HASH_KEY)')
    const lower = sha256.toLowerCase()
    return this.#key === undefined ? lower : keyedHash(this.#key, lower)
  }

  /**
   * The stored form of a finding's fingerprint. The scanner makes it from the token's plain SHA-256
   * (with the rule and file), so a word list would find a weak password through it as well: keyed, it
   * is the first 32 characters of the keyed hash of its SHA-256.
   */
  fingerprint(fingerprint: string): string {
    return this.#key === undefined ? fingerprint : keyedHash(this.#key, sha256Hex(`finding fingerprint\0${fingerprint}`)).slice(0, 32)
  }

  /** A token's preview as stored: with a key, a hash-only placeholder names the stored hash, not the SHA-256. */
  preview(preview: string, stored: string): string {
    return this.keyed && preview.startsWith(HASH_PREVIEW_PREFIX) ? `${HASH_PREVIEW_PREFIX}${stored.slice(0, 8)}` : preview
  }
}

/**
 * Checks the store against `key` (the `hashKey` option; undefined for none) and converts an unkeyed
 * store when a key is given. Returns what the conversion rewrote, or undefined when there was none.
 * @throws {HashKeyMismatchError} when the store is keyed and `key` is missing or another key.
 */
export async function applyHashKey(sql: Sql, key: Buffer | undefined): Promise<HashKeyConversion | undefined> {
  const hashes = new StoredHashes(key)
  const recorded = await recordedKeyId(sql)
  if (recorded !== undefined) {
    if (hashes.keyId === undefined) {
      throw new HashKeyMismatchError(`this store's token hashes are keyed (hash key id ${recorded}) and no hashKey option (LEAKGATE_HASH_KEY) is set: start with the key the store was converted with`)
    }
    if (hashes.keyId !== recorded) {
      throw new HashKeyMismatchError(`the hashKey option (LEAKGATE_HASH_KEY) has id ${hashes.keyId}, but this store's token hashes are keyed with the key of id ${recorded}: start with that key (a store's key cannot be changed; a new key needs a new store and its leaks added again)`)
    }
    return undefined
  }
  if (hashes.keyId === undefined) return undefined
  return sql.transaction(async () => {
    // Two control planes starting with the key at once: the second finds the store converted.
    if (await recordedKeyId(sql) !== undefined) return undefined
    return convert(sql, hashes)
  })
}

/** The id of the key the store's hashes are keyed with, or undefined for plain SHA-256s. */
export async function recordedKeyId(sql: Sql): Promise<string | undefined> {
  return (await sql.get<{ key_id: string }>('SELECT key_id FROM hash_key'))?.key_id
}

/** Rows a conversion reads at a time: the index and the change log may hold millions. */
const BATCH = 10_000

/**
 * Rewrites column `column` of `table`, keyed by the integer primary key `id` (stable while the hash
 * changes), batch by batch. Returns how many rows were rewritten.
 */
async function rekeyById(sql: Sql, hashes: StoredHashes, table: string, id: string, column: string): Promise<number> {
  let after = -1
  let n = 0
  for (;;) {
    const rows = await sql.all<{ id: number; h: string }>(
      `SELECT ${id} AS id, ${column} AS h FROM ${table} WHERE ${id} > ? AND ${column} IS NOT NULL ORDER BY ${id} LIMIT ?`, [after, BATCH])
    for (const r of rows) await sql.run(`UPDATE ${table} SET ${column} = ? WHERE ${id} = ?`, [hashes.of(r.h), r.id])
    n += rows.length
    const last = rows.at(-1)
    if (last === undefined || rows.length < BATCH) return n
    after = last.id
  }
}

async function convert(sql: Sql, hashes: StoredHashes): Promise<HashKeyConversion> {
  const tokens = await rekeyById(sql, hashes, 'tokens', 'id', 'sha256')
  await sql.run(`UPDATE tokens SET preview = '${HASH_PREVIEW_PREFIX}' || substr(sha256, 1, 8) WHERE preview LIKE '${HASH_PREVIEW_PREFIX}%'`)
  // index_entries is keyed by the hash itself: paging by it while rewriting it would meet rewritten rows
  // again. Each is first renamed to `k` + its keyed hash (65 characters, outside the pages of 64-character
  // ones), then the marks are taken off in one statement.
  let indexEntries = 0
  let after = ''
  for (;;) {
    const rows = await sql.all<{ sha256: string }>('SELECT sha256 FROM index_entries WHERE sha256 > ? AND length(sha256) = 64 ORDER BY sha256 LIMIT ?', [after, BATCH])
    for (const r of rows) await sql.run('UPDATE index_entries SET sha256 = ? WHERE sha256 = ?', [`k${hashes.of(r.sha256)}`, r.sha256])
    indexEntries += rows.length
    const last = rows.at(-1)
    if (last === undefined || rows.length < BATCH) break
    after = last.sha256
  }
  await sql.run('UPDATE index_entries SET sha256 = substr(sha256, 2) WHERE length(sha256) = 65')
  const changes = await rekeyById(sql, hashes, 'changes', 'rev', 'sha256')
  const sightings = await rekeyById(sql, hashes, 'sightings', 'id', 'sha256')
  // Issued tokens' hashes are compared with public tokens' stored hashes: keyed the same way.
  const issuedHashes = await rekeyById(sql, hashes, 'issued_hashes', 'id', 'sha256')
  // A copy of the set held in memory (the public sources' filter) is of the old form: its generation
  // moves as a removal's would, so the copy is built again, not extended.
  if (issuedHashes > 0) {
    for (const key of ['issued_hashes_generation', 'issued_hashes_removals']) await sql.run('INSERT INTO meta (key, value) VALUES (?, 1) ON CONFLICT (key) DO UPDATE SET value = meta.value + 1', [key])
  }
  const otherFindings = await rekeyById(sql, hashes, 'public_other_findings', 'id', 'sha256')
  // The list's q filter searches previews: the placeholders in it change with them.
  const placeholders = await sql.all<{ id: number; title: string; location: string }>(`
    SELECT DISTINCT l.id, l.title, l.location FROM leaks l JOIN leak_tokens lt ON lt.leak_id = l.id JOIN tokens t ON t.id = lt.token_id
    WHERE t.preview LIKE '${HASH_PREVIEW_PREFIX}%'`)
  for (const l of placeholders) {
    const previews = await sql.all<{ preview: string }>('SELECT t.preview FROM leak_tokens lt JOIN tokens t ON t.id = lt.token_id WHERE lt.leak_id = ? ORDER BY t.id', [l.id])
    await sql.run('UPDATE leaks SET search_text = ? WHERE id = ?', [searchText(l.title, JSON.parse(l.location) as LeakLocation, previews.map((p) => p.preview)), l.id])
  }
  // A scan's record keeps its findings as JSON, each with the token's SHA-256 and a fingerprint made from it.
  const scanRows = await sql.all<{ id: number; findings: string }>("SELECT id, findings FROM scans WHERE findings <> '[]'")
  for (const row of scanRows) {
    const findings = (JSON.parse(row.findings) as Array<{ sha256?: unknown; fingerprint?: unknown }>).map((f) => ({
      ...f,
      ...(typeof f.sha256 === 'string' ? { sha256: hashes.of(f.sha256) } : {}),
      ...(typeof f.fingerprint === 'string' ? { fingerprint: hashes.fingerprint(f.fingerprint) } : {}),
    }))
    await sql.run('UPDATE scans SET findings = ? WHERE id = ?', [JSON.stringify(findings), row.id])
  }
  await sql.run('INSERT INTO hash_key (id, key_id, keyed_at) VALUES (1, ?, ?)', [hashes.keyId ?? null, new Date().toISOString()])
  return { tokens, indexEntries, changes, sightings, scans: scanRows.length, issuedHashes, otherFindings }
}

/**
 * The stored token hashes that count as leaked, looked up by hash prefix (the range check,
 * `GET /v1/range/:prefix`), and the secret the range answers' decoys are made from.
 *
 * A token counts as leaked when one of its leaks is anything but a false positive: open leaks, and
 * closed ones too, since a token that was exposed stays exposed after its leak is closed (rotated);
 * only a decision that it never was a secret takes it out. A status added later counts as leaked
 * until someone decides otherwise, so a check never answers "clean" by omission.
 *
 * Hashes are stored lowercase, so `sha256 >= prefix AND sha256 < prefix || 'g'` (`g` sorts after
 * every hex digit) is a range scan of the UNIQUE index of `tokens.sha256` on both engines; the
 * `substr` test keeps the answer exact under any collation PostgreSQL was created with.
 */
import { randomBytes } from 'node:crypto'
import type { Sql } from './sql.js'

/** The `meta` rows holding the decoy secret: four 32-bit words (the table holds integers only). */
const SEED_KEYS = ['range_decoy_seed_0', 'range_decoy_seed_1', 'range_decoy_seed_2', 'range_decoy_seed_3'] as const

/** The leaked token hashes, by prefix. */
export class LeakedHashes {
  readonly #sql: Sql
  #seed: Buffer | undefined

  constructor(sql: Sql) {
    this.#sql = sql
  }

  /**
   * The stored hashes starting with `prefix` (lowercase hex) whose token counts as leaked, at most
   * `limit` of them, in hash order.
   */
  async withPrefix(prefix: string, limit: number): Promise<string[]> {
    if (!/^[0-9a-f]{1,64}$/.test(prefix)) throw new TypeError(`withPrefix: prefix must be lowercase hex, got ${JSON.stringify(prefix)}`)
    const rows = await this.#sql.all<{ sha256: string }>(`
      SELECT t.sha256 FROM tokens t
      WHERE t.sha256 >= ? AND t.sha256 < ? AND substr(t.sha256, 1, ?) = ?
        AND EXISTS (SELECT 1 FROM leak_tokens lt JOIN leaks l ON l.id = lt.leak_id WHERE lt.token_id = t.id AND l.status <> 'false_positive')
      ORDER BY t.sha256 LIMIT ?`,
    [prefix, `${prefix}g`, prefix.length, prefix, limit])
    return rows.map((r) => r.sha256)
  }

  /**
   * The store's decoy secret (16 random bytes, made on first use and kept in `meta`): every replica
   * and every restart makes the same decoys for a prefix, so asking twice and keeping what changed
   * cannot tell the real hashes from the decoys.
   */
  async decoySecret(): Promise<Buffer> {
    if (this.#seed !== undefined) return this.#seed
    const fresh = randomBytes(16)
    await this.#sql.transaction(async () => {
      for (const [i, key] of SEED_KEYS.entries()) {
        // A replica that got there first keeps its words: ON CONFLICT leaves them.
        await this.#sql.run('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING', [key, fresh.readUInt32BE(i * 4)])
      }
    })
    const rows = await this.#sql.all<{ key: string; value: number | string }>(
      `SELECT key, value FROM meta WHERE key IN (${SEED_KEYS.map(() => '?').join(', ')})`, [...SEED_KEYS])
    const seed = Buffer.alloc(16)
    for (const [i, key] of SEED_KEYS.entries()) {
      const row = rows.find((r) => r.key === key)
      if (row === undefined) throw new Error(`meta row ${key} is missing after it was written`)
      seed.writeUInt32BE(Number(row.value), i * 4)
    }
    this.#seed = seed
    return seed
  }
}

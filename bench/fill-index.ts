/**
 * A large index for the benches, written straight into a SQLite store's file (what a snapshot reads is
 * the index table alone; a million leaks made through the API would take the bench's whole time).
 */
import type Database from 'better-sqlite3'

/**
 * Inserts `entries` index entries (distinct synthetic hashes; one in three monitored, the rest blocked)
 * and advances the revision, in one transaction on `sqlite`, a connection of the bench's own.
 */
export function fillIndex(sqlite: Database.Database, entries: number): void {
  sqlite.transaction(() => {
    const put = sqlite.prepare('INSERT INTO index_entries (sha256, action, leak_id) VALUES (?, ?, ?)')
    for (let i = 1; i <= entries; i++) {
      const h = Buffer.alloc(32)
      h.writeUInt32BE(i, 0)
      h.writeUInt32BE(Math.imul(i, 2654435761) >>> 0, 4)
      put.run(h.toString('hex'), i % 3 === 0 ? 'monitor' : 'block', 1000 + i)
    }
    sqlite.prepare("UPDATE meta SET value = value + 1 WHERE key = 'revision'").run()
  }).immediate()
}

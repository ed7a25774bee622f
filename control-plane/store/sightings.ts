/**
 * Sightings: a node saw a leaked token in a request. Each one of an open leak adds to its hits and
 * last-seen time, is kept among the leak's recent sightings (the newest `sightingsKeptPerLeak`), counts
 * its node among the nodes that saw the leak, and rescores the leak (risk.ts: counted by nodes, so a
 * burst from one node weighs as one node's evidence). Sightings of unknown or closed leaks are dropped,
 * and the answer is the same whichever they were, so it tells no one which leak ids exist.
 */
import type Database from 'better-sqlite3'
import type { Sighting as ReportedSighting } from '../../protocol/sightings.js'
import type { LeakRecords } from './leak-records.js'
import type { Sighting } from './leak-types.js'

/** Records batches of sightings and reads a leak's newest. */
export class SightingRepo {
  readonly #db: Database.Database
  readonly #leaks: LeakRecords
  readonly #keep: number
  readonly #s

  constructor(db: Database.Database, leaks: LeakRecords, keepPerLeak: number) {
    this.#db = db
    this.#leaks = leaks
    this.#keep = keepPerLeak
    this.#s = {
      open: db.prepare<[number], { id: number }>("SELECT id FROM leaks WHERE id = ? AND status = 'open'"),
      seenBy: db.prepare('INSERT OR IGNORE INTO leak_seen_by (leak_id, node_id, first_seen_at) VALUES (?, ?, ?)'),
      countNode: db.prepare('UPDATE leaks SET seen_by_nodes = seen_by_nodes + 1 WHERE id = ?'),
      insert: db.prepare(`
        INSERT INTO sightings (leak_id, node_id, sha256, at, host, method, route, client, verdict, received_at)
        VALUES (@leakId, @nodeId, @sha256, @at, @host, @method, @route, @client, @verdict, @now)`),
      hit: db.prepare(`
        UPDATE leaks SET hits = hits + 1,
          last_seen_at = CASE WHEN last_seen_at IS NULL OR last_seen_at < @at THEN @at ELSE last_seen_at END
        WHERE id = @leakId`),
      prune: db.prepare(`
        DELETE FROM sightings WHERE leak_id = @leakId AND id NOT IN
          (SELECT id FROM sightings WHERE leak_id = @leakId ORDER BY at DESC, id DESC LIMIT @keep)`),
      // Aliased to the API's names, so the row is the Sighting itself.
      recent: db.prepare<[number], Sighting>(`
        SELECT id, leak_id AS leakId, node_id AS nodeId, sha256, at, host, method, route, client, verdict
        FROM sightings WHERE leak_id = ? ORDER BY at DESC, id DESC LIMIT 100`),
    }
  }

  /**
   * Stores a node's batch in one transaction. Sightings of leaks that are unknown or not open are
   * dropped without a trace in the answer: it is `{ accepted: <batch length>, ignored: 0 }` whatever
   * the ids, so a node key cannot probe which leaks exist.
   */
  record(nodeId: string, sightings: readonly ReportedSighting[]): { accepted: number; ignored: number } {
    return this.#db.transaction(() => {
      const now = new Date().toISOString()
      const touched = new Set<number>()
      for (const s of sightings) {
        if (this.#s.open.get(s.leakId) === undefined) continue
        // Normalised so string comparison in SQL orders it; a node clock ahead of ours is cut to now,
        // so one bad clock cannot pin a leak's last-seen time in the future.
        const at = new Date(Math.min(Date.parse(s.at), Date.parse(now))).toISOString()
        this.#s.insert.run({
          leakId: s.leakId, nodeId, sha256: s.sha256 ?? null, at, host: s.host ?? null, method: s.method ?? null,
          route: s.route ?? null, client: s.client ?? null, verdict: s.verdict ?? null, now,
        })
        this.#s.hit.run({ leakId: s.leakId, at })
        if (!touched.has(s.leakId) && this.#s.seenBy.run(s.leakId, nodeId, now).changes > 0) this.#s.countNode.run(s.leakId)
        touched.add(s.leakId)
      }
      for (const leakId of touched) {
        this.#s.prune.run({ leakId, keep: this.#keep })
        this.#leaks.rescore(leakId)
      }
      return { accepted: sightings.length, ignored: 0 }
    }).immediate()
  }

  /** The 100 newest sightings of leak `leakId`, newest first. */
  recent(leakId: number): Sighting[] {
    return this.#s.recent.all(leakId)
  }
}

/**
 * Other providers' findings in public content, kept apart from leaks (migration 19; written only when a
 * watch runs with `--keep-others`): a token of a format the detection engine knows but that is not the
 * organisation's, as its stored hash, kind, preview and public place. Never a leak: nothing here is in
 * the index, the sync stream or the leak list. One row a hash and place; seen there again, only the
 * row's `seenAt` moves.
 */
import type { LeakLocation } from './leak-types.js'
import type { Sql } from './sql.js'

/** One other provider's finding to keep (the hash already in the store's form). */
export interface OtherFindingInput {
  /** The token's stored hash (`store.hashes.of` of its SHA-256). */
  sha256: string
  kind: string
  /** `makePreview` of the token: a few characters, never the token. */
  preview: string
  sourceId: string
  /** What identifies the place (repository, commit, file, line or address), hashed. */
  placeKey: string
  location: LeakLocation
}

/** A finding as the API shows it. */
export interface OtherFinding {
  id: number
  sha256: string
  kind: string
  preview: string
  sourceId: string
  location: LeakLocation
  firstSeenAt: string
  seenAt: string
}

interface Row {
  id: number
  sha256: string
  kind: string
  preview: string
  source_id: string
  location: string
  first_seen_at: string
  seen_at: string
}

/** Rows a statement inserts at once (9 parameters each: far under both engines' limits). */
const CHUNK = 200

/** The other providers' findings. */
export class OtherFindingRepo {
  readonly #sql: Sql

  constructor(sql: Sql) {
    this.#sql = sql
  }

  /**
   * Keeps `findings` seen at `now`: new places are added, known ones get `now` as `seenAt`. Runs in the
   * caller's transaction (the runner's batch), so it is committed with the cursor's advance or not at all.
   */
  async add(findings: readonly OtherFindingInput[], now: string): Promise<void> {
    // One row a hash and place within a statement too: PostgreSQL refuses an upsert touching a row twice.
    const unique = [...new Map(findings.map((f) => [`${f.sha256}\0${f.placeKey}`, f])).values()]
    for (let i = 0; i < unique.length; i += CHUNK) {
      const chunk = unique.slice(i, i + CHUNK)
      await this.#sql.run(
        `INSERT INTO public_other_findings (sha256, kind, preview, source_id, place_key, location, first_seen_at, seen_at)
         VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}
         ON CONFLICT (sha256, place_key) DO UPDATE SET seen_at = excluded.seen_at`,
        chunk.flatMap((f) => [f.sha256, f.kind, f.preview, f.sourceId, f.placeKey, JSON.stringify(f.location), now, now]))
    }
  }

  /** The newest findings first, `limit` at most, of one kind when given. */
  async list(options: { limit: number; kind?: string }): Promise<OtherFinding[]> {
    const rows = options.kind === undefined
      ? await this.#sql.all<Row>('SELECT * FROM public_other_findings ORDER BY id DESC LIMIT ?', [options.limit])
      : await this.#sql.all<Row>('SELECT * FROM public_other_findings WHERE kind = ? ORDER BY id DESC LIMIT ?', [options.kind, options.limit])
    return rows.map((r) => ({
      id: r.id, sha256: r.sha256, kind: r.kind, preview: r.preview, sourceId: r.source_id,
      location: JSON.parse(r.location) as LeakLocation, firstSeenAt: r.first_seen_at, seenAt: r.seen_at,
    }))
  }

  /** How many findings are kept (one row kept by triggers: no count over the table). */
  async count(): Promise<number> {
    return Number((await this.#sql.get<{ n: number }>('SELECT findings AS n FROM public_other_findings_count'))?.n ?? 0)
  }
}

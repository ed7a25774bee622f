/**
 * A scanner's findings becoming leaks: a group of findings that is one exposure makes a new leak,
 * or, found again on a later scan, adds its new tokens to the leak it made before. The operator's
 * decisions on that leak (status, action) are never undone by a rescan.
 */
import { createHash } from 'node:crypto'
import { searchText, uniqueTokens, type LeakRecords } from './leak-records.js'
import type { LeakLocation, TokenInput } from './leak-types.js'
import type { Sql } from './sql.js'

/**
 * A group of a scanner's findings that are one exposure (one file at one place, say): what
 * `upsertFromFindings` turns into a leak, or adds to the leak it already became on an earlier scan.
 */
export interface FindingGroup {
  source: string
  kind?: string | undefined
  title?: string | undefined
  location?: LeakLocation | undefined
  /** The finding's fingerprint; without one, source + location + token hashes identify the exposure. */
  fingerprint?: string | undefined
  tokens: TokenInput[]
  inHistoryOnly?: boolean | undefined
  exposedAt?: string | undefined
}

/** The key that makes a rescan of the same exposure update its leak instead of adding one. */
export function dedupeKeyOf(group: FindingGroup): string {
  if (group.fingerprint !== undefined) return `fp:${group.fingerprint}`
  const loc = group.location ?? {}
  const parts = [group.source, loc.url ?? '', loc.repo ?? '', loc.path ?? '', String(loc.line ?? ''), ...group.tokens.map((t) => t.sha256).sort()]
  return `loc:${createHash('sha256').update(JSON.stringify(parts)).digest('hex')}`
}

/** Turns finding groups into leaks. */
export class FindingUpserts {
  readonly #sql: Sql
  readonly #records: LeakRecords

  constructor(sql: Sql, records: LeakRecords) {
    this.#sql = sql
    this.#records = records
  }

  /**
   * Makes `group` a leak, or adds its new tokens to the leak an earlier scan made of the same
   * exposure and rescores it. Call inside a write transaction. Returns the leak's id and whether it is new.
   */
  async apply(group: FindingGroup, actor: string): Promise<{ id: number; created: boolean }> {
    const records = this.#records
    const key = dedupeKeyOf(group)
    // A closed or false-positive leak keeps the tokens it was decided on. A token it never held is a
    // new exposure at the same place (a rotated key leaked again): it goes to a successor leak, open,
    // so it is enforced and shown rather than hidden inside a leak nobody looks at any more. The
    // successor has its own dedupe key, so the next rescan finds it; its own closing starts another.
    let dedupeKey = key
    let tokens = uniqueTokens(group.tokens)
    let existing = await records.byDedupe(dedupeKey)
    while (existing !== undefined && existing.status !== 'open') {
      const held = new Set((await records.tokensOf(existing.id)).map((t) => t.sha256))
      tokens = tokens.filter((t) => !held.has(t.sha256))
      if (tokens.length === 0) return { id: existing.id, created: false }
      dedupeKey = `${key}#after-${existing.id}`
      existing = await records.byDedupe(dedupeKey)
    }
    if (existing === undefined) {
      return { id: await records.insert({ ...group, tokens, dedupeKey }, actor), created: true }
    }
    const now = new Date().toISOString()
    await records.linkTokens(existing.id, tokens, group.kind, now)
    const inHistoryOnly = existing.in_history_only === 1 && group.inHistoryOnly === true
    const exposedAt = earliest(existing.exposed_at, group.exposedAt)
    const previews = (await records.tokensOf(existing.id)).map((t) => t.preview)
    await this.#sql.run(`
      UPDATE leaks SET in_history_only = @inHistoryOnly, exposed_at = @exposedAt, search_text = @searchText,
        updated_at = @now WHERE id = @id`, {
      id: existing.id, inHistoryOnly: inHistoryOnly ? 1 : 0, exposedAt,
      searchText: searchText(existing.title, JSON.parse(existing.location) as LeakLocation, previews), now,
    })
    await records.rescore(existing.id, 'scan')
    if (existing.status === 'open') await records.refreshIndex(existing.id, now)
    return { id: existing.id, created: false }
  }
}

function earliest(a: string | null, b: string | undefined): string | null {
  if (b === undefined) return a
  if (a === null) return b
  return Date.parse(b) < Date.parse(a) ? b : a
}

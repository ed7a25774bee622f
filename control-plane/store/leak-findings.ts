/**
 * A scanner's findings becoming leaks: a group of findings that is one exposure makes a new leak,
 * or, found again on a later scan, adds its new tokens to the leak it made before. The operator's
 * decisions on that leak (status, action) are never undone by a rescan.
 */
import { createHash } from 'node:crypto'
import { searchText, uniqueTokens, type LeakRecords, type LeakRow } from './leak-records.js'
import type { LeakLocation, TokenInput } from './leak-types.js'
import type { VerifiedFormat } from '../detect/rule.js'
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
  /**
   * The fingerprint an earlier version gave the leak of this place (one leak a file): when no leak has
   * `fingerprint` yet, an open leak under this one that holds every token of the group is the same
   * exposure, updated rather than doubled.
   */
  legacyFingerprint?: string | undefined
  /** The repository, commit and file the group was found at, as a key (NewLeak.placeKey). */
  placeKey?: string | undefined
  /** What vouches for the token's format (NewLeak.verifiedFormat). */
  format?: VerifiedFormat | undefined
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

  /** The leak an earlier version made of the group's place (`legacyFingerprint`), when it holds every token of the group. */
  async #legacy(group: FindingGroup, tokens: readonly TokenInput[]): Promise<LeakRow | undefined> {
    if (group.legacyFingerprint === undefined) return undefined
    const before = await this.#records.byDedupe(`fp:${group.legacyFingerprint}`)
    if (before === undefined) return undefined
    const held = new Set((await this.#records.tokensOf(before.id)).map((t) => t.sha256))
    return tokens.every((t) => held.has(t.sha256)) ? before : undefined
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
    let existing = await records.byDedupe(dedupeKey) ?? await this.#legacy(group, tokens)
    while (existing !== undefined && existing.status !== 'open') {
      const held = new Set((await records.tokensOf(existing.id)).map((t) => t.sha256))
      tokens = tokens.filter((t) => !held.has(t.sha256))
      if (tokens.length === 0) return { id: existing.id, created: false }
      dedupeKey = `${key}#after-${existing.id}`
      existing = await records.byDedupe(dedupeKey)
    }
    if (existing === undefined) {
      const { format, placeKey, legacyFingerprint: _legacy, fingerprint: _fingerprint, ...leak } = group
      return { id: await records.insert({ ...leak, tokens, dedupeKey, placeKey, verifiedFormat: format }, actor), created: true }
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

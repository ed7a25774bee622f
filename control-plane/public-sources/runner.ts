/**
 * One batch of a public source, end to end: read after the committed cursor, skip the content already
 * scanned (by its SHA-256, whatever source saw it first), scan the rest, keep only the organisation's
 * own tokens, and commit, in ONE transaction, their leaks, the content as seen and the cursor's
 * advance. The cursor therefore never passes content that was not scanned: a crash, a kill -9 or a
 * failed read before the commit leaves the cursor where it was, and the batch is read again; rescanning
 * is harmless, since a token is one leak whose places only grow.
 *
 * Which tokens are ours: a match of one of the organisation's own rules (its token formats), or any
 * token-shaped string (a rule's match or a generic run, candidates.ts) whose SHA-256 is in the issued
 * set. Other providers' formats found in public content are counted, never stored: they are someone
 * else's leaks.
 *
 * Several workers may run batches of the same source: the cursor's version makes the second commit of
 * the same batch fail and roll back whole, so a batch is committed once.
 */
import { createHash } from 'node:crypto'
import { makePreview, sha256Hex } from '../../protocol/token-hash.js'
import { hideSecret } from '../../lib/echo.js'
import { escapeText } from '../../lib/text.js'
import { scanText } from '../detect/scanner.js'
import { builtinRules } from '../detect/rules.js'
import type { Rule } from '../detect/rule.js'
import { findingTitle } from '../leak-titles.js'
import type { FindingGroup } from '../store/leak-findings.js'
import type { Store } from '../store/store.js'
import { tokenCandidates } from './candidates.js'
import { leakLocationAt, type PublicSource, type PublicUnit, type SourceBatch } from './source.js'
import { cursorIdOf } from './shard.js'

/** The kind of a leak found by its hash alone, in a format no rule knows. */
export const ISSUED_TOKEN_KIND = 'issued_token'

/** What stands for a name that holds the token (as scans show it). */
const NAME_HIDDEN = '[a name that holds the secret]'

/** How a runner scans. */
export interface RunnerOptions {
  /** The organisation's own token formats: every match is a leak of ours. */
  ourRules?: readonly Rule[]
  /** Rules whose matches are candidates for the issued-hash check; default the built-in ones. */
  candidateRules?: readonly Rule[]
  /** The audit actor of the leaks made; default `public-sources`. */
  actor?: string
}

/** What one batch did. */
export interface BatchOutcome {
  /** Units the source gave. */
  units: number
  /** Units scanned (the rest had been scanned before, here or in another place). */
  scanned: number
  /** Bytes scanned. */
  bytes: number
  leaksCreated: number
  leaksUpdated: number
  /** Findings of other providers' formats, not ours: counted only. */
  otherFindings: number
  /** The cursor committed. */
  cursor: string | null
  /** True when the source has more to read now. */
  more: boolean
}

/** A token of ours found in a unit. */
interface OurToken {
  /** The raw value: in memory only, to keep it out of the location's names. */
  value: string
  sha256: string
  preview: string
  kind: string
  line: number
  format?: 'checksum' | 'prefix'
  /** Found by one of the candidate rules (counted among other providers' findings until it matched). */
  byRule?: boolean
}

/** Thrown when another worker committed a batch of the same source first: this one's is rolled back. */
export class CursorMovedError extends Error {
  constructor(sourceId: string) {
    super(`the cursor of public source ${sourceId} moved while this batch was scanned (another worker committed it): nothing of this batch was kept`)
    this.name = 'CursorMovedError'
  }
}

/** Runs batches of public sources against one store. */
export class PublicSourceRunner {
  readonly #store: Store
  readonly #ourRules: readonly Rule[]
  readonly #candidateRules: readonly Rule[]
  readonly #actor: string

  constructor(store: Store, options: RunnerOptions = {}) {
    this.#store = store
    this.#ourRules = options.ourRules ?? []
    this.#candidateRules = options.candidateRules ?? builtinRules()
    this.#actor = options.actor ?? 'public-sources'
  }

  /**
   * Reads, scans and commits one batch of `source`. A failed read is recorded as the source's last
   * error (the cursor stays) and thrown.
   */
  async runBatch(source: PublicSource, signal?: AbortSignal): Promise<BatchOutcome> {
    const repo = this.#store.publicSources
    // A shard's cursor is its own row; the content seen and the places keep the source's id.
    const cursorId = cursorIdOf(source)
    const before = await repo.cursor(cursorId)
    const version = before?.version ?? 0
    let batch
    try {
      batch = await source.read({ cursor: before?.cursor ?? null, state: before?.state ?? {} }, signal)
    } catch (err) {
      await repo.recordError(cursorId, (err as Error).message, undefined, new Date().toISOString())
      throw err
    }
    const unseen = await repo.unseen(batch.units.map((u) => u.contentSha256))
    const toScan: PublicUnit[] = []
    for (const unit of batch.units) {
      // The same content twice in one batch (a push to a repository and its fork) is scanned once too.
      if (!unseen.delete(unit.contentSha256)) continue
      toScan.push(unit)
    }
    let otherFindings = 0
    const found: Array<{ unit: PublicUnit; tokens: OurToken[] }> = []
    const candidatesByStored = new Map<string, Array<{ unit: PublicUnit; token: OurToken }>>()
    for (const unit of toScan) {
      const tokens: OurToken[] = []
      const own = new Set<string>()
      for (const f of scanText(unit.content, { rules: this.#ourRules, ...(unit.location.path === undefined ? {} : { path: unit.location.path }) })) {
        const sha256 = sha256Hex(f.value)
        if (own.has(sha256)) continue
        own.add(sha256)
        tokens.push({ value: f.value, sha256, preview: makePreview(f.value), kind: f.rule.kind, line: f.line, ...(f.rule.format === undefined ? {} : { format: f.rule.format }) })
      }
      for (const c of tokenCandidates(unit.content, this.#candidateRules, unit.location.path)) {
        const sha256 = sha256Hex(c.value)
        if (own.has(sha256)) continue
        if (c.rule !== undefined) otherFindings++
        // A rule that vouches for its format (a provider's prefix or checksum) names the token's kind;
        // a generic rule's name (`generic_secret`) says less than that it is a token we issued.
        const format = c.rule?.format
        const token: OurToken = { value: c.value, sha256, preview: makePreview(c.value), kind: format === undefined ? ISSUED_TOKEN_KIND : c.rule!.kind, line: c.line, ...(format === undefined ? {} : { format }), ...(c.rule === undefined ? {} : { byRule: true }) }
        const stored = this.#store.hashes.of(sha256)
        const list = candidatesByStored.get(stored) ?? []
        list.push({ unit, token })
        candidatesByStored.set(stored, list)
      }
      found.push({ unit, tokens })
    }
    const issued = await this.#store.issuedHashes.matching(candidatesByStored.keys())
    for (const stored of issued) {
      for (const { unit, token } of candidatesByStored.get(stored) ?? []) {
        // A rule's match that is ours after all is not another provider's finding.
        if (token.byRule === true) otherFindings--
        found.find((f) => f.unit === unit)?.tokens.push(token)
      }
    }
    const bytes = toScan.reduce((n, u) => n + Buffer.byteLength(u.content), 0)
    const now = new Date().toISOString()
    const { created, updated } = await this.#commit(source, batch, found, toScan, version, bytes, now)
    return { units: batch.units.length, scanned: toScan.length, bytes, leaksCreated: created, leaksUpdated: updated, otherFindings, cursor: batch.next, more: batch.more }
  }

  /**
   * The batch's one transaction: its leaks and their places, its content as seen, the cursor's advance.
   * A failure (the store's; not another worker's commit, which is no fault of this source) is recorded
   * as the source's last error.
   */
  async #commit(source: PublicSource, batch: SourceBatch, found: ReadonlyArray<{ unit: PublicUnit; tokens: OurToken[] }>, toScan: readonly PublicUnit[], version: number, bytes: number, now: string): Promise<{ created: number; updated: number }> {
    const repo = this.#store.publicSources
    try {
      return await this.#write(source, batch, found, toScan, version, bytes, now)
    } catch (err) {
      if (!(err instanceof CursorMovedError)) await repo.recordError(cursorIdOf(source), `the batch could not be committed: ${(err as Error).message}`, undefined, new Date().toISOString()).catch(() => undefined)
      throw err
    }
  }

  async #write(source: PublicSource, batch: SourceBatch, found: ReadonlyArray<{ unit: PublicUnit; tokens: OurToken[] }>, toScan: readonly PublicUnit[], version: number, bytes: number, now: string): Promise<{ created: number; updated: number }> {
    const repo = this.#store.publicSources
    return this.#store.write(async () => {
      let created = 0
      let updated = 0
      for (const { unit, tokens } of found) {
        for (const token of tokens) {
          const group = this.#groupOf(source.leakSource, unit, token)
          const r = await this.#store.leaks.upsertFromFindings(group, this.#actor)
          if (r.created) created++
          else updated++
          await this.#store.publicSources.addPlace(r.leak.id, placeKeyOf(unit, token.line), source.id, group.location ?? {}, now)
        }
      }
      await repo.markSeen(toScan.map((u) => u.contentSha256), source.id, now)
      if (!await repo.advance(cursorIdOf(source), version, { cursor: batch.next, state: batch.state, units: toScan.length, bytes }, now)) {
        throw new CursorMovedError(cursorIdOf(source))
      }
      return { created, updated }
    })
  }

  /**
   * A token of ours at a unit as a finding group. One leak a token, wherever it is public: the dedupe
   * key is made from the token's stored hash alone, so the same token in another repository, a fork or
   * a later commit updates that leak (and adds a place) instead of making another.
   */
  #groupOf(leakSource: string, unit: PublicUnit, token: OurToken): FindingGroup {
    const at = leakLocationAt(escapedLocation(unit), token.line)
    // A file named after its token (`keys/<token>.txt`) would put the token into the location.
    const location = {
      ...at,
      ...(at.path === undefined ? {} : { path: hideSecret(at.path, token.value, NAME_HIDDEN) }),
      ...(at.url === undefined ? {} : { url: hideSecret(at.url, token.value, NAME_HIDDEN) }),
    }
    return {
      source: leakSource,
      kind: token.kind,
      title: findingTitle(token.kind, { repo: location.repo, repoUrl: location.repoUrl, path: location.path }),
      location,
      fingerprint: createHash('sha256').update(`public token\0${this.#store.hashes.of(token.sha256)}`).digest('hex').slice(0, 32),
      ...(token.format === undefined ? {} : { format: token.format }),
      tokens: [{ sha256: token.sha256, preview: escapeText(token.preview), kind: token.kind }],
      ...(unit.publishedAt === undefined ? {} : { exposedAt: unit.publishedAt }),
    }
  }
}

/** A unit's location with its names escaped as a scan's are (control characters, bidi overrides). */
function escapedLocation(unit: PublicUnit): PublicUnit['location'] {
  const l = unit.location
  return {
    ...l,
    ...(l.repo === undefined ? {} : { repo: escapeText(l.repo) }),
    ...(l.path === undefined ? {} : { path: escapeText(l.path) }),
    ...(l.branch === undefined ? {} : { branch: escapeText(l.branch) }),
  }
}

/** One key a public place: the repository, commit, file and line (or the unit's address). */
function placeKeyOf(unit: PublicUnit, line: number): string {
  const l = unit.location
  return createHash('sha256').update(JSON.stringify([l.repo ?? '', l.commit ?? '', l.path ?? '', l.url ?? '', line])).digest('hex').slice(0, 32)
}

/** What `watch` reports after each batch or failure (for the log; counts only, never a token). */
export type WatchReport = { outcome: BatchOutcome } | { error: Error; retryInSeconds: number }

/** How `watch` runs. */
export interface WatchOptions {
  signal: AbortSignal
  /** Stop once the source has nothing more now, instead of polling on. */
  once?: boolean
  onReport?: (report: WatchReport) => void
  /** When the source's state says the next poll is due. */
  nextPollAt?: () => Promise<string | undefined>
  /** Asked before each batch; false stops the watch (a shard's lease was lost, or its source has ended). */
  keepGoing?: () => Promise<boolean>
}

/**
 * Runs batches of `source` until `signal` aborts (or, with `once`, until the source has nothing more
 * now): at once while it has more, else when its state says the next poll is due (`nextPollAt`, at
 * least a second away); after a failure, again after a backoff that doubles up to five minutes.
 */
export async function watch(runner: PublicSourceRunner, source: PublicSource, options: WatchOptions): Promise<void> {
  let backoff = 1
  while (!options.signal.aborted) {
    let waitMs: number
    if (options.keepGoing !== undefined && !await options.keepGoing()) return
    try {
      const outcome = await runner.runBatch(source, options.signal)
      options.onReport?.({ outcome })
      backoff = 1
      if (outcome.more) continue
      if (options.once === true) return
      const at = await options.nextPollAt?.()
      waitMs = Math.max(1000, at === undefined ? 0 : Date.parse(at) - Date.now())
    } catch (err) {
      if (options.signal.aborted) return
      // Another worker committed this batch first: read on from where it left the cursor.
      if (err instanceof CursorMovedError) continue
      options.onReport?.({ error: err as Error, retryInSeconds: backoff })
      if (options.once === true) throw err
      waitMs = backoff * 1000
      backoff = Math.min(backoff * 2, 300)
    }
    // Stopped while the batch ran (or by the `nextPollAt` asked): no wait.
    if (options.signal.aborted) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, waitMs)
      options.signal.addEventListener('abort', () => {
        clearTimeout(timer)
        resolve()
      }, { once: true })
    })
  }
}

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
 * set (checked through a bloom filter of the set first: issued-hash-filter.ts). Other providers' formats
 * found in public content are someone else's leaks: counted, never leaks; with `keepOthers`, kept apart
 * (their hash, kind, preview and place: store/other-findings.ts), never in the index or the sync stream.
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
import type { LeakLocation } from '../store/leak-types.js'
import type { OtherFindingInput } from '../store/other-findings.js'
import type { Store } from '../store/store.js'
import { tokenCandidates } from './candidates.js'
import { IssuedHashFilter } from './issued-hash-filter.js'
import { nameTokens, tokensIn } from './name-secrets.js'
import { leakLocationAt, type PublicSource, type PublicUnit, type SourceBatch } from './source.js'
import { cursorIdOf } from './shard.js'

/** The kind of a leak found by its hash alone, in a format no rule knows. */
export const ISSUED_TOKEN_KIND = 'issued_token'

/** What stands for a name that holds the token (as scans show it). */
const NAME_HIDDEN = '[a name that holds the secret]'

/** What stands for an error's message that holds a token, when the token alone cannot be cut out of it. */
const MESSAGE_HIDDEN = 'the read failed (its message held a secret, not kept)'

/** How a runner scans. */
export interface RunnerOptions {
  /** The organisation's own token formats: every match is a leak of ours. */
  ourRules?: readonly Rule[]
  /** Rules whose matches are candidates for the issued-hash check; default the built-in ones. */
  candidateRules?: readonly Rule[]
  /** The audit actor of the leaks made; default `public-sources`. */
  actor?: string
  /**
   * The issued-hash check's filter in front of the store's exact set (issued-hash-filter.ts); default
   * one of its own. `false`: every candidate's hash goes to the exact query (the bench's baseline).
   */
  issuedFilter?: IssuedHashFilter | false
  /**
   * Keep other providers' findings apart (their stored hash, kind, preview and place; never a leak).
   * Default false: they are counted only.
   */
  keepOthers?: boolean
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
  /** That rule's kind (what another provider's finding is kept as: `kind` says `issued_token` for a generic rule). */
  ruleKind?: string
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
  readonly #issuedFilter: IssuedHashFilter | undefined
  readonly #keepOthers: boolean

  constructor(store: Store, options: RunnerOptions = {}) {
    this.#store = store
    this.#ourRules = options.ourRules ?? []
    this.#candidateRules = options.candidateRules ?? builtinRules()
    this.#actor = options.actor ?? 'public-sources'
    this.#issuedFilter = options.issuedFilter === false ? undefined : options.issuedFilter ?? new IssuedHashFilter(store.issuedHashes)
    this.#keepOthers = options.keepOthers === true
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
      // A failure's message may quote a name that holds a token (a repository's, whose commit failed):
      // hidden before it is stored, and in the error thrown, which the watcher logs.
      if (err instanceof Error) err.message = await this.#hideTokens(err.message)
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
    const found: Array<{ unit: PublicUnit; tokens: OurToken[]; hidden?: string[] }> = []
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
        const token: OurToken = { value: c.value, sha256, preview: makePreview(c.value), kind: format === undefined ? ISSUED_TOKEN_KIND : c.rule!.kind, line: c.line, ...(format === undefined ? {} : { format }), ...(c.rule === undefined ? {} : { byRule: true, ruleKind: c.rule.kind }) }
        const stored = this.#store.hashes.of(sha256)
        const list = candidatesByStored.get(stored) ?? []
        list.push({ unit, token })
        candidatesByStored.set(stored, list)
      }
      found.push({ unit, tokens })
    }
    const issued = this.#issuedFilter === undefined
      ? await this.#store.issuedHashes.matching(candidatesByStored.keys())
      : (await this.#issuedFilter.check(candidatesByStored.keys())).issued
    for (const stored of issued) {
      for (const { unit, token } of candidatesByStored.get(stored) ?? []) {
        // A rule's match that is ours after all is not another provider's finding.
        if (token.byRule === true) otherFindings--
        found.find((f) => f.unit === unit)?.tokens.push(token)
      }
    }
    await this.#findNameSecrets(found)
    const others: OtherFindingInput[] = []
    if (this.#keepOthers) {
      for (const [stored, list] of candidatesByStored) {
        if (issued.has(stored)) continue
        for (const { unit, token } of list) {
          if (token.ruleKind === undefined) continue
          // Another provider's token in a name of its unit (a repository named after it) is hidden too.
          const inNames = [...nameTokens(unit.location, this.#ourRules, this.#candidateRules).matched]
          others.push({ sha256: stored, kind: token.ruleKind, preview: escapeText(token.preview), sourceId: source.id, placeKey: placeKeyOf(unit, token.line), location: this.#locationOf(unit, token, inNames) })
        }
      }
    }
    const bytes = toScan.reduce((n, u) => n + Buffer.byteLength(u.content), 0)
    const now = new Date().toISOString()
    const { created, updated } = await this.#commit(source, batch, found, others, toScan, version, bytes, now)
    return { units: batch.units.length, scanned: toScan.length, bytes, leaksCreated: created, leaksUpdated: updated, otherFindings, cursor: batch.next, more: batch.more }
  }

  /**
   * The batch's one transaction: its leaks and their places, its content as seen, the cursor's advance.
   * A failure (the store's; not another worker's commit, which is no fault of this source) is recorded
   * as the source's last error.
   */
  /**
   * The tokens in the names of the units where tokens of ours were found (name-secrets.ts), so that
   * their leaks' locations hide them: only those units' names are ever stored.
   */
  async #findNameSecrets(found: Array<{ unit: PublicUnit; tokens: OurToken[]; hidden?: string[] }>): Promise<void> {
    const byStored = new Map<string, Array<{ hidden: string[]; value: string }>>()
    for (const f of found) {
      if (f.tokens.length === 0) continue
      const names = nameTokens(f.unit.location, this.#ourRules, this.#candidateRules)
      const hidden = [...names.matched]
      f.hidden = hidden
      for (const [sha256, value] of names.unmatched) {
        const stored = this.#store.hashes.of(sha256)
        const list = byStored.get(stored) ?? []
        list.push({ hidden, value })
        byStored.set(stored, list)
      }
    }
    if (byStored.size === 0) return
    for (const stored of await this.#store.issuedHashes.matching(byStored.keys())) {
      for (const { hidden, value } of byStored.get(stored) ?? []) hidden.push(value)
    }
  }

  /** `text` with the tokens it holds hidden: a rule's matches, and the token-shaped runs that are issued. */
  async #hideTokens(text: string): Promise<string> {
    const found = tokensIn([text], this.#ourRules, this.#candidateRules)
    const hidden = [...found.matched]
    const byStored = new Map([...found.unmatched].map(([sha256, value]) => [this.#store.hashes.of(sha256), value]))
    if (byStored.size > 0) {
      for (const stored of await this.#store.issuedHashes.matching(byStored.keys())) hidden.push(byStored.get(stored)!)
    }
    return hidden.reduce((out, secret) => hideSecret(out, secret, MESSAGE_HIDDEN), text)
  }

  async #commit(source: PublicSource, batch: SourceBatch, found: ReadonlyArray<{ unit: PublicUnit; tokens: OurToken[]; hidden?: string[] }>, others: readonly OtherFindingInput[], toScan: readonly PublicUnit[], version: number, bytes: number, now: string): Promise<{ created: number; updated: number }> {
    const repo = this.#store.publicSources
    try {
      return await this.#write(source, batch, found, others, toScan, version, bytes, now)
    } catch (err) {
      if (!(err instanceof CursorMovedError)) await repo.recordError(cursorIdOf(source), `the batch could not be committed: ${(err as Error).message}`, undefined, new Date().toISOString()).catch(() => undefined)
      throw err
    }
  }

  async #write(source: PublicSource, batch: SourceBatch, found: ReadonlyArray<{ unit: PublicUnit; tokens: OurToken[]; hidden?: string[] }>, others: readonly OtherFindingInput[], toScan: readonly PublicUnit[], version: number, bytes: number, now: string): Promise<{ created: number; updated: number }> {
    const repo = this.#store.publicSources
    return this.#store.write(async () => {
      let created = 0
      let updated = 0
      for (const { unit, tokens, hidden } of found) {
        for (const token of tokens) {
          const group = this.#groupOf(source.leakSource, unit, token, hidden ?? [])
          const r = await this.#store.leaks.upsertFromFindings(group, this.#actor)
          if (r.created) created++
          else updated++
          await this.#store.publicSources.addPlace(r.leak.id, placeKeyOf(unit, token.line), source.id, group.location ?? {}, now)
        }
      }
      if (others.length > 0) await this.#store.otherFindings.add(others, now)
      await repo.markSeen(toScan.map((u) => u.contentSha256), source.id, now)
      if (!await repo.advance(cursorIdOf(source), version, { cursor: batch.next, state: batch.state, units: toScan.length, bytes }, now)) {
        throw new CursorMovedError(cursorIdOf(source))
      }
      return { created, updated }
    })
  }

  /**
   * Where `token` is in `unit`, as a leak's location: its names escaped and free of the token, and of
   * `inNames`, the tokens found in the unit's names (name-secrets.ts): a file named after its token
   * (`keys/<token>.txt`), or a repository or branch named after any token, would put it into the location.
   */
  #locationOf(unit: PublicUnit, token: OurToken, inNames: readonly string[]): LeakLocation {
    const at = leakLocationAt(escapedLocation(unit), token.line)
    const secrets = [token.value, ...inNames]
    const hide = (text: string): string => secrets.reduce((out, secret) => hideSecret(out, secret, NAME_HIDDEN), text)
    const location = { ...at }
    for (const key of ['repo', 'repoUrl', 'branch', 'path', 'url'] as const) {
      const text = at[key]
      if (text !== undefined) location[key] = hide(text)
    }
    return location
  }

  /**
   * A token of ours at a unit as a finding group. One leak a token, wherever it is public: the dedupe
   * key is made from the token's stored hash alone, so the same token in another repository, a fork or
   * a later commit updates that leak (and adds a place) instead of making another.
   */
  #groupOf(leakSource: string, unit: PublicUnit, token: OurToken, inNames: readonly string[]): FindingGroup {
    const location = this.#locationOf(unit, token, inNames)
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

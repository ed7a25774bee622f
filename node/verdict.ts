/**
 * The verdict on one request: every credential looked up in the current index; `block` wins over
 * `monitor`, which wins over `pass`. The index lives in an `IndexHolder` so that a new snapshot swaps in
 * whole, while changes are applied to the current index in place.
 */
import type { IncomingHttpHeaders } from 'node:http'
import { LeakIndex, type IndexEntry, type IndexReader } from './leakdb/index.js'
import type { Change } from '../protocol/changes.js'
import { extractCredentials, TOO_LONG, type CredentialPlan } from './credentials.js'
import { collectReplaced } from './leakdb/collect.js'

/** Lookup counters summed over every index this holder has held. */
export interface LookupStats {
  cacheHits: number
  cacheMisses: number
  bloomFalsePositives: number
}

/**
/**
 * Told of every loaded index put in force and every batch of changes applied to it: how the primary of
 * a multi-process node (workers.ts) passes its index on to the proxy processes. A snapshot file read in
 * place during a reload is not announced: the workers keep their index until the loaded one comes.
 */
export interface IndexListener {
  /** `index` is in force; `sinceBase`: the changes already applied on top of its snapshot (`index.base`). */
  swapped(index: LeakIndex, sinceBase: readonly Change[]): void
  /** `changes` were applied to the index in force, bringing it to `revision`. */
  changed(changes: readonly Change[], revision: number): void
}

/**
 * Holds the index the node enforces; `undefined` until one is loaded. While a reload runs it may be a
 * snapshot file read in place (leakdb/snapshot-file.ts) rather than a loaded index.
 */
export class IndexHolder {
  #index: IndexReader | undefined
  /** Told of swaps and changes; none in a single-process node. */
  listener: IndexListener | undefined
  readonly #retired: LookupStats = { cacheHits: 0, cacheMisses: 0, bloomFalsePositives: 0 }
  #collected: Promise<void> = Promise.resolve()
  /** When the index was last known current (ms since epoch), -1 before that ever happened. */
  lastSyncAt = -1

  constructor(index?: IndexReader) {
    this.#index = index
  }

  /** The index in force, if any. */
  get current(): IndexReader | undefined {
    return this.#index
  }

  /** Settles once the index last replaced has been collected (its memory given back). */
  get collected(): Promise<void> {
    return this.#collected
  }

  /**
   * Puts a new index in force at once; requests in flight finish with the old one (a lookup is
   * synchronous), whose file, if it has one, is then closed and whose memory is collected
   * (leakdb/collect.ts) rather than held until V8 next needs room. `sinceBase`: the changes already
   * applied to it since its snapshot (a cache's journal), for the listener.
   */
  swap(index: IndexReader, sinceBase: readonly Change[] = []): void {
    const old = this.#index
    this.#index = index
    if (old !== undefined && old !== index) {
      this.#retired.cacheHits += old.stats.cacheHits
      this.#retired.cacheMisses += old.stats.cacheMisses
      this.#retired.bloomFalsePositives += old.stats.bloomFalsePositives
      old.close?.()
      this.#collected = collectReplaced()
    }
    if (index instanceof LeakIndex) this.listener?.swapped(index, sinceBase)
  }

  /** Says that `changes` were applied to the index in force (the sync client calls it after `applyChanges`). */
  changed(changes: readonly Change[], revision: number): void {
    this.listener?.changed(changes, revision)
  }

  /** Monotonic lookup counters, across swaps. */
  stats(): LookupStats {
    const s = this.#index?.stats
    return {
      cacheHits: this.#retired.cacheHits + (s?.cacheHits ?? 0),
      cacheMisses: this.#retired.cacheMisses + (s?.cacheMisses ?? 0),
      bloomFalsePositives: this.#retired.bloomFalsePositives + (s?.bloomFalsePositives ?? 0),
    }
  }
}

/** One credential of the request that is in the index. */
export interface Hit {
  credential: string
  entry: IndexEntry
}

/** What the node does with a request. */
export type VerdictKind = 'pass' | 'block' | 'monitor' | 'no-index' | 'too-many' | 'too-long'

/** The verdict; `hits` is empty unless the verdict is block or monitor. */
export interface Verdict {
  readonly kind: VerdictKind
  /** The leak that blocks (the first blocking credential's), 0 otherwise. */
  readonly leakId: number
  /** `Leakgate-Leak-Id` value for a monitored request: the distinct leak ids, comma-separated. */
  readonly monitorIds: string
  readonly hits: readonly Hit[]
  /** Credentials looked up (0 for no-index and the limit verdicts). */
  readonly checked: number
}

const NO_HITS: readonly Hit[] = Object.freeze([])
const constant = (kind: VerdictKind, checked = 0): Verdict => Object.freeze({ kind, leakId: 0, monitorIds: '', hits: NO_HITS, checked })
const PASS_NONE = constant('pass')
const NO_INDEX = constant('no-index')
const TOO_MANY_V = constant('too-many')
const TOO_LONG_V = constant('too-long')
// Pass verdicts by number of credentials checked, so the common path allocates nothing.
const PASS_BY_COUNT: Verdict[] = []

function passed(checked: number): Verdict {
  return (PASS_BY_COUNT[checked] ??= constant('pass', checked))
}

// One scratch list for the credentials: the check is synchronous, so requests never share it at once.
const scratch: string[] = []

/**
 * Judges a request by its headers and raw URL (path and query), and by what `more` adds (a checked
 * body's credentials: it returns 0, or `TOO_MANY` / `TOO_LONG`). Never throws on malformed input.
 */
export function judge(plan: CredentialPlan, holder: IndexHolder, headers: IncomingHttpHeaders, url: string, more?: (out: string[]) => number): Verdict {
  const index = holder.current
  if (index === undefined) return NO_INDEX
  let n = extractCredentials(plan, headers, url, scratch)
  if (n >= 0 && more !== undefined) {
    const r = more(scratch)
    n = r < 0 ? r : scratch.length
  }
  if (n < 0) {
    scratch.length = 0
    return n === TOO_LONG ? TOO_LONG_V : TOO_MANY_V
  }
  if (n === 0) return PASS_NONE
  let hits: Hit[] | undefined
  for (let i = 0; i < n; i++) {
    const credential = scratch[i] as string
    const entry = index.check(credential)
    if (entry !== undefined) (hits ??= []).push({ credential, entry })
  }
  scratch.length = 0 // drop references to the request's credentials at once
  if (hits === undefined) return passed(n)
  let leakId = 0
  const ids: number[] = []
  for (const hit of hits) {
    if (hit.entry.action === 'block') {
      if (leakId === 0) leakId = hit.entry.leakId
    } else if (!ids.includes(hit.entry.leakId)) {
      ids.push(hit.entry.leakId)
    }
  }
  return { kind: leakId !== 0 ? 'block' : 'monitor', leakId, monitorIds: ids.join(', '), hits, checked: n }
}

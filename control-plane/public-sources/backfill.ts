/**
 * GitHub's live events with their gaps filled from GH Archive, without an operator. The events feed
 * keeps a few hundred events: when a poll does not meet its cursor again (a watcher that was down, a
 * burst), the events between are only in GH Archive's hourly files. The events source says so in its
 * batch's state (`gap`: the ids and times at both ends); this source, wrapped around it, turns each gap
 * into a span of hours and reads their PushEvents whose ids fall inside the gap, as the gharchive source
 * reads them (each commit's added lines through the commits API), so a push seen by both is scanned
 * once and a token is one leak whose places grow.
 *
 * Everything lives in the events source's own row (`state.backfill`), committed with each batch: a gap
 * noted survives a restart; a gap noted while an earlier one is being read is appended to the list of
 * spans, never lost. The live feed comes first: the archive is read only in batches where the feed has
 * nothing more now, a batch at most `maxPushesPerBatch` pushes of it. An hour not published yet (GH
 * Archive writes an hour's file about an hour after it ends) is asked for again `notPublishedWaitSeconds`
 * later; one still missing a day after its end is given up (GH Archive lacks a few hours) and named in
 * the state (`skippedHours`). A failure of the archive or of a commit's read is the backfill's own
 * (`lastError`, tried again a minute later): it never holds up the live feed.
 */
import { GitHubError } from '../../lib/errors.js'
import { RateLimited } from './github-api.js'
import { HourFiles, hourName, parseHour } from './gharchive.js'
import type { EventsGap, GitHubEventsSource } from './github-events.js'
import type { ShardSpec } from './shard.js'
import type { PublicSource, PublicSourceState, PublicUnit, SourceBatch, SourcePosition } from './source.js'

/** How the backfill reads GH Archive. */
export interface BackfillOptions {
  /** Where GH Archive's hour files are; default https://data.gharchive.org. */
  archiveUrl?: string
  /** Seconds before an hour not published yet is asked for again (default 600). */
  notPublishedWaitSeconds?: number
  /** Pushes of the archive handled in one batch (default 30). */
  maxPushesPerBatch?: number
  /** The most hours one gap is read over (default 72: three days down); the older ones are dropped and counted. */
  maxHoursPerGap?: number
  /** Timeout of an hour file's download (default 120 s). */
  requestTimeoutMs?: number
}

/** One gap: the events after `afterId` and before `beforeId`, looked for in the hours `from` to `to`. */
export interface BackfillSpan {
  afterId: string
  beforeId: string
  from: string
  to: string
}

/** What the backfill keeps in the events source's state (`state.backfill`). */
export interface BackfillState {
  /** Gaps to read, oldest first; the first is being read. */
  spans: BackfillSpan[]
  /** The hour of the first span being read, and how many of its file's pushes (in the file's order) are handled. */
  hour?: string
  done?: number
  /** The hours still to read (for people: the console, GET /v1/public-sources). */
  pendingHours: string[]
  /** No archive read before this time (an hour not published yet, a failure, a rate limit). */
  notBefore?: string
  lastError?: string
  /** Hours given up: still not published a day after they ended. */
  skippedHours?: string[]
  /** Hours of gaps longer than maxHoursPerGap, not read. */
  droppedHours?: number
}

const HOUR_MS = 3_600_000
/** An hour still not published this long after its end is given up. */
const GIVE_UP_MS = 24 * HOUR_MS
/** How long after a failure the archive is tried again. */
const RETRY_MS = 60_000
/** Hours named in `skippedHours` at most. */
const SKIPPED_SHOWN = 24

/** GitHub's public events, their gaps read from GH Archive. Its id and cursor are the events source's. */
export class BackfilledEventsSource implements PublicSource {
  readonly id: string
  readonly leakSource: string
  /** The events source's shard: its cursor row, and only its repositories' pushes read from the archive. */
  readonly shard: ShardSpec | undefined
  readonly #events: GitHubEventsSource
  readonly #files: HourFiles
  readonly #notYetMs: number
  readonly #maxPushes: number
  readonly #maxHours: number

  constructor(events: GitHubEventsSource, options: BackfillOptions = {}) {
    this.id = events.id
    this.leakSource = events.leakSource
    this.shard = events.shard
    this.#events = events
    this.#files = new HourFiles(options.archiveUrl ?? 'https://data.gharchive.org', options.requestTimeoutMs ?? 120_000, events.shard)
    this.#notYetMs = positive(options.notPublishedWaitSeconds ?? 600, 'notPublishedWaitSeconds') * 1000
    this.#maxPushes = positive(options.maxPushesPerBatch ?? 30, 'maxPushesPerBatch')
    this.#maxHours = positive(options.maxHoursPerGap ?? 72, 'maxHoursPerGap')
  }

  async read(position: SourcePosition, signal?: AbortSignal): Promise<SourceBatch> {
    const { backfill: kept, ...liveState } = position.state
    let backfill = backfillStateOf(kept)
    const live = await this.#events.read({ cursor: position.cursor, state: liveState }, signal)
    const { gap, ...state } = live.state as PublicSourceState & { gap?: EventsGap }
    if (gap !== undefined) backfill = this.#withGap(backfill, gap)
    let units = live.units
    let more = live.more
    const now = Date.now()
    const limited = state.rateLimitRemaining === 0 && typeof state.nextPollAt === 'string' && Date.parse(state.nextPollAt) > now
    if (!live.more && !limited && backfill.spans.length > 0 && (backfill.notBefore === undefined || Date.parse(backfill.notBefore) <= now)) {
      const read = await this.#readArchive(backfill, signal)
      units = [...units, ...read.units]
      backfill = read.backfill
      more = read.more
      const pace = this.#events.pace
      if (pace.rateLimitRemaining !== undefined) state.rateLimitRemaining = pace.rateLimitRemaining
      if (pace.rateLimitResetAt !== undefined) state.rateLimitResetAt = pace.rateLimitResetAt
      // A rate limit met on the archive's commits holds the live feed back too: it is the same budget.
      if (read.limitedUntil !== undefined && (typeof state.nextPollAt !== 'string' || Date.parse(state.nextPollAt) < Date.parse(read.limitedUntil))) state.nextPollAt = read.limitedUntil
    }
    return { units, next: live.next, state: { ...state, backfill: { ...backfill, pendingHours: pendingHours(backfill) } }, more }
  }

  /** `backfill` with `gap` among its spans (the same gap noted again, grown, widens its span). */
  #withGap(backfill: BackfillState, gap: EventsGap): BackfillState {
    const before = validTime(gap.beforeAt) ?? Date.now()
    // Without the time of the event before the gap (a row written before it was kept), the hour before.
    let after = Math.min(validTime(gap.afterAt) ?? before - HOUR_MS, before)
    let dropped = backfill.droppedHours ?? 0
    const hours = Math.floor(before / HOUR_MS) - Math.floor(after / HOUR_MS) + 1
    if (hours > this.#maxHours) {
      dropped += hours - this.#maxHours
      after = before - (this.#maxHours - 1) * HOUR_MS
    }
    const from = hourName(new Date(after))
    const to = hourName(new Date(before))
    const spans = backfill.spans.map((s) => ({ ...s }))
    const out: BackfillState = { ...backfill, spans, ...(dropped === 0 ? {} : { droppedHours: dropped }) }
    const same = spans.findIndex((s) => s.afterId === gap.afterId)
    const existing = spans[same]
    if (existing === undefined) {
      spans.push({ afterId: gap.afterId, beforeId: gap.beforeId, from, to })
      return out
    }
    if (compareIds(gap.beforeId, existing.beforeId) > 0) existing.beforeId = gap.beforeId
    if (parseHour(to, 'to') > parseHour(existing.to, 'to')) existing.to = to
    // The span being read grew: its hour is read again from its start, since the events now inside may
    // stand anywhere in the file (read again, content is skipped by its hash).
    if (same === 0) out.done = 0
    return out
  }

  /** Up to maxPushesPerBatch of the archive's pushes in the spans, from where the backfill stands. */
  async #readArchive(start: BackfillState, signal: AbortSignal | undefined): Promise<{ units: PublicUnit[]; backfill: BackfillState; more: boolean; limitedUntil?: string }> {
    const spans = start.spans.map((s) => ({ ...s }))
    const skipped = [...start.skippedHours ?? []]
    let hour = start.hour
    let done = start.done ?? 0
    const units: PublicUnit[] = []
    let handled = 0
    const now = Date.now()
    const at = (extra: Partial<BackfillState> = {}): BackfillState => {
      const out: BackfillState = { spans, pendingHours: [], ...extra }
      if (hour !== undefined) {
        out.hour = hour
        out.done = done
      }
      if (skipped.length > 0) out.skippedHours = skipped.slice(-SKIPPED_SHOWN)
      if (start.droppedHours !== undefined) out.droppedHours = start.droppedHours
      return out
    }
    try {
      while (spans.length > 0 && handled < this.#maxPushes) {
        const span = spans[0]!
        hour ??= span.from
        if (parseHour(hour, 'hour') > parseHour(span.to, 'to')) {
          spans.shift()
          hour = undefined
          done = 0
          continue
        }
        const file = await this.#files.pushes(hour, signal)
        if (file === 'not-yet') {
          if (parseHour(hour, 'hour').getTime() + HOUR_MS + GIVE_UP_MS > now) {
            return { units, backfill: at({ notBefore: new Date(now + this.#notYetMs).toISOString() }), more: false }
          }
          skipped.push(hour)
          hour = nextHour(hour)
          done = 0
          continue
        }
        while (done < file.pushes.length && handled < this.#maxPushes) {
          const event = file.pushes[done]!
          if (inside(event.id, span)) {
            units.push(...await this.#events.unitsOf(event, signal))
            handled++
          }
          done++
        }
        if (done >= file.pushes.length) {
          this.#files.forget(hour)
          hour = nextHour(hour)
          done = 0
        }
      }
      return { units, backfill: at(), more: spans.length > 0 }
    } catch (err) {
      if (err instanceof RateLimited) {
        // The pushes read in full are kept; the one whose commits met the limit is read again after it.
        const until = new Date(now + (this.#events.pace.waitSeconds ?? 60) * 1000).toISOString()
        return { units, backfill: at({ notBefore: until }), more: false, limitedUntil: until }
      }
      if (signal?.aborted === true) throw err
      // The archive's failure is its own: nothing of its part is kept, and the live feed goes on.
      const said = err instanceof GitHubError ? err.message : `GH Archive backfill failed: ${(err as Error).message}`
      // Kept in the state, which no scan hides tokens from: a repository's name (one named after a
      // token) is left out.
      const message = said.replace(/\/repos\/\S+/g, '/repos/{repo}/commits/{sha}')
      return { units: [], backfill: { ...start, lastError: message.slice(0, 500), notBefore: new Date(now + RETRY_MS).toISOString() }, more: false }
    }
  }
}

/** The backfill state kept in a row (what this file wrote), or an empty one. */
function backfillStateOf(kept: unknown): BackfillState {
  if (kept === null || typeof kept !== 'object') return { spans: [], pendingHours: [] }
  const k = kept as Partial<BackfillState>
  const spans = Array.isArray(k.spans) ? k.spans.filter((s): s is BackfillSpan => typeof s?.afterId === 'string' && typeof s.beforeId === 'string' && typeof s.from === 'string' && typeof s.to === 'string') : []
  const out: BackfillState = { spans, pendingHours: [] }
  if (typeof k.hour === 'string') out.hour = k.hour
  if (typeof k.done === 'number') out.done = k.done
  if (typeof k.notBefore === 'string') out.notBefore = k.notBefore
  if (typeof k.lastError === 'string') out.lastError = k.lastError
  if (Array.isArray(k.skippedHours)) out.skippedHours = k.skippedHours.filter((h): h is string => typeof h === 'string')
  if (typeof k.droppedHours === 'number') out.droppedHours = k.droppedHours
  return out
}

/** The hours still to read, each once, in order. */
export function pendingHours(backfill: BackfillState): string[] {
  const out = new Set<string>()
  backfill.spans.forEach((span, i) => {
    let hour = i === 0 && backfill.hour !== undefined ? backfill.hour : span.from
    for (let n = 0; n < 10_000 && parseHour(hour, 'hour') <= parseHour(span.to, 'to'); n++) {
      out.add(hour)
      hour = nextHour(hour)
    }
  })
  return [...out]
}

function nextHour(hour: string): string {
  return hourName(new Date(parseHour(hour, 'hour').getTime() + HOUR_MS))
}

function validTime(at: string | undefined): number | undefined {
  const t = at === undefined ? NaN : Date.parse(at)
  return Number.isNaN(t) ? undefined : t
}

/** Whether event `id` is one of the gap's (ids rise with time; an id that is not a number is none). */
function inside(id: string, span: BackfillSpan): boolean {
  if (!/^\d{1,30}$/.test(id)) return false
  return compareIds(id, span.afterId) > 0 && compareIds(id, span.beforeId) < 0
}

/** Event ids are decimal and may pass 2^53: compared as big integers. */
function compareIds(a: string, b: string): number {
  const x = BigInt(a)
  const y = BigInt(b)
  return x < y ? -1 : x > y ? 1 : 0
}

function positive(n: number, name: string): number {
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`${name} must be a positive integer, got ${n}`)
  return n
}

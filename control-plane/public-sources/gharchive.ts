/**
 * GH Archive's hourly files as a public source: the backfill of GitHub's public events, for hours the
 * live feed no longer holds (a watcher that was down, a gap the events source named in `missedAfter`).
 * Each hour is one file, `{archiveUrl}/{YYYY-MM-DD-H}.json.gz`, one event a line; its PushEvents are read
 * as the events source reads them (each commit's added lines, through the commits API), so the leaks and
 * places are the same whichever of the two saw a push first, and content scanned by one is skipped by
 * the other.
 *
 * The cursor is `{hour}:{n}`: the hour's file and how many of its PushEvents (in the file's order) are
 * handled (a shard's: only the pushes of its repositories, shard.ts). An hour not published yet (404) is no error: the source asks again ten minutes later. A file that does
 * not decompress or parse as a whole (cut off) fails the read and the cursor stays; a single line that
 * is not JSON is skipped and counted in the state (`malformedLines`).
 */
import { gunzip } from 'node:zlib'
import { promisify } from 'node:util'
import { GitHubError } from '../../lib/errors.js'
import { RateLimited } from './github-api.js'
import { GitHubEventsSource, type GitHubEvent, type GitHubEventsOptions } from './github-events.js'
import type { PublicSource, PublicSourceState, PublicUnit, SourceBatch, SourcePosition } from './source.js'
import { belongsTo, checkShard, type ShardSpec } from './shard.js'

const gunzipAsync = promisify(gunzip)

/** How to read GH Archive (and GitHub, for the commits). */
export interface GHArchiveOptions extends GitHubEventsOptions {
  /** Default https://data.gharchive.org. */
  archiveUrl?: string
  /** The first hour to read, `YYYY-MM-DD-H` (UTC; the hour without a leading zero, as GH Archive names files). */
  from: string
  /** The last hour to read (included); default: no end, each hour once it is published. */
  to?: string
  /** Seconds before an hour not published yet is asked for again (default 600). */
  notPublishedWaitSeconds?: number
}

/** The largest hour file read (decompressed): an hour is a few hundred megabytes at most. */
const MAX_HOUR_BYTES = 2 * 1024 * 1024 * 1024 - 1
/** The hour is decoded to text in pieces of about this size, each ending at a line's end. */
const DECODE_PIECE_BYTES = 64 * 1024 * 1024

const HOUR = /^(\d{4})-(\d{2})-(\d{2})-(\d{1,2})$/

/** GH Archive's hours. */
export class GHArchiveSource implements PublicSource {
  readonly id: string
  readonly shard: ShardSpec | undefined
  readonly leakSource = 'github'
  readonly #archive: string
  readonly #from: string
  readonly #to: Date | undefined
  readonly #github: GitHubEventsSource
  readonly #maxEvents: number
  readonly #notYetSeconds: number
  readonly #files: HourFiles

  constructor(options: GHArchiveOptions) {
    this.id = options.id ?? 'gharchive'
    this.shard = checkShard(options.shard)
    this.#archive = (options.archiveUrl ?? 'https://data.gharchive.org').replace(/\/+$/, '')
    this.#from = hourName(parseHour(options.from, 'from'))
    this.#to = options.to === undefined ? undefined : parseHour(options.to, 'to')
    this.#github = new GitHubEventsSource(options)
    this.#maxEvents = options.maxEventsPerBatch ?? 30
    this.#files = new HourFiles(this.#archive, options.requestTimeoutMs ?? 120_000, this.shard)
    this.#notYetSeconds = options.notPublishedWaitSeconds ?? 600
  }

  async read(position: SourcePosition, signal?: AbortSignal): Promise<SourceBatch> {
    const state = position.state
    const unchanged = (extra: PublicSourceState = {}): SourceBatch => ({ units: [], next: position.cursor, state: { ...state, ...extra }, more: false })
    if (typeof state.nextPollAt === 'string' && Date.parse(state.nextPollAt) > Date.now()) return unchanged()
    const { hour, done } = parseCursor(position.cursor ?? `${this.#from}:0`)
    if (this.#to !== undefined && parseHour(hour, 'cursor') > this.#to) return unchanged({ finished: true, nextPollAt: new Date(Date.now() + 86_400_000).toISOString() })
    const file = await this.#files.pushes(hour, signal)
    if (file === 'not-yet') return unchanged({ nextPollAt: new Date(Date.now() + this.#notYetSeconds * 1000).toISOString() })
    this.#github.resetPace()
    const units: PublicUnit[] = []
    let handled = done
    let limited = false
    for (const event of file.pushes.slice(done, done + this.#maxEvents)) {
      try {
        units.push(...await this.#github.unitsOf(event, signal))
      } catch (err) {
        if (!(err instanceof RateLimited)) throw err
        limited = true
        break
      }
      handled++
    }
    const hourDone = handled >= file.pushes.length
    const next = hourDone ? `${hourName(new Date(parseHour(hour, 'cursor').getTime() + 3_600_000))}:0` : `${hour}:${handled}`
    const pace = this.#github.pace
    const out: PublicSourceState = {
      hour, malformedLines: file.malformed,
      // How far behind the live feed: the end of the hour being read.
      lagSeconds: Math.max(0, Math.round((Date.now() - parseHour(hour, 'cursor').getTime() - 3_600_000) / 1000)),
      ...(pace.rateLimitRemaining === undefined ? {} : { rateLimitRemaining: pace.rateLimitRemaining }),
      ...(pace.rateLimitResetAt === undefined ? {} : { rateLimitResetAt: pace.rateLimitResetAt }),
      ...(limited ? { nextPollAt: new Date(Date.now() + (pace.waitSeconds ?? 60) * 1000).toISOString() } : {}),
    }
    if (hourDone) this.#files.forget(hour)
    return { units, next, state: out, more: !limited }
  }
}

/**
 * GH Archive's hour files, read whole (decompressed) and kept while their pushes are handled: a batch
 * takes 30 of an hour's thousands, and the file is read once. Also read by the events source's own
 * backfill (backfill.ts).
 */
export class HourFiles {
  readonly #archive: string
  readonly #timeoutMs: number
  readonly #shard: ShardSpec | undefined
  #cached: { hour: string; pushes: GitHubEvent[]; malformed: number } | undefined

  /** `archive`: where the hour files are (`https://data.gharchive.org`); `shard`: keep only its pushes. */
  constructor(archive: string, timeoutMs: number, shard?: ShardSpec) {
    this.#archive = archive.replace(/\/+$/, '')
    this.#timeoutMs = timeoutMs
    this.#shard = shard
  }

  /** Lets go of `hour`'s file once it is handled. */
  forget(hour: string): void {
    if (this.#cached?.hour === hour) this.#cached = undefined
  }

  /** The PushEvents of `hour`, or 'not-yet' when its file is not published. */
  async pushes(hour: string, signal: AbortSignal | undefined): Promise<{ pushes: GitHubEvent[]; malformed: number } | 'not-yet'> {
    if (this.#cached?.hour === hour) return this.#cached
    const url = `${this.#archive}/${hour}.json.gz`
    const timeout = AbortSignal.timeout(this.#timeoutMs)
    let body: Buffer
    try {
      const res = await fetch(url, { redirect: 'follow', signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]) })
      if (res.status === 404) return 'not-yet'
      if (res.status !== 200) throw new GitHubError(`GH Archive answered ${res.status} for ${hour}.json.gz`)
      body = Buffer.from(await res.arrayBuffer())
    } catch (err) {
      if (err instanceof GitHubError) throw err
      throw new GitHubError(`GH Archive: reading ${hour}.json.gz failed: ${(err as Error).message}`, { cause: err })
    }
    let raw: Buffer
    try {
      raw = await gunzipAsync(body, { maxOutputLength: MAX_HOUR_BYTES })
    } catch (err) {
      throw new GitHubError(`GH Archive: ${hour}.json.gz does not decompress (cut off or not gzip): ${(err as Error).message}`, { cause: err })
    }
    const pushes: GitHubEvent[] = []
    let malformed = 0
    // Decoded in pieces of whole lines: a whole hour can be longer than the longest string V8 makes (512 MiB).
    const lines = function* (): Generator<string> {
      for (let start = 0; start < raw.length;) {
        const newline = raw.indexOf(0x0a, Math.min(raw.length, start + DECODE_PIECE_BYTES))
        const end = newline === -1 ? raw.length : newline
        yield* raw.toString('utf8', start, end).split('\n')
        start = end + 1
      }
    }
    for (const line of lines()) {
      if (line.trim() === '') continue
      let event: Partial<GitHubEvent> | null
      try {
        event = JSON.parse(line) as Partial<GitHubEvent> | null
      } catch {
        malformed++
        continue
      }
      if (event === null || typeof event !== 'object' || event.type !== 'PushEvent' || typeof event.id !== 'string') continue
      // A shard keeps its own pushes only: its cursor counts them, and a batch is 30 of them.
      if (!belongsTo(this.#shard, String(event.repo?.name))) continue
      pushes.push(event as GitHubEvent)
    }
    this.#cached = { hour, pushes, malformed }
    return this.#cached
  }
}

/** `YYYY-MM-DD-H` as the hour's start. */
export function parseHour(name: string, what: string): Date {
  const m = HOUR.exec(name)
  const at = m === null ? NaN : Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]))
  if (m === null || Number.isNaN(at) || Number(m[4]) > 23 || hourName(new Date(at)) !== name) {
    throw new TypeError(`${what} must be an hour as GH Archive names its files (YYYY-MM-DD-H, UTC), got ${JSON.stringify(name)}`)
  }
  return new Date(at)
}

/** The file name of the hour starting at `at` (or within it). */
export function hourName(at: Date): string {
  return `${at.toISOString().slice(0, 10)}-${at.getUTCHours()}`
}

function parseCursor(cursor: string): { hour: string; done: number } {
  const m = /^(\d{4}-\d{2}-\d{2}-\d{1,2}):(\d{1,9})$/.exec(cursor)
  if (m === null) throw new GitHubError(`the GH Archive cursor ${JSON.stringify(cursor.slice(0, 40))} is not {hour}:{count}`)
  return { hour: m[1]!, done: Number(m[2]) }
}

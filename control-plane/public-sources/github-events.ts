/**
 * GitHub's public events as a public source: `GET /events` polled the way its documentation asks
 * (the ETag sent back as If-None-Match, so an unchanged feed answers 304 and costs no request of the
 * budget; no poll sooner than X-Poll-Interval; the X-RateLimit-* budget and a 403/429's Retry-After
 * waited out), pages followed by their `Link: rel="next"`. Each PushEvent's commits are read through
 * `GET /repos/{owner}/{repo}/commits/{sha}`, and each changed file's patch becomes a unit holding its
 * added lines, at their line numbers in the new file (the other lines blank), so a finding links to
 * the line at the commit.
 *
 * The cursor is the id of the newest event handled: events come newest first and the feed moves
 * between polls, so a poll reads pages until it meets that id again (the overlap) and handles only the
 * newer events, oldest first, at most `maxEventsPerBatch` at once. A poll that never meets it (more
 * events came than the feed keeps, a few hundred) says so in its state (`missedAfter`): those events
 * are only in GH Archive's hourly files.
 *
 * Failures: an answer of 5xx, or one that is not the JSON it should be (truncated, malformed), fails
 * the read, and the cursor stays for the next one. A rate limit met while reading commits ends the
 * batch at the last event whose commits were all read; the cursor stops there.
 */
import { GitHubError } from '../../lib/errors.js'
import { GitHubApi, nextLink, parseJson, RateLimited, type GitHubApiOptions, type Pace } from './github-api.js'
import { webLinksOf } from '../detect/sources/git.js'
import { unitOf, type PublicSource, type PublicSourceState, type PublicUnit, type SourceBatch, type SourcePosition } from './source.js'
import { belongsTo, checkShard, type ShardSpec } from './shard.js'

/** How to reach GitHub. */
export interface GitHubEventsOptions extends GitHubApiOptions {
  /** Where repositories' pages are, for links; default https://github.com. */
  webUrl?: string
  /** Events handled in one batch (default 30): a batch is one transaction of the store. */
  maxEventsPerBatch?: number
  /** Commits read of one push (default 20, as many as the event lists). */
  maxCommitsPerPush?: number
  /** Pages of events read in one poll (default 3: the feed keeps 300 events, 100 a page). */
  maxPages?: number
  /** The source id (its cursor row); default `github-events`. */
  id?: string
  /** Read only this shard's units (shard.ts). */
  shard?: ShardSpec
}

/** The state this source keeps between reads (beside the common fields). */
interface EventsState extends PublicSourceState {
  etag?: string
  /** Set when a poll did not meet the cursor again: the events after this id and before the oldest read were missed. */
  missedAfter?: string
  /** When the event the cursor names was made: where a gap after it starts in GH Archive's hours. */
  cursorAt?: string
  /** Only in the state of the batch that met a gap: its ends (backfill.ts takes it into its spans). */
  gap?: EventsGap
}

/** Events a poll missed: those after `afterId` and before `beforeId`, made from `afterAt` to `beforeAt`. */
export interface EventsGap {
  afterId: string
  afterAt?: string
  beforeId: string
  beforeAt?: string
}

/** An event as the events API (and GH Archive) gives it: the fields read. */
export interface GitHubEvent {
  id: string
  type: string
  created_at?: string
  repo?: { name?: string }
  payload?: { ref?: string; head?: string; before?: string; commits?: Array<{ sha?: string; distinct?: boolean }> }
}

interface CommitFile {
  filename?: string
  patch?: string
}

const DEFAULT_POLL_SECONDS = 60

/** GitHub's public events. */
export class GitHubEventsSource implements PublicSource {
  readonly id: string
  readonly shard: ShardSpec | undefined
  readonly leakSource = 'github'
  readonly #gh: GitHubApi
  readonly #web: string
  readonly #maxEvents: number
  readonly #maxCommits: number
  readonly #maxPages: number

  constructor(options: GitHubEventsOptions = {}) {
    this.id = options.id ?? 'github-events'
    this.shard = checkShard(options.shard)
    this.#gh = new GitHubApi(options)
    this.#web = (options.webUrl ?? 'https://github.com').replace(/\/+$/, '')
    this.#maxEvents = positive(options.maxEventsPerBatch ?? 30, 'maxEventsPerBatch')
    this.#maxCommits = positive(options.maxCommitsPerPush ?? 20, 'maxCommitsPerPush')
    this.#maxPages = positive(options.maxPages ?? 3, 'maxPages')
  }

  /** What the answers since the last `resetPace` said of the budget and pace (for a source reading through this one). */
  get pace(): Readonly<Pace> {
    return this.#gh.pace
  }

  /** Forgets the budget and pace seen (at the start of a read). */
  resetPace(): void {
    this.#gh.resetPace()
  }

  async read(position: SourcePosition, signal?: AbortSignal): Promise<SourceBatch> {
    const state = position.state as EventsState
    const now = Date.now()
    this.#gh.resetPace()
    const unchanged = (extra: Partial<EventsState> = {}): SourceBatch => ({ units: [], next: position.cursor, state: { ...state, ...extra }, more: false })
    if (state.nextPollAt !== undefined && Date.parse(state.nextPollAt) > now) return unchanged()

    const listed = await this.#listEvents(position.cursor, state.etag, signal)
    if (listed === 'not-modified') return unchanged(this.#stateAfter(state, { etag: state.etag, more: false }))
    if (listed instanceof RateLimited) return unchanged(this.#stateAfter(state, { etag: state.etag, more: false }))
    const { events, etag, metCursor } = listed
    const fresh = events.filter((e) => position.cursor === null || after(e.id, position.cursor)).sort((a, b) => compareIds(a.id, b.id))
    const take = fresh.slice(0, this.#maxEvents)
    const units: PublicUnit[] = []
    let next = position.cursor
    let newest: string | undefined
    let limited = false
    for (const event of take) {
      try {
        units.push(...await this.unitsOf(event, signal))
      } catch (err) {
        if (!(err instanceof RateLimited)) throw err
        limited = true
        break
      }
      next = event.id
      newest = event.created_at ?? newest
    }
    const more = !limited && fresh.length > take.length
    const oldest = fresh[0]
    const missed = position.cursor !== null && !metCursor && oldest !== undefined
      ? { missedAfter: position.cursor, gap: { afterId: position.cursor, ...(state.cursorAt === undefined ? {} : { afterAt: state.cursorAt }), beforeId: oldest.id, ...(oldest.created_at === undefined ? {} : { beforeAt: oldest.created_at }) } }
      : {}
    const lag = newest === undefined ? {} : { lagSeconds: Math.max(0, Math.round((now - Date.parse(newest)) / 1000)) }
    // The ETag stands for the whole first page: kept only once every event on it is handled, or a
    // 304 would hide the rest.
    return { units, next, state: this.#stateAfter(state, { etag: more || limited ? undefined : etag, more, ...missed, ...lag, ...(newest === undefined ? {} : { cursorAt: newest }) }), more }
  }

  /** The state after a poll: the budget seen, and when the next poll may be. */
  #stateAfter(before: EventsState, got: { etag: string | undefined; more: boolean; missedAfter?: string; gap?: EventsGap; lagSeconds?: number; cursorAt?: string }): EventsState {
    const pace = this.#gh.pace
    const interval = pace.pollIntervalSeconds ?? before.pollIntervalSeconds ?? DEFAULT_POLL_SECONDS
    // A rate limit says itself when to come back; otherwise the feed's interval, unless more is waiting.
    const wait = pace.waitSeconds ?? (got.more ? 0 : interval)
    const out: EventsState = { pollIntervalSeconds: interval }
    if (got.etag !== undefined) out.etag = got.etag
    const remaining = pace.rateLimitRemaining ?? before.rateLimitRemaining
    if (remaining !== undefined) out.rateLimitRemaining = remaining
    const resetAt = pace.rateLimitResetAt ?? before.rateLimitResetAt
    if (resetAt !== undefined) out.rateLimitResetAt = resetAt
    if (wait > 0) out.nextPollAt = new Date(Date.now() + wait * 1000).toISOString()
    const missedAfter = got.missedAfter ?? before.missedAfter
    if (missedAfter !== undefined) out.missedAfter = missedAfter
    if (got.gap !== undefined) out.gap = got.gap
    const cursorAt = got.cursorAt ?? before.cursorAt
    if (cursorAt !== undefined) out.cursorAt = cursorAt
    const lag = got.lagSeconds ?? before.lagSeconds
    if (lag !== undefined) out.lagSeconds = lag
    return out
  }

  /** The events of the feed down to `cursor` (or its last page), or 304, or a rate limit met on any page. */
  async #listEvents(cursor: string | null, etag: string | undefined, signal: AbortSignal | undefined): Promise<{ events: GitHubEvent[]; etag: string | undefined; metCursor: boolean } | 'not-modified' | RateLimited> {
    let url: string | undefined = `${this.#gh.api}/events?per_page=100`
    const events: GitHubEvent[] = []
    let firstEtag: string | undefined
    for (let page = 0; url !== undefined && page < this.#maxPages; page++) {
      const res = await this.#gh.get(url, page === 0 && etag !== undefined ? { 'if-none-match': etag } : {}, signal)
      if (res.status === 304) return 'not-modified'
      // Limited on a later page: the events of the pages not read lie between the cursor and those
      // read, so none is handled (handling the newer ones would move the cursor past them).
      if (res.limited !== undefined) return res.limited
      if (res.status !== 200) throw new GitHubError(`GET /events answered ${res.status}`)
      const body = parseJson(res.text, '/events')
      if (!Array.isArray(body)) throw new GitHubError('GET /events did not answer a list of events')
      if (page === 0) firstEtag = res.headers.get('etag') ?? undefined
      for (const e of body as unknown[]) {
        const event = e as Partial<GitHubEvent> | null
        if (event === null || typeof event !== 'object' || typeof event.id !== 'string' || !/^\d{1,30}$/.test(event.id) || typeof event.type !== 'string') {
          throw new GitHubError('GET /events answered an event without a numeric id and a type')
        }
        events.push(event as GitHubEvent)
      }
      if (cursor !== null && events.some((e) => !after(e.id, cursor))) return { events, etag: firstEtag, metCursor: true }
      url = nextLink(res.headers.get('link'), this.#gh.api)
    }
    return { events, etag: firstEtag, metCursor: cursor === null }
  }

  /**
   * The units of one event: a push's commits' added lines, file by file; nothing for other events.
   * Throws RateLimited when the API's budget ran out (GH Archive's backfill reads pushes this way too).
   */
  async unitsOf(event: GitHubEvent, signal: AbortSignal | undefined): Promise<PublicUnit[]> {
    if (event.type !== 'PushEvent') return []
    const repo = event.repo?.name
    if (typeof repo !== 'string' || !/^[\w.-]+\/[\w.-]+$/.test(repo)) return []
    // Another shard's repository: its commits are not read (the cursor passes the event).
    if (!belongsTo(this.shard, repo)) return []
    const payload = event.payload ?? {}
    const branch = typeof payload.ref === 'string' && payload.ref.startsWith('refs/heads/') ? payload.ref.slice('refs/heads/'.length) : undefined
    const repoUrl = `${this.#web}/${repo}`
    const place = { repo, repoUrl, links: webLinksOf(repoUrl), ...(branch === undefined ? {} : { branch }), ...(event.created_at === undefined ? {} : { at: event.created_at }) }
    let shas: string[]
    if (Array.isArray(payload.commits)) {
      // The event lists the pushed commits (`distinct: false` ones were pushed before, elsewhere).
      shas = payload.commits.filter((c) => c.distinct !== false).map((c) => c.sha).filter(isSha)
    } else {
      // Events no longer list a push's commits, only where the branch was (`before`) and is (`head`):
      // the commits between are asked of the compare API, so a token added by an earlier commit of
      // the push and removed by a later one is read too. A new branch (`before` all zeros), or a
      // `before` gone since (a force-push), leaves the head commit to stand for the push.
      const pushed = await this.#pushedCommits(repo, payload.before, payload.head, place, signal)
      if (!Array.isArray(pushed)) return pushed.units
      shas = pushed
    }
    const units: PublicUnit[] = []
    for (const sha of shas.slice(0, this.#maxCommits)) {
      const res = await this.#gh.get(`${this.#gh.api}/repos/${repo}/commits/${sha}`, {}, signal)
      if (res.limited !== undefined) throw res.limited
      // Gone since the push (a force-push, a deleted or private repository): nothing public to scan.
      if (res.status === 404 || res.status === 409 || res.status === 422 || res.status === 451) continue
      if (res.status !== 200) throw new GitHubError(`GET /repos/${repo}/commits/${sha} answered ${res.status}`)
      const commit = parseJson(res.text, `/repos/${repo}/commits/${sha}`) as { sha?: unknown; files?: unknown }
      if (commit === null || typeof commit !== 'object' || !Array.isArray(commit.files)) {
        throw new GitHubError(`GET /repos/${repo}/commits/${sha} did not answer a commit with its files`)
      }
      units.push(...unitsOfFiles(commit.files as CommitFile[], typeof commit.sha === 'string' ? commit.sha : sha, place))
    }
    return units
  }

  /**
   * The commits a push added, from the compare API (oldest first); or, for a push of one commit, its
   * units straight from the comparison (its files are that commit's: no second request).
   */
  async #pushedCommits(repo: string, before: unknown, head: unknown, place: CommitPlace, signal: AbortSignal | undefined): Promise<string[] | { units: PublicUnit[] }> {
    if (!isSha(head)) return []
    if (!isSha(before) || /^0+$/.test(before)) return [head]
    const path = `/repos/${repo}/compare/${before}...${head}`
    const res = await this.#gh.get(`${this.#gh.api}${path}`, {}, signal)
    if (res.limited !== undefined) throw res.limited
    if (res.status === 404 || res.status === 409 || res.status === 422 || res.status === 451) return [head]
    if (res.status !== 200) throw new GitHubError(`GET ${path} answered ${res.status}`)
    const compared = parseJson(res.text, path) as { commits?: unknown; files?: unknown } | null
    if (compared === null || typeof compared !== 'object' || !Array.isArray(compared.commits)) {
      throw new GitHubError(`GET ${path} did not answer a comparison with its commits`)
    }
    const shas = (compared.commits as Array<{ sha?: unknown }>).map((c) => c?.sha).filter(isSha)
    if (shas.length === 1 && Array.isArray(compared.files)) return { units: unitsOfFiles(compared.files as CommitFile[], shas[0]!, place) }
    return shas.length === 0 ? [head] : shas
  }

}

/** Where a push's commits are: for their units' locations. */
interface CommitPlace {
  repo: string
  repoUrl: string
  links: ReturnType<typeof webLinksOf>
  branch?: string
  /** When the push was made. */
  at?: string
}

function isSha(value: unknown): value is string {
  return typeof value === 'string' && /^[0-9a-f]{7,64}$/.test(value)
}

/** Each changed file's added lines at commit `sha` as a unit. */
function unitsOfFiles(files: readonly CommitFile[], sha: string, place: CommitPlace): PublicUnit[] {
  const units: PublicUnit[] = []
  for (const file of files) {
    // No patch: a binary file, or one too large for the API to show a diff of.
    if (typeof file?.filename !== 'string' || typeof file.patch !== 'string') continue
    const content = addedLines(file.patch)
    if (content === undefined) continue
    const path = file.filename
    units.push(unitOf(`${place.repo}@${sha}:${path}`, content, {
      repo: place.repo, repoUrl: place.repoUrl, commit: sha, path, ...(place.branch === undefined ? {} : { branch: place.branch }),
      link: (line) => place.links.blob(sha, path, line),
    }, place.at))
  }
  return units
}

/** The last line number a unit places a line at: the blank lines before it cost a byte each. */
const MAX_LINE = 1_000_000

/**
 * The added lines of a unified diff, each at its line number in the new file, other lines blank;
 * undefined when it adds nothing. A `\ No newline at end of file` marker is not a line. Lines past
 * MAX_LINE are left out (a patch that far into a file is beyond what the commits API shows anyway).
 */
export function addedLines(patch: string): string | undefined {
  const lines: string[] = []
  let at = 0
  let any = false
  for (const line of patch.split('\n')) {
    const hunk = /^@@ -\d+(?:,\d+)? \+(\d{1,9})(?:,\d+)? @@/.exec(line)
    if (hunk !== null) {
      at = Number(hunk[1])
      continue
    }
    if (at > MAX_LINE) continue
    if (at === 0 || line.startsWith('\\')) continue
    if (line.startsWith('-')) continue
    if (line.startsWith('+')) {
      while (lines.length < at - 1) lines.push('')
      lines[at - 1] = line.slice(1)
      any = true
    }
    at++
  }
  return any ? lines.join('\n') : undefined
}

/** Event ids are decimal and may pass 2^53: compared as big integers. */
function compareIds(a: string, b: string): number {
  const x = BigInt(a)
  const y = BigInt(b)
  return x < y ? -1 : x > y ? 1 : 0
}

function after(id: string, cursor: string): boolean {
  return compareIds(id, cursor) > 0
}

function positive(n: number, name: string): number {
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`${name} must be a positive integer, got ${n}`)
  return n
}

/**
 * GitHub's public gists as a public source: `GET /gists/public` (most recently updated first, `since`
 * to read only what changed after the cursor, pages by `Link: rel="next"`), each file of each gist read
 * from its `raw_url` (at the gist's revision) and scanned whole, a unit a file. A gist updated again is
 * read again at its new revision; files whose content was scanned before (the same file in another
 * gist, a revision that changed another file) are skipped by their content hash.
 *
 * The cursor is `{updated_at}|{ids}`: the newest update handled and the gists handled at that very
 * second, so two gists updated in the same second are both read, whatever batch each falls in.
 * Failures and rate limits as for the events source: a 5xx or unreadable answer fails the batch (the
 * cursor stays); a rate limit ends it at the last gist read in full.
 */
import { GitHubError } from '../../lib/errors.js'
import { gistFileAnchor } from '../detect/sources/github-gists.js'
import { GitHubApi, nextLink, parseJson, RateLimited, type GitHubApiOptions } from './github-api.js'
import { unitOf, type PublicSource, type PublicSourceState, type PublicUnit, type SourceBatch, type SourcePosition } from './source.js'
import { belongsTo, checkShard, type ShardSpec } from './shard.js'

/** How to read the public gists. */
export interface GitHubGistsOptions extends GitHubApiOptions {
  /** Gists handled in one batch (default 20). */
  maxGistsPerBatch?: number
  /** Files larger than this are not read (default 1 MiB; the listing gives each file's size). */
  maxFileBytes?: number
  /** Pages of the listing read in one poll (default 30: the listing stops at 3000 gists). */
  maxPages?: number
  /** Seconds between polls when nothing more is waiting (default 60). */
  pollSeconds?: number
  /** Where raw files may be read from besides the API's origin (default https://gist.githubusercontent.com). */
  rawOrigins?: readonly string[]
  /** The source id (its cursor row); default `github-gists`. */
  id?: string
  /** Read only this shard's units (shard.ts). */
  shard?: ShardSpec
}

/** A gist as the listing gives it: the fields read. */
interface ListedGist {
  id: string
  html_url: string
  updated_at: string
  files: Record<string, { filename?: string; raw_url?: string; size?: number }>
}

/** GitHub's public gists. */
export class GitHubGistsSource implements PublicSource {
  readonly id: string
  readonly shard: ShardSpec | undefined
  readonly leakSource = 'github'
  readonly #gh: GitHubApi
  readonly #maxGists: number
  readonly #maxFileBytes: number
  readonly #maxPages: number
  readonly #pollSeconds: number
  readonly #rawOrigins: ReadonlySet<string>

  constructor(options: GitHubGistsOptions = {}) {
    this.id = options.id ?? 'github-gists'
    this.shard = checkShard(options.shard)
    this.#gh = new GitHubApi(options)
    this.#maxGists = options.maxGistsPerBatch ?? 20
    this.#maxFileBytes = options.maxFileBytes ?? 1024 * 1024
    this.#maxPages = options.maxPages ?? 30
    this.#pollSeconds = options.pollSeconds ?? 60
    this.#rawOrigins = new Set([new URL(this.#gh.api).origin, ...(options.rawOrigins ?? ['https://gist.githubusercontent.com']).map((o) => new URL(o).origin)])
  }

  async read(position: SourcePosition, signal?: AbortSignal): Promise<SourceBatch> {
    const state = position.state
    const unchanged = (extra: PublicSourceState = {}): SourceBatch => ({ units: [], next: position.cursor, state: { ...state, ...extra }, more: false })
    if (typeof state.nextPollAt === 'string' && Date.parse(state.nextPollAt) > Date.now()) return unchanged()
    this.#gh.resetPace()
    const { at, ids } = parseCursor(position.cursor)
    const listed = await this.#list(at, signal)
    if (listed instanceof RateLimited) return unchanged(this.#state({ wait: true }))
    const handledAt = new Set(ids)
    const fresh = listed
      .filter((g) => at === undefined || g.updated_at > at || (g.updated_at === at && !handledAt.has(g.id)))
      .sort((a, b) => (a.updated_at < b.updated_at ? -1 : a.updated_at > b.updated_at ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    const units: PublicUnit[] = []
    let nextAt = at
    let nextIds = [...ids]
    let limited = false
    let handled = 0
    for (const gist of fresh.slice(0, this.#maxGists)) {
      try {
        units.push(...await this.#unitsOf(gist, signal))
      } catch (err) {
        if (!(err instanceof RateLimited)) throw err
        limited = true
        break
      }
      if (gist.updated_at !== nextAt) nextIds = []
      nextAt = gist.updated_at
      nextIds.push(gist.id)
      handled++
    }
    const more = !limited && fresh.length > handled
    const newest = nextAt === undefined ? undefined : Date.parse(nextAt)
    return {
      units,
      next: nextAt === undefined ? null : `${nextAt}|${nextIds.join(',')}`,
      state: this.#state({ wait: limited, more, ...(newest === undefined || handled === 0 ? {} : { lagSeconds: Math.max(0, Math.round((Date.now() - newest) / 1000)) }) }),
      more,
    }
  }

  #state(got: { wait: boolean; more?: boolean; lagSeconds?: number }): PublicSourceState {
    const pace = this.#gh.pace
    const wait = got.wait ? pace.waitSeconds ?? 60 : got.more === true ? 0 : this.#pollSeconds
    return {
      ...(pace.rateLimitRemaining === undefined ? {} : { rateLimitRemaining: pace.rateLimitRemaining }),
      ...(pace.rateLimitResetAt === undefined ? {} : { rateLimitResetAt: pace.rateLimitResetAt }),
      pollIntervalSeconds: this.#pollSeconds,
      ...(wait > 0 ? { nextPollAt: new Date(Date.now() + wait * 1000).toISOString() } : {}),
      ...(got.lagSeconds === undefined ? {} : { lagSeconds: got.lagSeconds }),
    }
  }

  /** The gists updated since `at` (all of the listing's pages, up to maxPages), or a rate limit. */
  async #list(at: string | undefined, signal: AbortSignal | undefined): Promise<ListedGist[] | RateLimited> {
    // `since` keeps gists updated after it: a second earlier, so the gists of the cursor's own second
    // not handled yet are listed too (those handled are told apart by their ids).
    const since = at === undefined ? undefined : new Date(Date.parse(at) - 1000).toISOString()
    let url: string | undefined = `${this.#gh.api}/gists/public?per_page=100${since === undefined ? '' : `&since=${encodeURIComponent(since)}`}`
    const out: ListedGist[] = []
    for (let page = 0; url !== undefined && page < this.#maxPages; page++) {
      const res = await this.#gh.get(url, {}, signal)
      // The pages not read may hold gists updated between the cursor and those read: none is handled.
      if (res.limited !== undefined) return res.limited
      if (res.status !== 200) throw new GitHubError(`GET /gists/public answered ${res.status}`)
      const body = parseJson(res.text, '/gists/public')
      if (!Array.isArray(body)) throw new GitHubError('GET /gists/public did not answer a list of gists')
      for (const g of body as Array<Partial<ListedGist> | null>) {
        if (g === null || typeof g !== 'object' || typeof g.id !== 'string' || !/^[0-9a-f]{1,64}$/i.test(g.id) || typeof g.updated_at !== 'string' ||
          Number.isNaN(Date.parse(g.updated_at)) || typeof g.html_url !== 'string' || g.files === null || typeof g.files !== 'object') {
          throw new GitHubError('GET /gists/public answered a gist without an id, an update time, a page or files')
        }
        out.push(g as ListedGist)
      }
      url = nextLink(res.headers.get('link'), this.#gh.api)
    }
    return out
  }

  /** A unit a file of `gist`, read from its raw address at the gist's revision. */
  async #unitsOf(gist: ListedGist, signal: AbortSignal | undefined): Promise<PublicUnit[]> {
    const units: PublicUnit[] = []
    // Another shard's gist: handled (the cursor passes it) without reading its files.
    if (!belongsTo(this.shard, gist.id)) return units
    for (const file of Object.values(gist.files)) {
      const name = file.filename
      if (typeof name !== 'string' || typeof file.raw_url !== 'string') continue
      if (typeof file.size === 'number' && file.size > this.#maxFileBytes) continue
      let raw: URL
      try {
        raw = new URL(file.raw_url)
      } catch {
        continue
      }
      // Raw files are read only where GitHub serves them: a listing cannot send this source elsewhere.
      if (!this.#rawOrigins.has(raw.origin)) continue
      const res = await this.#gh.get(raw.href, {}, signal)
      if (res.limited !== undefined) throw res.limited
      // Deleted, or made secret, since the listing.
      if (res.status === 404) continue
      if (res.status !== 200) throw new GitHubError(`reading a file of gist ${gist.id} answered ${res.status}`)
      if (Buffer.byteLength(res.text) > this.#maxFileBytes) continue
      // `/raw/{revision}/{file}`: the revision the content is at.
      const revision = /\/raw\/([0-9a-f]{40})\//.exec(raw.pathname)?.[1]
      const page = gist.html_url.replace(/\/+$/, '')
      units.push(unitOf(`gist:${gist.id}@${revision ?? gist.updated_at}:${name}`, res.text, {
        repo: `gist:${gist.id}`, repoUrl: page, path: name, ...(revision === undefined ? {} : { commit: revision }),
        link: (line) => `${page}${revision === undefined ? '' : `/${revision}`}#${gistFileAnchor(name)}-L${line}`,
      }, gist.updated_at))
    }
    return units
  }
}

function parseCursor(cursor: string | null): { at: string | undefined; ids: string[] } {
  if (cursor === null) return { at: undefined, ids: [] }
  const m = /^([0-9T:.Z+-]{10,40})\|([0-9a-fA-F,]*)$/.exec(cursor)
  if (m === null) throw new GitHubError(`the gists cursor ${JSON.stringify(cursor.slice(0, 60))} is not {updated_at}|{ids}`)
  return { at: m[1], ids: m[2] === '' ? [] : m[2]!.split(',') }
}

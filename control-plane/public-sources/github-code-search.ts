/**
 * GitHub's code search as a public source: the organisation's own token prefixes and keywords (its
 * rules' keywords, and `--query` strings) searched with `GET /search/code` (pages by `Link:
 * rel="next"`), and each file found read whole through its contents API address (`url`, at the
 * commit the index holds), a unit a file, so a leak links to its line.
 *
 * One read runs one query (the next after the cursor's, round the list), then the source waits
 * `pollSeconds` once every query ran: the search API allows 10 to 30 requests a minute, and its
 * `X-RateLimit-*` budget, a 403 or 429 with `Retry-After`, end a batch and say when to come back.
 *
 * What was yielded is remembered in the cursor as a bounded set of `repo@blob:path` keys (hashed, the
 * newest kept). A time cursor ("results since the last run") cannot work here: search results carry
 * no date and come in best-match order, so there is nothing to compare a time to. The set saves the
 * contents requests of files read before; a file that fell out of the set is read again and then
 * skipped by the runner's content-hash dedup, so the bound costs requests, never a duplicate leak.
 * A file changed since has another blob sha, hence another key: it is read again.
 */
import { createHash } from 'node:crypto'
import { GitHubError } from '../../lib/errors.js'
import type { Rule } from '../detect/rule.js'
import { webLinksOf } from '../detect/sources/git.js'
import { GitHubApi, nextLink, parseJson, RateLimited, type GitHubApiOptions, type Pace } from './github-api.js'
import { unitOf, type PublicSource, type PublicSourceState, type PublicUnit, type SourceBatch, type SourcePosition } from './source.js'
import { belongsTo, checkShard, type ShardSpec } from './shard.js'

/** How to search. */
export interface GitHubCodeSearchOptions extends GitHubApiOptions {
  /** The search strings (see `codeSearchQueries`); at least one. */
  queries: readonly string[]
  /** Where repositories' pages are, for links (default https://github.com). */
  webUrl?: string
  /** Files read in one batch (default 30). */
  maxFilesPerBatch?: number
  /** Pages of results read for one query (default 10: the search API stops at 1000 results). */
  maxPages?: number
  /** Seconds between two rounds of the queries (default 600). */
  pollSeconds?: number
  /** Files larger than this are not read (default 1 MiB). */
  maxFileBytes?: number
  /** Keys of files yielded kept in the cursor (default 2000). */
  maxSeen?: number
  /** The source id (its cursor row); default `github-code-search`. */
  id?: string
  /** Read only this shard's units (shard.ts). */
  shard?: ShardSpec
}

/** A search result: the fields read. */
interface CodeItem {
  path: string
  sha: string
  url: string
  html_url?: string
  repository: { full_name: string }
}

/** The cursor: the next query's index, and the keys of the files yielded, oldest first. */
interface Cursor {
  q: number
  seen: string[]
}

/**
 * The search strings for the organisation's rules: each keyword of 4 characters or more (shorter ones
 * match too much of GitHub to be worth a request), quoted, once, then the `extra` strings as given.
 */
export function codeSearchQueries(rules: readonly Rule[], extra: readonly string[] = []): string[] {
  const out = new Set<string>()
  for (const rule of rules) {
    for (const k of rule.keywords) {
      if (k.length >= 4 && !k.includes('"')) out.add(`"${k}"`)
    }
  }
  for (const q of extra) if (q.trim() !== '') out.add(q.trim())
  return [...out]
}

/** GitHub's code search for the organisation's token formats. */
export class GitHubCodeSearchSource implements PublicSource {
  readonly id: string
  readonly shard: ShardSpec | undefined
  readonly leakSource = 'github'
  readonly #gh: GitHubApi
  readonly #queries: readonly string[]
  readonly #web: string
  readonly #maxFiles: number
  readonly #maxPages: number
  readonly #pollSeconds: number
  readonly #maxFileBytes: number
  readonly #maxSeen: number

  constructor(options: GitHubCodeSearchOptions) {
    if (options.queries.length === 0) throw new TypeError('github-code-search needs something to search: rules with keywords (--rules) or --query')
    this.id = options.id ?? 'github-code-search'
    this.shard = checkShard(options.shard)
    this.#gh = new GitHubApi(options)
    this.#queries = options.queries
    this.#web = (options.webUrl ?? 'https://github.com').replace(/\/+$/, '')
    this.#maxFiles = options.maxFilesPerBatch ?? 30
    this.#maxPages = options.maxPages ?? 10
    this.#pollSeconds = options.pollSeconds ?? 600
    this.#maxFileBytes = options.maxFileBytes ?? 1024 * 1024
    this.#maxSeen = options.maxSeen ?? 2000
  }

  async read(position: SourcePosition, signal?: AbortSignal): Promise<SourceBatch> {
    const state = position.state
    const unchanged = (extra: PublicSourceState = {}): SourceBatch => ({ units: [], next: position.cursor, state: { ...state, ...extra }, more: false })
    if (typeof state.nextPollAt === 'string' && Date.parse(state.nextPollAt) > Date.now()) return unchanged()
    this.#gh.resetPace()
    const cursor = parseCursor(position.cursor)
    const index = cursor.q % this.#queries.length
    const query = this.#queries[index]!
    const found = await this.#search(query, signal)
    if (found instanceof RateLimited) return unchanged(this.#state(this.#gh.pace, { wait: true }))
    // The search has its own budget (`X-RateLimit-Resource: search`), apart from the files' reads
    // (`core`): what the search's answers said of it is what paces the queries.
    const searchPace = { ...this.#gh.pace }
    const seen = new Set(cursor.seen)
    const fresh = found.items.filter((item) => !seen.has(keyOf(item)))
    const units: PublicUnit[] = []
    const yielded: string[] = []
    let limited = false
    for (const item of fresh.slice(0, this.#maxFiles)) {
      try {
        const unit = await this.#unitOf(item, signal)
        if (unit !== undefined) units.push(unit)
      } catch (err) {
        if (!(err instanceof RateLimited)) throw err
        limited = true
        break
      }
      yielded.push(keyOf(item))
    }
    // The query is done when every new file it found was read; else it runs again next batch (the
    // files read are in the set by then).
    const done = !limited && fresh.length <= this.#maxFiles
    const nextIndex = done ? index + 1 : index
    const round = nextIndex >= this.#queries.length
    const next: Cursor = { q: round ? 0 : nextIndex, seen: [...cursor.seen, ...yielded].slice(-this.#maxSeen) }
    const budgetLeft = searchPace.rateLimitRemaining !== 0
    const more = !limited && budgetLeft && !round
    return {
      units,
      next: JSON.stringify(next),
      state: this.#state(limited ? this.#gh.pace : searchPace, { wait: limited || !budgetLeft, more, incomplete: found.incomplete }),
      more,
    }
  }

  #state(pace: Readonly<Pace>, got: { wait: boolean; more?: boolean; incomplete?: boolean }): PublicSourceState {
    const reset = pace.rateLimitResetAt === undefined ? undefined : Math.max(1, Math.ceil((Date.parse(pace.rateLimitResetAt) - Date.now()) / 1000))
    const wait = got.wait ? pace.waitSeconds ?? reset ?? 60 : got.more === true ? 0 : this.#pollSeconds
    return {
      ...(pace.rateLimitRemaining === undefined ? {} : { rateLimitRemaining: pace.rateLimitRemaining }),
      ...(pace.rateLimitResetAt === undefined ? {} : { rateLimitResetAt: pace.rateLimitResetAt }),
      pollIntervalSeconds: this.#pollSeconds,
      ...(wait > 0 ? { nextPollAt: new Date(Date.now() + wait * 1000).toISOString() } : {}),
      ...(got.incomplete === true ? { incompleteResults: true } : {}),
    }
  }

  /** The results of `query` (its pages, up to maxPages), or a rate limit. */
  async #search(query: string, signal: AbortSignal | undefined): Promise<{ items: CodeItem[]; incomplete: boolean } | RateLimited> {
    let url: string | undefined = `${this.#gh.api}/search/code?q=${encodeURIComponent(query)}&per_page=100`
    const items: CodeItem[] = []
    // `incomplete_results`: the search timed out and gave part of its results. What it gave is read;
    // the rest may come in a later round, since nothing marks a file as seen before it is yielded.
    let incomplete = false
    for (let page = 0; url !== undefined && page < this.#maxPages; page++) {
      const res = await this.#gh.get(url, {}, signal)
      // Pages read before the limit are kept: results have no order in time, none is lost by stopping.
      if (res.limited !== undefined) return items.length === 0 ? res.limited : { items, incomplete: true }
      // 422: a query the search cannot run (or a page past its 1000 results): this query gives nothing.
      if (res.status === 422) break
      if (res.status !== 200) throw new GitHubError(`GET /search/code answered ${res.status}`)
      const body = parseJson(res.text, '/search/code') as { items?: unknown; incomplete_results?: unknown }
      if (body === null || typeof body !== 'object' || !Array.isArray(body.items)) throw new GitHubError('GET /search/code did not answer a list of items')
      if (body.incomplete_results === true) incomplete = true
      for (const i of body.items as Array<Partial<CodeItem> | null>) {
        if (i === null || typeof i !== 'object' || typeof i.path !== 'string' || typeof i.sha !== 'string' || typeof i.url !== 'string' ||
          typeof i.repository?.full_name !== 'string' || !/^[\w.-]+\/[\w.-]+$/.test(i.repository.full_name)) {
          throw new GitHubError('GET /search/code answered an item without a path, a sha, a url or a repository')
        }
        items.push(i as CodeItem)
      }
      url = nextLink(res.headers.get('link'), this.#gh.api)
    }
    return { items, incomplete }
  }

  /** The file of `item`, read through the contents API at the commit its address names. */
  async #unitOf(item: CodeItem, signal: AbortSignal | undefined): Promise<PublicUnit | undefined> {
    let url: URL
    try {
      url = new URL(item.url)
    } catch {
      return undefined
    }
    // Files are read from the API only: a result cannot send this source (and its token) elsewhere.
    if (url.origin !== new URL(this.#gh.api).origin) return undefined
    // Another shard's repository: yielded (the cursor passes it) without reading the file.
    if (!belongsTo(this.shard, item.repository.full_name)) return undefined
    const res = await this.#gh.get(url.href, {}, signal)
    if (res.limited !== undefined) throw res.limited
    // Gone since it was indexed (a deleted file, a repository made private).
    if (res.status === 404 || res.status === 451) return undefined
    if (res.status !== 200) throw new GitHubError(`reading a file found by code search answered ${res.status}`)
    const file = parseJson(res.text, '/repos/…/contents') as { type?: unknown; encoding?: unknown; content?: unknown; size?: unknown }
    if (file === null || typeof file !== 'object') throw new GitHubError('reading a file found by code search did not answer a file')
    if (file.type !== 'file' || file.encoding !== 'base64' || typeof file.content !== 'string') return undefined
    if (typeof file.size === 'number' && file.size > this.#maxFileBytes) return undefined
    const content = Buffer.from(file.content, 'base64').toString('utf8')
    const repo = item.repository.full_name
    const commit = url.searchParams.get('ref') ?? undefined
    const ref = commit !== undefined && /^[0-9a-f]{40}$/.test(commit) ? commit : undefined
    const repoUrl = `${this.#web}/${repo}`
    const links = webLinksOf(repoUrl)
    return unitOf(`${repo}@${item.sha}:${item.path}`, content, {
      repo, repoUrl, path: item.path, ...(ref === undefined ? {} : { commit: ref }),
      link: (line) => links.blob(ref ?? item.sha, item.path, line),
    })
  }
}

/** A result's key in the cursor: short, and naming no repository in the clear. */
function keyOf(item: CodeItem): string {
  return createHash('sha256').update(`${item.repository.full_name}@${item.sha}:${item.path}`).digest('hex').slice(0, 16)
}

function parseCursor(cursor: string | null): Cursor {
  if (cursor === null) return { q: 0, seen: [] }
  let parsed: unknown
  try {
    parsed = JSON.parse(cursor)
  } catch {
    parsed = undefined
  }
  const c = parsed as Partial<Cursor> | undefined
  if (c === undefined || c === null || typeof c !== 'object' || !Number.isInteger(c.q) || (c.q as number) < 0 || !Array.isArray(c.seen) || !c.seen.every((s) => typeof s === 'string')) {
    throw new GitHubError(`the code search cursor ${JSON.stringify(cursor.slice(0, 60))} is not {"q", "seen"}`)
  }
  return { q: c.q as number, seen: c.seen }
}

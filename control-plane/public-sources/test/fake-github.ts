/**
 * A small HTTP server answering as GitHub's REST API does for the public sources: `GET /events`
 * (newest first, `per_page` pages with a `Link: rel="next"` header, an ETag that a matching
 * If-None-Match turns into a 304 costing no budget, `X-Poll-Interval`, the `X-RateLimit-*` headers) and
 * `GET /repos/{owner}/{repo}/commits/{sha}` (the commit with `files[].patch`), `GET /gists/public` (`since`, pages) and the gists' raw files. Tests script failures
 * ahead of time: the next answers to a path can be a status (500, 502), a rate limit (403 or 429 with
 * Retry-After), JSON cut off mid-way, a body shorter than its Content-Length, or the real answer.
 */
import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Teardown } from '../../../test/support.js'
import { listenOnLoopback } from './listen.js'

/** An event as the feed lists it. */
export interface FakeEvent {
  id: string
  type: string
  created_at: string
  repo: { id: number; name: string; url: string }
  actor: { id: number; login: string }
  payload: Record<string, unknown>
  public: true
}

/** A commit file as the commits API gives it. */
export interface FakeFile {
  filename: string
  status: 'added' | 'modified' | 'removed'
  patch?: string
}

/** A public gist as the fake lists it. */
export interface FakeGist {
  id: string
  owner: string
  updatedAt: string
  revision: string
  files: Array<{ filename: string; content: string }>
}

/** A scripted answer in place of the real one. */
export type Failure =
  | { pass: true }
  | { status: number }
  | { rateLimit: 403 | 429; retryAfter: number }
  | { truncated: 'json' | 'body' }

/** A request as the fake saw it. */
export interface SeenRequest {
  path: string
  ifNoneMatch: string | undefined
  authorization: string | undefined
}

/** The running fake. */
export interface FakeGitHub {
  /** `http://127.0.0.1:PORT`. */
  api: string
  /** The events, newest first (tests add to the front). */
  events: FakeEvent[]
  /** Public gists (any order: listed most recently updated first). */
  gists: FakeGist[]
  /** Where the listing says raw files are (default: this server). */
  rawBase: string | undefined
  /** Commits by `owner/repo@sha`. */
  commits: Map<string, { sha: string; files: FakeFile[] }>
  /**
   * What `GET /repos/{repo}/compare/{before}...{head}` answers for a push made with `before`: its commits,
   * and as the comparison's files the last commit's (the net change, when a later commit undid an earlier one's).
   */
  compares: Map<string, Array<{ sha: string; files: FakeFile[] }>>
  seen: SeenRequest[]
  /** Scripted answers, taken in order by the next requests whose path starts with the key. */
  failures: Map<string, Failure[]>
  pollInterval: number
  /** Milliseconds each commit answer waits (a slow API, for a process to be killed mid-batch). */
  commitDelayMs: number
  /** The most events a page holds, whatever per_page asks (GitHub's is 100). */
  pageSize: number
  /** Requests left in the budget (the fake counts them down; a 304 costs none). */
  remaining: number
  /** Adds a PushEvent of `commits` (their files) to the front of the feed; answers its id. */
  push(repo: string, commits: Array<{ sha: string; files: FakeFile[] }>, options?: { ref?: string; listCommits?: boolean; before?: string }): string
  /** Adds an event that is not a push (a star). */
  watch(repo: string): string
}

let nextId = 9_007_199_254_740_990n

/** Starts the fake on 127.0.0.1; closed at `t`'s teardown. */
export async function startFakeGitHub(t: Teardown): Promise<FakeGitHub> {
  const fake: FakeGitHub = {
    api: '',
    events: [],
    gists: [],
    rawBase: undefined,
    commits: new Map(),
    compares: new Map(),
    seen: [],
    failures: new Map(),
    pollInterval: 1,
    pageSize: 100,
    commitDelayMs: 0,
    remaining: 5000,
    push(repo, commits, options = {}) {
      for (const c of commits) fake.commits.set(`${repo}@${c.sha}`, c)
      const id = String(nextId++)
      const payload: Record<string, unknown> = {
        repository_id: 1, push_id: Number(id.slice(-6)), ref: options.ref ?? 'refs/heads/main',
        head: commits.at(-1)?.sha, before: options.before ?? '0'.repeat(40),
      }
      if (options.before !== undefined) fake.compares.set(`${repo}@${options.before}...${commits.at(-1)?.sha}`, commits)
      if (options.listCommits !== false) {
        payload.size = commits.length
        payload.distinct_size = commits.length
        payload.commits = commits.map((c) => ({ sha: c.sha, author: { email: 'dev@example.com', name: 'Dev' }, message: 'change', distinct: true, url: `${fake.api}/repos/${repo}/commits/${c.sha}` }))
      }
      fake.events.unshift(event(id, 'PushEvent', repo, payload))
      return id
    },
    watch(repo) {
      const id = String(nextId++)
      fake.events.unshift(event(id, 'WatchEvent', repo, { action: 'started' }))
      return id
    },
  }
  const event = (id: string, type: string, repo: string, payload: Record<string, unknown>): FakeEvent => ({
    id, type, created_at: new Date().toISOString(), repo: { id: 1, name: repo, url: `${fake.api}/repos/${repo}` },
    actor: { id: 1, login: 'dev' }, payload, public: true,
  })
  const server = createServer((req, res) => {
    const delay = req.url?.includes('/commits/') === true ? fake.commitDelayMs : 0
    if (delay === 0) answer(fake, req, res)
    else setTimeout(() => answer(fake, req, res), delay)
  })
  fake.api = await listenOnLoopback(t, server)
  return fake
}

function answer(fake: FakeGitHub, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', fake.api)
  fake.seen.push({ path: url.pathname, ifNoneMatch: header(req, 'if-none-match'), authorization: header(req, 'authorization') })
  const reset = Math.floor(Date.now() / 1000) + 3600
  const budget = (): Record<string, string> => ({
    'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': String(fake.remaining), 'x-ratelimit-reset': String(reset),
    'x-ratelimit-used': String(5000 - fake.remaining), 'x-ratelimit-resource': 'core',
  })
  const scripted = takeFailure(fake, url.pathname)
  const failure = scripted !== undefined && 'pass' in scripted ? undefined : scripted
  if (failure !== undefined && 'rateLimit' in failure) {
    res.writeHead(failure.rateLimit, { 'content-type': 'application/json', 'retry-after': String(failure.retryAfter), ...budget(), 'x-ratelimit-remaining': '0' })
    res.end(JSON.stringify({ message: 'API rate limit exceeded', documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api' }))
    return
  }
  if (failure !== undefined && 'status' in failure) {
    res.writeHead(failure.status, { 'content-type': 'application/json', ...budget() })
    res.end(JSON.stringify({ message: 'Server Error' }))
    return
  }
  if (url.pathname === '/events') {
    const perPage = Math.min(Number(url.searchParams.get('per_page') ?? 30), fake.pageSize)
    const page = Number(url.searchParams.get('page') ?? 1)
    const all = JSON.stringify(fake.events)
    const etag = `W/"${createHash('sha256').update(all).digest('hex').slice(0, 32)}"`
    if (page === 1 && header(req, 'if-none-match') === etag) {
      res.writeHead(304, { etag, 'x-poll-interval': String(fake.pollInterval), ...budget() })
      res.end()
      return
    }
    fake.remaining--
    const items = fake.events.slice((page - 1) * perPage, page * perPage)
    const last = Math.max(1, Math.ceil(fake.events.length / perPage))
    const links = [
      ...(page < last ? [`<${fake.api}/events?per_page=${perPage}&page=${page + 1}>; rel="next"`, `<${fake.api}/events?per_page=${perPage}&page=${last}>; rel="last"`] : []),
      ...(page > 1 ? [`<${fake.api}/events?per_page=${perPage}&page=1>; rel="first"`] : []),
    ]
    send(res, 200, items, { etag, 'x-poll-interval': String(fake.pollInterval), ...budget(), ...(links.length === 0 ? {} : { link: links.join(', ') }) }, failure)
    return
  }
  if (url.pathname === '/gists/public') {
    fake.remaining--
    const since = url.searchParams.get('since')
    const perPage = Math.min(Number(url.searchParams.get('per_page') ?? 30), fake.pageSize)
    const page = Number(url.searchParams.get('page') ?? 1)
    // Only gists updated after `since`, as GitHub says of the parameter.
    const listed = fake.gists
      .filter((g) => since === null || Date.parse(g.updatedAt) > Date.parse(since))
      .sort((a, b) => Date.parse(b.updatedAt) - Date.parse(a.updatedAt))
    const items = listed.slice((page - 1) * perPage, page * perPage).map((g) => ({
      url: `${fake.api}/gists/${g.id}`, id: g.id, html_url: `https://gist.github.com/${g.owner}/${g.id}`, public: true,
      created_at: g.updatedAt, updated_at: g.updatedAt, description: '', comments: 0, truncated: false,
      owner: { login: g.owner, id: 1 },
      files: Object.fromEntries(g.files.map((f) => [f.filename, {
        filename: f.filename, type: 'text/plain', language: null, size: Buffer.byteLength(f.content),
        raw_url: `${fake.rawBase ?? fake.api}/gist-raw/${g.owner}/${g.id}/raw/${g.revision}/${encodeURIComponent(f.filename)}`,
      }])),
    }))
    const next = page * perPage < listed.length ? { link: `<${fake.api}/gists/public?per_page=${perPage}&page=${page + 1}${since === null ? '' : `&since=${encodeURIComponent(since)}`}>; rel="next"` } : {}
    send(res, 200, items, { ...budget(), ...next }, failure)
    return
  }
  const raw = /^\/gist-raw\/[^/]+\/([0-9a-f]+)\/raw\/([0-9a-f]+)\/(.+)$/.exec(url.pathname)
  if (raw !== null) {
    const gist = fake.gists.find((g) => g.id === raw[1] && g.revision === raw[2])
    const file = gist?.files.find((f) => f.filename === decodeURIComponent(raw[3]!))
    if (file === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('404: Not Found')
      return
    }
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(file.content)
    return
  }
  const compare = /^\/repos\/([^/]+\/[^/]+)\/compare\/([0-9a-f]+)\.\.\.([0-9a-f]+)$/.exec(url.pathname)
  if (compare !== null) {
    fake.remaining--
    const commits = fake.compares.get(`${compare[1]}@${compare[2]}...${compare[3]}`)
    if (commits === undefined) {
      send(res, 404, { message: 'Not Found' }, budget(), undefined)
      return
    }
    const files = (commits.at(-1)?.files ?? []).map((f) => ({ sha: 'f'.repeat(40), filename: f.filename, status: f.status, ...(f.patch === undefined ? {} : { patch: f.patch }) }))
    send(res, 200, { status: 'ahead', ahead_by: commits.length, total_commits: commits.length, commits: commits.map((c) => ({ sha: c.sha, commit: { message: 'change' } })), files }, budget(), failure)
    return
  }
  const commit = /^\/repos\/([^/]+\/[^/]+)\/commits\/([0-9a-f]+)$/.exec(url.pathname)
  if (commit !== null) {
    fake.remaining--
    const found = fake.commits.get(`${commit[1]}@${commit[2]}`)
    if (found === undefined) {
      send(res, 404, { message: 'Not Found' }, budget(), undefined)
      return
    }
    const files = found.files.map((f) => ({ sha: 'f'.repeat(40), filename: f.filename, status: f.status, additions: 1, deletions: 0, changes: 1, blob_url: `https://github.com/${commit[1]}/blob/${found.sha}/${f.filename}`, ...(f.patch === undefined ? {} : { patch: f.patch }) }))
    send(res, 200, { sha: found.sha, html_url: `https://github.com/${commit[1]}/commit/${found.sha}`, commit: { message: 'change' }, files }, budget(), failure)
    return
  }
  send(res, 404, { message: 'Not Found' }, budget(), undefined)
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>, failure: Failure | undefined): void {
  const text = JSON.stringify(body)
  if (failure !== undefined && 'truncated' in failure && failure.truncated === 'body') {
    // The connection ends before the Content-Length promised is sent.
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), ...headers })
    res.write(text.slice(0, Math.floor(text.length / 2)))
    res.destroy()
    return
  }
  const shown = failure !== undefined && 'truncated' in failure ? text.slice(0, Math.floor(text.length / 2)) : text
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers })
  res.end(shown)
}

function takeFailure(fake: FakeGitHub, path: string): Failure | undefined {
  for (const [prefix, list] of fake.failures) {
    if (path.startsWith(prefix) && list.length > 0) return list.shift()
  }
  return undefined
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name]
  return Array.isArray(v) ? v[0] : v
}

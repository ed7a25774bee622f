/**
 * GitLab's public projects as a public source: the projects active since the cursor (`GET /projects`,
 * public ones, most recently active first, pages by `Link`/`X-Next-Page`), each one's commits since the
 * newest handled (`GET /projects/:id/repository/commits?since=`), and each commit's diff
 * (`GET /projects/:id/repository/commits/:sha/diff`): a changed file's added lines are one unit, at
 * their line numbers in the new file, linked as GitLab links lines
 * (`https://gitlab.com/{path}/-/blob/{sha}/{file}#L{line}`).
 *
 * The cursor never passes content not scanned: it holds `at`, the activity time up to which every
 * listed project was handled in full, and for each project handled since, the newest commit time
 * handled. Projects are handled least recently active first, commits oldest first; a rate limit met
 * inside a project leaves its commit time at the last commit read in full, and `at` where it was.
 *
 * GitLab answers no 304 for these lists; its budget is in `RateLimit-Remaining`/`RateLimit-Reset`,
 * and a 429 says `Retry-After`. Commit times are the committer's: a commit dated earlier than the
 * newest handled (a rebase, a clock behind) is not listed by `since` and is missed, as GitLab's own
 * commit list would miss it.
 */
import { GitLabError } from '../../lib/errors.js'
import { encodePath } from '../detect/sources/web-api.js'
import { addedLines } from './github-events.js'
import { unitOf, type PublicSource, type PublicSourceState, type PublicUnit, type SourceBatch, type SourcePosition } from './source.js'
import { belongsTo, checkShard, type ShardSpec } from './shard.js'

/** How to read GitLab's public projects. */
export interface GitLabEventsOptions {
  /** The API base (default https://gitlab.com/api/v4). */
  apiUrl?: string
  /** Where projects' pages are, for links (default: each project's `web_url`, else the API's origin). */
  webUrl?: string
  /** Sent as `PRIVATE-TOKEN` to the API's origin only. */
  token?: string
  /** One request's time limit (default 30 s). */
  requestTimeoutMs?: number
  /** Projects handled in one batch (default 10). */
  maxProjectsPerBatch?: number
  /** Commits of one project read in one batch (default 30; the rest in the next batch). */
  maxCommitsPerProject?: number
  /** Pages of the project list read in one poll (default 5). */
  maxPages?: number
  /** Seconds between polls when nothing more is waiting (default 60). */
  pollSeconds?: number
  /** On the first poll, how far back activity is read (default 3600 s). */
  lookbackSeconds?: number
  /** The source id (its cursor row); default `gitlab-events`. */
  id?: string
  /** Read only this shard's units (shard.ts). */
  shard?: ShardSpec
}

/** A project as the list gives it: the fields read. */
interface ListedProject {
  id: number
  path_with_namespace: string
  web_url?: string
  last_activity_at: string
}

/** A commit as the commit list gives it. */
interface ListedCommit {
  id: string
  committed_date: string
}

/** A file of a commit's diff. */
interface DiffFile {
  diff?: string
  new_path?: string
  deleted_file?: boolean
}

/** The cursor: `at`, and by project id its activity and the newest commit time handled. */
interface Cursor {
  at: string
  projects: Record<string, { activity: string; commit: string }>
}

/** A rate limit met: the batch ends. */
class Limited extends Error {
  readonly waitSeconds: number
  constructor(waitSeconds: number) {
    super('rate limited')
    this.waitSeconds = waitSeconds
  }
}

/** GitLab's public projects' new commits. */
export class GitLabEventsSource implements PublicSource {
  readonly id: string
  readonly shard: ShardSpec | undefined
  readonly leakSource = 'gitlab'
  readonly #api: string
  readonly #origin: string
  readonly #web: string
  readonly #webGiven: boolean
  readonly #token: string | undefined
  readonly #timeoutMs: number
  readonly #maxProjects: number
  readonly #maxCommits: number
  readonly #maxPages: number
  readonly #pollSeconds: number
  readonly #lookbackSeconds: number
  /** The budget the answers of this read reported. */
  #remaining: number | undefined
  #resetAt: string | undefined

  constructor(options: GitLabEventsOptions = {}) {
    this.id = options.id ?? 'gitlab-events'
    this.shard = checkShard(options.shard)
    this.#api = (options.apiUrl ?? 'https://gitlab.com/api/v4').replace(/\/+$/, '')
    this.#origin = new URL(this.#api).origin
    this.#web = (options.webUrl ?? this.#origin).replace(/\/+$/, '')
    this.#webGiven = options.webUrl !== undefined
    this.#token = options.token
    this.#timeoutMs = options.requestTimeoutMs ?? 30_000
    this.#maxProjects = options.maxProjectsPerBatch ?? 10
    this.#maxCommits = options.maxCommitsPerProject ?? 30
    this.#maxPages = options.maxPages ?? 5
    this.#pollSeconds = options.pollSeconds ?? 60
    this.#lookbackSeconds = options.lookbackSeconds ?? 3600
  }

  async read(position: SourcePosition, signal?: AbortSignal): Promise<SourceBatch> {
    const state = position.state
    if (typeof state.nextPollAt === 'string' && Date.parse(state.nextPollAt) > Date.now()) return { units: [], next: position.cursor, state, more: false }
    this.#remaining = undefined
    this.#resetAt = undefined
    const cursor = parseCursor(position.cursor) ?? { at: new Date(Date.now() - this.#lookbackSeconds * 1000).toISOString(), projects: {} }
    let listed: ListedProject[]
    let cut: boolean
    try {
      ({ projects: listed, cut } = await this.#projects(cursor.at, signal))
    } catch (err) {
      if (!(err instanceof Limited)) throw err
      return { units: [], next: position.cursor, state: this.#state(err.waitSeconds), more: false }
    }
    // Least recently active first, so `at` can follow the projects handled in full.
    const pending = listed.filter((p) => {
      const known = cursor.projects[String(p.id)]
      return known === undefined || known.activity < p.last_activity_at
    }).sort((a, b) => (a.last_activity_at < b.last_activity_at ? -1 : a.last_activity_at > b.last_activity_at ? 1 : a.id - b.id))
    const units: PublicUnit[] = []
    const projects = { ...cursor.projects }
    let at = cursor.at
    let wait: number | undefined
    let handled = 0
    let partial = false
    for (const project of pending.slice(0, this.#maxProjects)) {
      const key = String(project.id)
      const since = projects[key]?.commit ?? cursor.at
      let newest = since
      let complete = true
      try {
        // Another shard's project: handled (its activity recorded) without reading its commits.
        const commits = belongsTo(this.shard, project.path_with_namespace) ? await this.#commits(project, since, signal) : []
        complete = commits.length <= this.#maxCommits
        for (const commit of commits.slice(0, this.#maxCommits)) {
          units.push(...await this.#unitsOf(project, commit, signal))
          newest = commit.committed_date
        }
      } catch (err) {
        if (!(err instanceof Limited)) throw err
        wait = err.waitSeconds
        complete = false
      }
      // Its activity is recorded only once it was read in full: until then it is listed again, and
      // its entry (activity '') is kept whatever `at` becomes.
      projects[key] = { activity: complete ? project.last_activity_at : '', commit: newest }
      if (!complete) {
        partial = true
        break
      }
      handled++
      if (project.last_activity_at > at) at = project.last_activity_at
    }
    // `at` is at most the activity of the last project handled in full: the projects left (as active
    // or more, since they come in that order) are listed again, the list keeping activity >= `at`.
    // Projects less active than `at` are not listed again: their entries are no longer needed.
    for (const [id, p] of Object.entries(projects)) if (p.activity !== '' && p.activity < at) delete projects[id]
    const more = wait === undefined && this.#remaining !== 0 && (partial || pending.length > handled)
    return {
      units,
      next: JSON.stringify({ at, projects } satisfies Cursor),
      state: {
        ...this.#state(wait ?? (this.#remaining === 0 ? this.#untilReset() : more ? 0 : this.#pollSeconds)),
        // More projects were active than the pages read hold: those less active than the pages' last
        // were not listed, and are not read (the state says since when).
        ...(cut ? { missedAfter: cursor.at } : {}),
      },
      more,
    }
  }

  #untilReset(): number {
    return this.#resetAt === undefined ? 60 : Math.max(1, Math.ceil((Date.parse(this.#resetAt) - Date.now()) / 1000))
  }

  #state(waitSeconds: number): PublicSourceState {
    return {
      ...(this.#remaining === undefined ? {} : { rateLimitRemaining: this.#remaining }),
      ...(this.#resetAt === undefined ? {} : { rateLimitResetAt: this.#resetAt }),
      pollIntervalSeconds: this.#pollSeconds,
      ...(waitSeconds > 0 ? { nextPollAt: new Date(Date.now() + waitSeconds * 1000).toISOString() } : {}),
    }
  }

  /** The public projects active after `at`, most recently active first (up to maxPages pages). */
  async #projects(at: string, signal: AbortSignal | undefined): Promise<{ projects: ListedProject[]; cut: boolean }> {
    const out: ListedProject[] = []
    let url: string | undefined = `${this.#api}/projects?visibility=public&order_by=last_activity_at&sort=desc&simple=true&per_page=100`
    for (let page = 0; url !== undefined && page < this.#maxPages; page++) {
      const { body, next } = await this.#getJson(url, '/projects', signal)
      if (!Array.isArray(body)) throw new GitLabError('GET /projects did not answer a list of projects')
      let older = false
      for (const p of body as Array<Partial<ListedProject> | null>) {
        if (p === null || typeof p !== 'object' || !Number.isInteger(p.id) || typeof p.path_with_namespace !== 'string' ||
          !/^[\w.-]+(?:\/[\w.-]+)+$/.test(p.path_with_namespace) || typeof p.last_activity_at !== 'string' || Number.isNaN(Date.parse(p.last_activity_at))) {
          throw new GitLabError('GET /projects answered a project without an id, a path or an activity time')
        }
        const activity = new Date(p.last_activity_at).toISOString()
        if (activity < at) {
          older = true
          break
        }
        out.push({ ...(p as ListedProject), last_activity_at: activity })
      }
      if (older) return { projects: out, cut: false }
      url = next
    }
    return { projects: out, cut: url !== undefined }
  }

  /** The commits of `project` after `since`, oldest first (all pages: a push rarely holds many). */
  async #commits(project: ListedProject, since: string, signal: AbortSignal | undefined): Promise<ListedCommit[]> {
    const out: ListedCommit[] = []
    const what = `/projects/${project.id}/repository/commits`
    let url: string | undefined = `${this.#api}${what}?since=${encodeURIComponent(since)}&per_page=100`
    for (let page = 0; url !== undefined && page < 20; page++) {
      const { body, next, status } = await this.#getJson(url, what, signal, [404])
      // Gone, or without a repository (a project of issues only).
      if (status === 404) return []
      if (!Array.isArray(body)) throw new GitLabError(`GET ${what} did not answer a list of commits`)
      for (const c of body as Array<Partial<ListedCommit> | null>) {
        if (c === null || typeof c !== 'object' || typeof c.id !== 'string' || !/^[0-9a-f]{40,64}$/.test(c.id) ||
          typeof c.committed_date !== 'string' || Number.isNaN(Date.parse(c.committed_date))) {
          throw new GitLabError(`GET ${what} answered a commit without an id or a date`)
        }
        const date = new Date(c.committed_date).toISOString()
        // `since` keeps the commit of that very second: handled already.
        if (date > since) out.push({ id: c.id, committed_date: date })
      }
      url = next
    }
    return out.sort((a, b) => (a.committed_date < b.committed_date ? -1 : a.committed_date > b.committed_date ? 1 : 0))
  }

  /** A unit a changed file of `commit`: its added lines. */
  async #unitsOf(project: ListedProject, commit: ListedCommit, signal: AbortSignal | undefined): Promise<PublicUnit[]> {
    const units: PublicUnit[] = []
    const repo = project.path_with_namespace
    const repoUrl = this.#repoUrl(project)
    const what = `/projects/${project.id}/repository/commits/${commit.id}/diff`
    let url: string | undefined = `${this.#api}${what}?per_page=100`
    for (let page = 0; url !== undefined && page < 50; page++) {
      const { body, next, status } = await this.#getJson(url, what, signal, [404])
      if (status === 404) return units
      if (!Array.isArray(body)) throw new GitLabError(`GET ${what} did not answer a list of changes`)
      for (const file of body as Array<DiffFile | null>) {
        // A removed file adds nothing; a diff too large or binary has no text here.
        if (file === null || typeof file !== 'object' || file.deleted_file === true || typeof file.new_path !== 'string' || typeof file.diff !== 'string') continue
        const content = addedLines(file.diff)
        if (content === undefined) continue
        const path = file.new_path
        units.push(unitOf(`${repo}@${commit.id}:${path}`, content, {
          repo, repoUrl, commit: commit.id, path,
          link: (line) => `${repoUrl}/-/blob/${commit.id}/${encodePath(path)}#L${line}`,
        }, commit.committed_date))
      }
      url = next
    }
    return units
  }

  /**
   * The project's page: its `web_url` (a GitLab under a sub-path names it right) when it is an http(s)
   * address ending with the project's path, unless a web address was given; else the web address.
   */
  #repoUrl(project: ListedProject): string {
    const own = `${this.#web}/${project.path_with_namespace}`
    if (this.#webGiven || typeof project.web_url !== 'string') return own
    try {
      const u = new URL(project.web_url)
      const page = u.href.replace(/\/+$/, '')
      return (u.protocol === 'https:' || u.protocol === 'http:') && u.search === '' && u.hash === '' && page.endsWith(`/${project.path_with_namespace}`) ? page : own
    } catch {
      return own
    }
  }

  /** One GET answered as JSON, with the next page's address; a 429 (or an exhausted budget) as Limited. */
  async #getJson(url: string, what: string, signal: AbortSignal | undefined, allowed: number[] = []): Promise<{ status: number; body: unknown; next: string | undefined }> {
    const timeout = AbortSignal.timeout(this.#timeoutMs)
    let res: Response
    let text: string
    try {
      res = await fetch(url, {
        headers: { accept: 'application/json', 'user-agent': 'leakgate-public-sources', ...(this.#token !== undefined && new URL(url).origin === this.#origin ? { 'private-token': this.#token } : {}) },
        redirect: 'error', signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
      })
      text = await res.text()
    } catch (err) {
      throw new GitLabError(`GET ${what} failed or was cut off: ${(err as Error).message}`, { cause: err })
    }
    const remaining = Number(res.headers.get('ratelimit-remaining') ?? NaN)
    if (Number.isInteger(remaining) && remaining >= 0) this.#remaining = remaining
    const reset = Number(res.headers.get('ratelimit-reset') ?? NaN)
    if (Number.isInteger(reset) && reset > 0) this.#resetAt = new Date(reset * 1000).toISOString()
    if (res.status === 429 || (res.status === 403 && remaining === 0)) {
      const retry = res.headers.get('retry-after')
      const seconds = retry === null ? NaN : /^\d+$/.test(retry) ? Number(retry) : Math.ceil((Date.parse(retry) - Date.now()) / 1000)
      throw new Limited(Number.isFinite(seconds) ? Math.min(Math.max(seconds, 1), 3600) : this.#untilReset())
    }
    if (allowed.includes(res.status)) return { status: res.status, body: undefined, next: undefined }
    if (res.status !== 200) throw new GitLabError(`GET ${what} answered ${res.status}`)
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch (err) {
      throw new GitLabError(`GET ${what} answered JSON that does not parse (cut off or malformed)`, { cause: err })
    }
    return { status: res.status, body, next: this.#nextOf(res.headers, url) }
  }

  /** The next page: `Link: rel="next"` on the API's origin, else `X-Next-Page` (empty on the last page). */
  #nextOf(headers: Headers, url: string): string | undefined {
    for (const part of (headers.get('link') ?? '').split(',')) {
      const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part)
      if (m?.[1] === undefined) continue
      try {
        return new URL(m[1]).origin === this.#origin ? m[1] : undefined
      } catch {
        return undefined
      }
    }
    const page = headers.get('x-next-page')
    if (page === null || !/^\d+$/.test(page)) return undefined
    const next = new URL(url)
    next.searchParams.set('page', page)
    return next.href
  }
}

function parseCursor(cursor: string | null): Cursor | undefined {
  if (cursor === null) return undefined
  let c: unknown
  try {
    c = JSON.parse(cursor)
  } catch {
    c = undefined
  }
  const v = c as Partial<Cursor> | undefined
  if (v === undefined || v === null || typeof v !== 'object' || typeof v.at !== 'string' || v.projects === null || typeof v.projects !== 'object') {
    throw new GitLabError(`the gitlab-events cursor ${JSON.stringify(cursor.slice(0, 60))} is not {"at", "projects"}`)
  }
  return { at: v.at, projects: v.projects }
}

/**
 * An organisation's or a user's public repositories, listed through the GitHub REST API and
 * each scanned as a git source. The API base URL is configurable (GitHub Enterprise Server:
 * `https://ghe.example.com/api/v3`); the token comes from the environment; pages are followed
 * through the `Link` header; when the rate limit is spent (`x-ratelimit-remaining: 0`, or a
 * 403/429 with `retry-after`), the client waits for the reset instead of failing, up to a bound.
 */
import { GitHubError } from '../../../lib/errors.js'
import { gitSource, type GitState } from './git.js'
import type { Progress, ScanItem, SourceLimits } from './source.js'
import type { ReachPolicy } from './reach.js'

/** Options of a GitHub source. */
export interface GitHubSourceOptions {
  /** One of org or user. */
  org?: string
  user?: string
  /** Default https://api.github.com. */
  apiUrl?: string
  /** Sent as `Authorization: Bearer`; raises the rate limit from 60 to 5000 requests an hour. */
  token?: string
  history: boolean
  cacheDir: string
  limits: SourceLimits
  /** Forks hold their parent's history: skipped unless asked for. */
  includeForks?: boolean
  /** Longest wait for a rate-limit reset, in seconds (default 900); beyond it the scan fails. */
  maxRateLimitWait?: number
  /** Per repository (`acme/api`), commits known from an earlier scan. */
  since?: Readonly<Record<string, readonly string[]>>
  /** Called before each repository is cloned. */
  onRepo?: (fullName: string) => void
  /** What the scan may reach (checked again for each clone); undefined: anything. */
  reach?: ReachPolicy
  /** Receives what git said when a clone failed (redacted), for the operator's log only. */
  onDiagnostic?: (text: string) => void
}

/** A repository as the API lists it (the fields used). */
export interface GitHubRepo {
  full_name: string
  clone_url: string
  html_url: string
  fork: boolean
  archived?: boolean
  private?: boolean
}

/** What an organisation scan leaves for the next one: per repository, the ref commits read. */
export type GitHubState = Record<string, GitState>

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** The next page's URL from a `Link` header, if any. */
export function nextLink(link: string | null): string | undefined {
  if (link === null) return undefined
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part)
    if (m !== null) return m[1]
  }
  return undefined
}

/** Lists the public repositories of an organisation or user, following pagination and honouring rate limits. */
export async function listRepos(options: GitHubSourceOptions): Promise<GitHubRepo[]> {
  const api = (options.apiUrl ?? 'https://api.github.com').replace(/\/+$/, '')
  const owner = options.org ?? options.user
  if (owner === undefined || !/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/.test(owner)) {
    throw new GitHubError(`give an organisation or a user name (letters, digits, '-'), got ${JSON.stringify(owner ?? '')}`)
  }
  let url: string | undefined = options.org !== undefined
    ? `${api}/orgs/${encodeURIComponent(owner)}/repos?type=public&per_page=100`
    : `${api}/users/${encodeURIComponent(owner)}/repos?type=owner&per_page=100`
  const maxWait = (options.maxRateLimitWait ?? 900) * 1000
  const headers: Record<string, string> = {
    accept: 'application/vnd.github+json',
    'x-github-api-version': '2022-11-28',
    'user-agent': 'leakgate-scan',
  }
  if (options.token !== undefined && options.token !== '') headers.authorization = `Bearer ${options.token}`
  const repos: GitHubRepo[] = []
  for (let page = 0; url !== undefined && page < 1000; page++) {
    let res: Response
    for (let attempt = 0; ; attempt++) {
      try {
        // No redirect is followed: the token goes to the configured API origin and nowhere else.
        res = await fetch(url, { headers, redirect: 'manual' })
      } catch (cause) {
        throw new GitHubError(`cannot reach ${api}: ${(cause as Error).message}`, { cause })
      }
      const wait = rateLimitWait(res)
      if (wait === undefined || (res.status !== 403 && res.status !== 429) || attempt >= 3) break
      if (wait > maxWait) throw new GitHubError(`rate limit exceeded; it resets in ${Math.ceil(wait / 1000)} s, more than the ${maxWait / 1000} s allowed to wait`)
      await res.body?.cancel()
      await sleep(wait)
    }
    if (res.status === 404) throw new GitHubError(`${options.org !== undefined ? 'organisation' : 'user'} ${owner} not found at ${api}`)
    if (res.status === 401) throw new GitHubError('the token was refused (401); check GITHUB_TOKEN')
    if (!res.ok) throw new GitHubError(`${url.replace(/\?.*$/, '')} answered ${res.status}`)
    const body = (await res.json()) as unknown
    if (!Array.isArray(body)) throw new GitHubError(`${url.replace(/\?.*$/, '')} did not answer a list of repositories`)
    for (const r of body as GitHubRepo[]) {
      if (typeof r?.full_name !== 'string' || typeof r.clone_url !== 'string') continue
      if (r.private === true) continue
      if (r.fork && options.includeForks !== true) continue
      repos.push(r)
    }
    const next = nextLink(res.headers.get('link'))
    // A next page on another origin would receive the token: the listing stops there instead.
    url = next !== undefined && sameOrigin(next, api) ? next : undefined
    // Spent quota on a good answer: wait for the reset before asking for the next page.
    if (url !== undefined && res.headers.get('x-ratelimit-remaining') === '0') {
      const wait = rateLimitWait(res) ?? 0
      if (wait > maxWait) throw new GitHubError(`rate limit exhausted; it resets in ${Math.ceil(wait / 1000)} s, more than the ${maxWait / 1000} s allowed to wait`)
      await sleep(wait)
    }
  }
  return repos
}

function sameOrigin(url: string, api: string): boolean {
  try {
    return new URL(url).origin === new URL(api).origin
  } catch {
    return false
  }
}

/**
 * Whether a repository's `clone_url` may be cloned: https (or http, if the API is) on the API's
 * own host (github.com for api.github.com). A local path or another host, which a hostile or
 * mistaken API could name, is skipped; a file:// URL only where the reach policy allows local paths.
 */
function cloneAllowed(cloneUrl: string, apiUrl: string, reach: ReachPolicy | undefined): boolean {
  let clone: URL
  let api: URL
  try {
    clone = new URL(cloneUrl)
    api = new URL(apiUrl)
  } catch {
    return false
  }
  if (clone.protocol === 'file:') return reach?.allowedPaths !== undefined
  const host = api.hostname === 'api.github.com' ? 'github.com' : api.hostname
  const protocols = api.protocol === 'http:' ? ['https:', 'http:'] : ['https:']
  return protocols.includes(clone.protocol) && clone.hostname === host && clone.username === '' && clone.password === '' && clone.search === ''
}

/** How long to wait (ms) before the next request, from `retry-after` or the rate-limit reset; undefined: no limit hit. */
function rateLimitWait(res: Response): number | undefined {
  const retryAfter = res.headers.get('retry-after')
  if (retryAfter !== null && /^\d+$/.test(retryAfter)) return Number(retryAfter) * 1000
  if (res.headers.get('x-ratelimit-remaining') !== '0') return undefined
  const reset = Number(res.headers.get('x-ratelimit-reset'))
  if (!Number.isFinite(reset) || reset <= 0) return 60_000
  // One extra second: the reset time is rounded down to the second.
  return Math.max(0, reset * 1000 - Date.now()) + 1000
}

/** Yields the texts of every listed repository; `state` receives each repository's ref commits. */
export async function* githubSource(options: GitHubSourceOptions, progress: Progress, state: GitHubState = {}): AsyncGenerator<ScanItem> {
  const api = options.apiUrl ?? 'https://api.github.com'
  const repos = (await listRepos(options)).filter((r) => {
    if (cloneAllowed(r.clone_url, api, options.reach)) return true
    progress.skipped++
    return false
  })
  for (const repo of repos) {
    options.onRepo?.(repo.full_name)
    const repoState: GitState = { tips: [] }
    const since = options.since?.[repo.full_name]
    yield* gitSource({
      url: repo.clone_url,
      history: options.history,
      cacheDir: options.cacheDir,
      limits: options.limits,
      sourceType: 'github',
      repo: repo.full_name,
      webUrl: repo.html_url,
      ...(options.reach === undefined ? {} : { reach: options.reach }),
      ...(options.onDiagnostic === undefined ? {} : { onDiagnostic: options.onDiagnostic }),
      ...(since === undefined ? {} : { since }),
    }, progress, repoState)
    state[repo.full_name] = repoState
    progress.repos++
  }
}

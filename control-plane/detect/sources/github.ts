/**
 * An organisation's or a user's public repositories, listed through the GitHub REST API and
 * each scanned as a git source. The API base URL is configurable (GitHub Enterprise Server:
 * `https://ghe.example.com/api/v3`); the token comes from the environment; pages are followed
 * through the `Link` header; when the rate limit is spent (`x-ratelimit-remaining: 0`, or a
 * 403/429 with `retry-after`), the client waits for the reset instead of failing, up to a bound.
 * With a reach policy, the API's host is checked like a clone's before anything is sent (web-api.ts).
 */
import { GitHubError } from '../../../lib/errors.js'
import { gitSource, type GitState } from './git.js'
import type { Progress, ScanItem } from './source.js'
import type { ReachPolicy } from './reach.js'
import { cloneAllowed, openWebApi, type HostedSourceOptions, type WebApi } from './web-api.js'
export { nextLink } from './web-api.js'

/** Options of a GitHub source. */
export interface GitHubSourceOptions extends HostedSourceOptions {
  /** One of org or user. */
  org?: string
  user?: string
  /** Forks hold their parent's history: skipped unless asked for. */
  includeForks?: boolean
  /** Called before each repository is cloned. */
  onRepo?: (fullName: string) => void
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

/** Lists the public repositories of an organisation or user, following pagination and honouring rate limits. */
export async function listRepos(options: GitHubSourceOptions, api?: WebApi): Promise<GitHubRepo[]> {
  const owner = checkOwner(options)
  const client = api ?? await openGitHubApi(options)
  try {
    const first = options.org !== undefined
      ? `${client.api}/orgs/${encodeURIComponent(owner)}/repos?type=public&per_page=100`
      : `${client.api}/users/${encodeURIComponent(owner)}/repos?type=owner&per_page=100`
    const repos: GitHubRepo[] = []
    for await (const body of client.pages(first, `${options.org !== undefined ? 'organisation' : 'user'} ${owner} not found at ${client.api}`)) {
      if (!Array.isArray(body)) throw new GitHubError(`${first.replace(/\?.*$/, '')} did not answer a list of repositories`)
      for (const r of body as GitHubRepo[]) {
        if (typeof r?.full_name !== 'string' || typeof r.clone_url !== 'string') continue
        if (r.private === true) continue
        if (r.fork && options.includeForks !== true) continue
        repos.push(r)
      }
    }
    return repos
  } finally {
    if (api === undefined) await client.close()
  }
}

function checkOwner(options: GitHubSourceOptions): string {
  const owner = options.org ?? options.user
  if (owner === undefined || !/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/.test(owner)) {
    throw new GitHubError(`give an organisation or a user name (letters, digits, '-'), got ${JSON.stringify(owner ?? '')}`)
  }
  return owner
}

/**
 * The GitHub API, opened as the gist source opens it: with a reach policy its host is checked
 * (and connections pinned) before anything is sent; the token goes as `Authorization: Bearer`.
 */
export function openGitHubApi(options: { apiUrl?: string | undefined; token?: string | undefined; maxRateLimitWait?: number | undefined; reach?: ReachPolicy | undefined }): Promise<WebApi> {
  const headers: Record<string, string> = {
    accept: 'application/vnd.github+json',
    'x-github-api-version': '2022-11-28',
    'user-agent': 'leakgate-scan',
  }
  if (options.token !== undefined && options.token !== '') headers.authorization = `Bearer ${options.token}`
  return openWebApi({
    apiUrl: options.apiUrl ?? 'https://api.github.com',
    headers,
    reach: options.reach,
    maxRateLimitWait: options.maxRateLimitWait ?? 900,
    tokenVariable: 'LEAKGATE_GITHUB_TOKEN',
    fail: (message, opts) => new GitHubError(message, opts),
  })
}

/** Yields the texts of every listed repository; `state` receives each repository's ref commits. */
export async function* githubSource(options: GitHubSourceOptions, progress: Progress, state: GitHubState = {}): AsyncGenerator<ScanItem> {
  // A bad name fails before anything is sent.
  checkOwner(options)
  const client = await openGitHubApi(options)
  let listed: GitHubRepo[]
  try {
    listed = await listRepos(options, client)
  } finally {
    await client.close()
  }
  // Clones come from the API's own host (github.com for api.github.com), file:// only where local paths are allowed.
  const apiHost = new URL(client.api).hostname
  const host = apiHost === 'api.github.com' ? 'github.com' : apiHost
  const repos = listed.filter((r) => {
    if (cloneAllowed(r.clone_url, client.api, host, options.reach)) return true
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

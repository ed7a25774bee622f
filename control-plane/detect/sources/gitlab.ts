/**
 * The public projects of a GitLab group (its subgroups' included), of a user, or one project, listed
 * through the GitLab REST API (v4) and each scanned as a git source. The API base is configurable
 * (self-managed: `https://gitlab.example.com/api/v4`); the token comes from the environment and goes
 * as `PRIVATE-TOKEN`; pages are followed through `Link` (keyset) or `x-next-page` (offset).
 */
import { GitLabError } from '../../../lib/errors.js'
import { gitSource, type GitState } from './git.js'
import type { Progress, ScanItem } from './source.js'
import { cloneAllowed, encodePath, openWebApi, webAddress, type HostedSourceOptions, type WebApi } from './web-api.js'

/** gitlab.com's API. */
export const GITLAB_API = 'https://gitlab.com/api/v4'

/** Options of a GitLab source (a self-managed instance's API: `https://gitlab.example.com/api/v4`). */
export interface GitLabSourceOptions extends HostedSourceOptions {
  /** One of group (a full path: `acme/platform`), user, or project (`acme/platform/api`). */
  group?: string
  user?: string
  project?: string
  /** Forks hold their parent's history: skipped in a group's or user's listing unless asked for. */
  includeForks?: boolean
  /** Called before each project is cloned. */
  onRepo?: (path: string) => void
}

/** A project as the API lists it (the fields used). */
export interface GitLabProject {
  path_with_namespace: string
  http_url_to_repo: string
  web_url?: string
  visibility?: string
  archived?: boolean
  empty_repo?: boolean
  forked_from_project?: unknown
  repository_access_level?: string
}

/** What a GitLab scan leaves for the next one: per project, the ref commits read. */
export type GitLabState = Record<string, GitState>

/**
 * A GitLab namespace or project path: segments of letters, digits, `_`, `-` and `.`, not starting
 * with `.` or `-` (so no `..`), joined by `/`. A user name is one segment.
 */
const SEGMENT = '[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}'
const GITLAB_PATH = new RegExp(`^${SEGMENT}(?:/${SEGMENT}){0,19}$`)
const GITLAB_USER = new RegExp(`^${SEGMENT}$`)

/** Whether a string is a GitLab group or project path (`acme/platform/api`). */
export function isGitLabPath(path: string): boolean {
  return path.length <= 1024 && GITLAB_PATH.test(path)
}

/** Whether a string is a GitLab user name. */
export function isGitLabUser(name: string): boolean {
  return GITLAB_USER.test(name)
}

function what(options: GitLabSourceOptions): { kind: 'group' | 'user' | 'project'; name: string } {
  const given = (['group', 'user', 'project'] as const).filter((k) => options[k] !== undefined)
  const kind = given[0]
  if (given.length !== 1 || kind === undefined) throw new GitLabError('give one of a group, a user or a project')
  const name = options[kind]!
  if (!(kind === 'user' ? isGitLabUser(name) : isGitLabPath(name))) {
    throw new GitLabError(`give a ${kind} ${kind === 'user' ? 'name' : 'path'} (letters, digits, '_', '-', '.'${kind === 'user' ? '' : ", segments joined by '/'"}), got ${JSON.stringify(name)}`)
  }
  return { kind, name }
}

function openGitLab(options: GitLabSourceOptions): Promise<WebApi> {
  const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'leakgate-scan' }
  if (options.token !== undefined && options.token !== '') headers['private-token'] = options.token
  return openWebApi({
    apiUrl: options.apiUrl ?? GITLAB_API,
    headers,
    reach: options.reach,
    maxRateLimitWait: options.maxRateLimitWait ?? 900,
    tokenVariable: 'LEAKGATE_GITLAB_TOKEN',
    fail: (message, opts) => new GitLabError(message, opts),
  })
}

/** Whether a listed project is scanned: public, with a repository that holds something, not a fork unless asked. */
function wanted(p: GitLabProject, includeForks: boolean): boolean {
  if (typeof p?.path_with_namespace !== 'string' || typeof p.http_url_to_repo !== 'string') return false
  if (p.visibility !== undefined && p.visibility !== 'public') return false
  if (p.empty_repo === true || p.repository_access_level === 'disabled') return false
  return includeForks || p.forked_from_project === undefined || p.forked_from_project === null
}

/**
 * Lists the public projects of a group (subgroups included), of a user, or the one project named,
 * following pagination and honouring rate limits. Archived projects are listed: what they hold is
 * still public. A project named on its own is scanned even if it is a fork.
 */
export async function listProjects(options: GitLabSourceOptions, api?: WebApi): Promise<GitLabProject[]> {
  const { kind, name } = what(options)
  const client = api ?? await openGitLab(options)
  try {
    const base = client.api
    const id = encodeURIComponent(name)
    if (kind === 'project') {
      const p = await client.json(`${base}/projects/${id}`, `project ${name} not found at ${base}`) as GitLabProject
      if (typeof p?.path_with_namespace !== 'string') throw new GitLabError(`${base}/projects/… did not answer a project`)
      if (p.visibility !== undefined && p.visibility !== 'public') throw new GitLabError(`project ${name} is ${p.visibility}: the GitLab source scans public projects only`)
      return wanted(p, true) ? [p] : []
    }
    const first = kind === 'group'
      ? `${base}/groups/${id}/projects?include_subgroups=true&with_shared=false&visibility=public&order_by=id&sort=asc&per_page=100`
      : `${base}/users/${id}/projects?visibility=public&order_by=id&sort=asc&per_page=100`
    const projects: GitLabProject[] = []
    for await (const body of client.pages(first, `${kind} ${name} not found at ${base}`)) {
      if (!Array.isArray(body)) throw new GitLabError(`${first.replace(/\?.*$/, '')} did not answer a list of projects`)
      for (const p of body as GitLabProject[]) if (wanted(p, options.includeForks === true)) projects.push(p)
    }
    return projects
  } finally {
    if (api === undefined) await client.close()
  }
}

/** Yields the texts of every listed project; `state` receives each project's ref commits. */
export async function* gitlabSource(options: GitLabSourceOptions, progress: Progress, state: GitLabState = {}): AsyncGenerator<ScanItem> {
  // A bad name fails before anything is sent.
  what(options)
  const api = await openGitLab(options)
  let projects: GitLabProject[]
  try {
    projects = await listProjects(options, api)
  } finally {
    await api.close()
  }
  // Clones come from the API's own host only (and file:// only where local paths are allowed).
  const host = new URL(api.api).hostname
  projects = projects.filter((p) => {
    if (cloneAllowed(p.http_url_to_repo, api.api, host, options.reach)) return true
    progress.skipped++
    return false
  })
  for (const project of projects) {
    const path = project.path_with_namespace
    options.onRepo?.(path)
    const web = webAddress(project.web_url)
    const repoState: GitState = { tips: [] }
    const since = options.since?.[path]
    yield* gitSource({
      url: project.http_url_to_repo,
      history: options.history,
      cacheDir: options.cacheDir,
      limits: options.limits,
      sourceType: 'gitlab',
      repo: path,
      ...(web === undefined ? {} : {
        webUrl: web,
        links: {
          blob: (commit: string, file: string, line: number) => `${web}/-/blob/${commit}/${encodePath(file)}#L${line}`,
          commit: (commit: string) => `${web}/-/commit/${commit}`,
        },
      }),
      ...(options.reach === undefined ? {} : { reach: options.reach }),
      ...(options.onDiagnostic === undefined ? {} : { onDiagnostic: options.onDiagnostic }),
      ...(since === undefined ? {} : { since }),
    }, progress, repoState)
    state[path] = repoState
    progress.repos++
  }
}

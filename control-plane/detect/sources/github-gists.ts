/**
 * A GitHub user's public gists, listed through the GitHub REST API (`/users/:user/gists`, pages
 * through `Link`) and each cloned with its revisions and scanned as a git source. Organisations have
 * no gists: name the users. The API base and token are the GitHub source's.
 */
import { GitHubError } from '../../../lib/errors.js'
import { gitSource, type GitState } from './git.js'
import type { Progress, ScanItem } from './source.js'
import { openGitHubApi } from './github.js'
import { cloneAllowed, webAddress, type HostedSourceOptions, type WebApi } from './web-api.js'

/** Options of a gists source (GitHub's API, default https://api.github.com). */
export interface GistSourceOptions extends HostedSourceOptions {
  /** The user whose gists are scanned. */
  user: string
}

/** A gist as the API lists it (the fields used). */
export interface Gist {
  id: string
  git_pull_url: string
  html_url?: string
  public?: boolean
}

/** The name a gist's findings and state carry: `gist:ID`. */
export function gistName(id: string): string {
  return `gist:${id}`
}

/**
 * The anchor GitHub gives a gist file on its page: `file-` and the name lowercased, each run of
 * other characters than letters and digits made one `-` (`config.env` → `file-config-env`).
 */
export function gistFileAnchor(file: string): string {
  return `file-${file.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`
}

const USER = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/

function checkUser(user: string): void {
  if (!USER.test(user)) throw new GitHubError(`give a user name (letters, digits, '-'), got ${JSON.stringify(user)}`)
}

/** Lists a user's public gists, following pagination and honouring rate limits. */
export async function listGists(options: GistSourceOptions, api?: WebApi): Promise<Gist[]> {
  checkUser(options.user)
  const client = api ?? await openGitHubApi(options)
  try {
    const first = `${client.api}/users/${encodeURIComponent(options.user)}/gists?per_page=100`
    const gists: Gist[] = []
    for await (const body of client.pages(first, `user ${options.user} not found at ${client.api}`)) {
      if (!Array.isArray(body)) throw new GitHubError(`${first.replace(/\?.*$/, '')} did not answer a list of gists`)
      for (const g of body as Gist[]) {
        if (typeof g?.id !== 'string' || !/^[A-Za-z0-9]{1,64}$/.test(g.id) || typeof g.git_pull_url !== 'string') continue
        // A secret gist (listed to its owner's token) is left out, as private repositories are.
        if (g.public === false) continue
        gists.push(g)
      }
    }
    return gists
  } finally {
    if (api === undefined) await client.close()
  }
}

/** Yields the texts of every listed gist; `state` receives each gist's ref commits. */
export async function* gistSource(options: GistSourceOptions, progress: Progress, state: Record<string, GitState> = {}): AsyncGenerator<ScanItem> {
  checkUser(options.user)
  const api = await openGitHubApi(options)
  let gists: Gist[]
  try {
    gists = await listGists(options, api)
  } finally {
    await api.close()
  }
  // gist.github.com serves github.com's gists; GitHub Enterprise serves them on its own host (`/gist/ID.git`).
  const apiHost = new URL(api.api).hostname
  const host = apiHost === 'api.github.com' ? 'gist.github.com' : apiHost
  gists = gists.filter((g) => {
    if (cloneAllowed(g.git_pull_url, api.api, host, options.reach)) return true
    progress.skipped++
    return false
  })
  for (const gist of gists) {
    const name = gistName(gist.id)
    const web = webAddress(gist.html_url)
    const gistState: GitState = { tips: [] }
    const since = options.since?.[name]
    yield* gitSource({
      url: gist.git_pull_url,
      history: options.history,
      cacheDir: options.cacheDir,
      limits: options.limits,
      sourceType: 'github',
      repo: name,
      ...(web === undefined ? {} : {
        webUrl: web,
        links: {
          blob: (commit: string, file: string, line: number) => `${web}/${commit}#${gistFileAnchor(file)}-L${line}`,
          commit: (commit: string) => `${web}/${commit}`,
        },
      }),
      ...(options.reach === undefined ? {} : { reach: options.reach }),
      ...(options.onDiagnostic === undefined ? {} : { onDiagnostic: options.onDiagnostic }),
      ...(since === undefined ? {} : { since }),
    }, progress, gistState)
    state[name] = gistState
    progress.repos++
  }
}

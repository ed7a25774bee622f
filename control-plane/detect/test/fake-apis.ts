/**
 * Small HTTP servers that answer as the GitLab REST API (v4) and GitHub's gists API do, for the
 * sources' tests: the same paths, query parameters, bodies and pagination headers (`x-next-page`
 * and `Link`), listing repositories the tests make (cloned through the URLs each entry gives).
 * Every request is recorded with the credential headers it carried.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { join, normalize } from 'node:path'
import type { AddressInfo } from 'node:net'
import type { Teardown } from './helpers.js'

/** A request as the fake API saw it. */
export interface SeenRequest {
  path: string
  query: URLSearchParams
  privateToken: string | undefined
  authorization: string | undefined
}

/** A project the fake GitLab lists. */
export interface FakeProject {
  /** `acme/platform/api`: the group is everything before the last `/`. */
  path: string
  /** What the API gives as `http_url_to_repo`; `{origin}` stands for the fake's own (`http://127.0.0.1:PORT`). */
  cloneUrl: string
  visibility?: 'public' | 'internal' | 'private'
  fork?: boolean
  archived?: boolean
  empty?: boolean
}

/** A fake API listening on 127.0.0.1. */
export interface FakeApi {
  /** The API base (`http://127.0.0.1:PORT/api/v4`). */
  api: string
  /** `http://127.0.0.1:PORT`. */
  origin: string
  seen: SeenRequest[]
}

async function listen(t: Teardown, handle: (req: IncomingMessage, res: ServerResponse, url: URL, origin: string) => void, base: string): Promise<FakeApi> {
  const seen: SeenRequest[] = []
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const header = (name: string): string | undefined => {
      const v = req.headers[name]
      return Array.isArray(v) ? v.join(',') : v
    }
    seen.push({ path: url.pathname, query: url.searchParams, privateToken: header('private-token'), authorization: header('authorization') })
    handle(req, res, url, `http://${req.headers.host ?? ''}`)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => {
    server.closeAllConnections()
    server.close(() => r())
  }))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { api: `${origin}${base}`, origin, seen }
}

/**
 * A bare copy of the repository at `dir`, made ready for git's "dumb" HTTP transport (plain files:
 * `info/refs`, `objects/…`), for a fake API to serve as a clone URL on its own host.
 */
export function servableRepo(dir: string, into: string): string {
  execFileSync('git', ['clone', '-q', '--bare', dir, into])
  execFileSync('git', ['update-server-info'], { cwd: into })
  return into
}

/** Serves the files of `repos` (URL path prefix → bare repository) as a static server does; true when the path was one of them. */
function serveRepo(repos: Record<string, string>, url: URL, res: ServerResponse): boolean {
  for (const [prefix, dir] of Object.entries(repos)) {
    if (!url.pathname.startsWith(`${prefix}/`)) continue
    const file = normalize(join(dir, decodeURIComponent(url.pathname.slice(prefix.length))))
    if (!file.startsWith(dir) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end()
    } else {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(readFileSync(file))
    }
    return true
  }
  return false
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(JSON.stringify(body))
}

/** A project as GitLab's API shows it (the fields a client reads, and a few it does not). */
function projectBody(p: FakeProject, id: number, origin: string): Record<string, unknown> {
  const name = p.path.split('/').at(-1)!
  return {
    id, name, path: name, path_with_namespace: p.path, name_with_namespace: p.path.split('/').join(' / '),
    default_branch: 'main', visibility: p.visibility ?? 'public', archived: p.archived ?? false, empty_repo: p.empty ?? false,
    http_url_to_repo: p.cloneUrl.replace('{origin}', origin), ssh_url_to_repo: `git@gitlab.example.test:${p.path}.git`,
    web_url: `https://gitlab.example.test/${p.path}`, repository_access_level: 'enabled',
    namespace: { full_path: p.path.split('/').slice(0, -1).join('/') },
    ...(p.fork === true ? { forked_from_project: { id: 1, path_with_namespace: 'upstream/x' } } : {}),
  }
}

/**
 * A GitLab: `GET /api/v4/groups/:path/projects` (a group's projects, its subgroups' only with
 * `include_subgroups=true`; `visibility=public` honoured; `perPage` a page, offset pagination with
 * `x-page`, `x-next-page`, `x-total` as GitLab sends them), `GET /api/v4/users/:name/projects` (keyset
 * pagination: only a `Link: rel="next"`), `GET /api/v4/projects/:path`. `users` maps a user to
 * project paths; a token other than `token` (when set) gets 401. `repos` are served as files on the
 * same origin (URL path prefix → bare repository, see servableRepo), without a token.
 */
export async function fakeGitLab(t: Teardown, projects: FakeProject[], options: { users?: Record<string, string[]>; perPage?: number; token?: string; repos?: Record<string, string> } = {}): Promise<FakeApi> {
  const perPage = options.perPage ?? 2
  return listen(t, (req, res, url, origin) => {
    if (options.repos !== undefined && serveRepo(options.repos, url, res)) return
    if (options.token !== undefined && req.headers['private-token'] !== options.token) return json(res, 401, { message: '401 Unauthorized' })
    const m = /^\/api\/v4\/(groups|users|projects)\/([^/]+)(\/projects)?$/.exec(url.pathname)
    if (m === null) return json(res, 404, { message: '404 Not Found' })
    const [, kind, encoded, listing] = m
    const name = decodeURIComponent(encoded!)
    const index = (p: FakeProject): number => projects.indexOf(p) + 1
    if (kind === 'projects' && listing === undefined) {
      const p = projects.find((x) => x.path === name)
      return p === undefined ? json(res, 404, { message: '404 Project Not Found' }) : json(res, 200, projectBody(p, index(p), origin))
    }
    let list: FakeProject[]
    if (kind === 'groups') {
      const within = url.searchParams.get('include_subgroups') === 'true'
      list = projects.filter((p) => {
        const group = p.path.split('/').slice(0, -1).join('/')
        return group === name || (within && group.startsWith(`${name}/`))
      })
      if (list.length === 0) return json(res, 404, { message: '404 Group Not Found' })
    } else {
      const owned = options.users?.[name]
      if (owned === undefined) return json(res, 404, { message: '404 User Not Found' })
      list = projects.filter((p) => owned.includes(p.path))
    }
    if (url.searchParams.get('visibility') === 'public') list = list.filter((p) => (p.visibility ?? 'public') === 'public')
    const self = `${origin}${url.pathname}`
    if (kind === 'users') {
      // Keyset: the next page starts after the last id; only a Link names it.
      const after = Number(url.searchParams.get('id_after') ?? '0')
      const rest = list.filter((p) => index(p) > after)
      const page = rest.slice(0, perPage)
      const headers: Record<string, string> = {}
      if (rest.length > perPage) headers.link = `<${self}?id_after=${index(page.at(-1)!)}&order_by=id&sort=asc&per_page=${perPage}&visibility=public>; rel="next"`
      return json(res, 200, page.map((p) => projectBody(p, index(p), origin)), headers)
    }
    const pageNo = Number(url.searchParams.get('page') ?? '1')
    const page = list.slice((pageNo - 1) * perPage, pageNo * perPage)
    const last = Math.max(1, Math.ceil(list.length / perPage))
    json(res, 200, page.map((p) => projectBody(p, index(p), origin)), {
      'x-page': String(pageNo), 'x-per-page': String(perPage), 'x-total': String(list.length), 'x-total-pages': String(last),
      'x-next-page': pageNo < last ? String(pageNo + 1) : '', 'x-prev-page': pageNo > 1 ? String(pageNo - 1) : '',
    })
  }, '/api/v4')
}

/** A gist the fake GitHub lists. */
export interface FakeGist {
  id: string
  /** What the API gives as `git_pull_url`; `{origin}` as in FakeProject's cloneUrl. */
  pullUrl: string
  public?: boolean
  files?: string[]
}

/**
 * A GitHub's gists: `GET /api/v3/users/:user/gists` (a gist a page, `Link` with `next` and `last`
 * as GitHub sends them). `gists` maps a user to their gists; another user gets 404. `nextOrigin`,
 * when set, is where the first page's `next` link points (another origin); `repos` as fakeGitLab's.
 */
export async function fakeGists(t: Teardown, gists: Record<string, FakeGist[]>, options: { nextOrigin?: string; repos?: Record<string, string> } = {}): Promise<FakeApi> {
  return listen(t, (_req, res, url, origin) => {
    if (options.repos !== undefined && serveRepo(options.repos, url, res)) return
    const m = /^\/api\/v3\/users\/([^/]+)\/gists$/.exec(url.pathname)
    const list = m === null ? undefined : gists[decodeURIComponent(m[1]!)]
    if (list === undefined) return json(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' })
    const page = Number(url.searchParams.get('page') ?? '1')
    const g = list[page - 1]
    const self = `${options.nextOrigin ?? origin}${url.pathname}?per_page=1`
    const headers: Record<string, string> = {}
    if (page < list.length) headers.link = `<${self}&page=${page + 1}>; rel="next", <${self}&page=${list.length}>; rel="last"`
    json(res, 200, g === undefined ? [] : [{
      id: g.id, url: `${origin}/api/v3/gists/${g.id}`, git_pull_url: g.pullUrl.replace('{origin}', origin), git_push_url: g.pullUrl.replace('{origin}', origin),
      html_url: `https://gist.example.test/${g.id}`, public: g.public ?? true, description: '', comments: 0,
      files: Object.fromEntries((g.files ?? []).map((f) => [f, { filename: f, type: 'text/plain', size: 10 }])),
      owner: { login: m![1] },
    }], headers)
  }, '/api/v3')
}

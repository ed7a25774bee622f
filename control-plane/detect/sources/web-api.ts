/**
 * How the GitLab and gist sources read a REST API. With a reach policy, the API's host is checked
 * like a clone's before the first request (resolved; every address public or listed in
 * `allowedHosts`) and every connection goes to the addresses checked, so a name that answers
 * otherwise later does not move it. No redirect is followed, pages are followed only on the API's
 * own origin (the token goes nowhere else), and rate limits are waited out up to a bound.
 */
import { isIP, type LookupFunction } from 'node:net'
import { Agent, fetch, type Response } from 'undici'
import { checkRemote, redactUrl, type ReachPolicy } from './reach.js'
import type { SourceLimits } from './source.js'

/**
 * What every source listed through a host's API takes (GitHub organisations and users, their gists,
 * GitLab groups, users and projects): how to reach the API and what each clone may do.
 */
export interface HostedSourceOptions {
  /** The API base; default the host's public one (https://api.github.com, https://gitlab.com/api/v4). */
  apiUrl?: string
  /** The token, sent as the host expects it (GitHub: `Authorization: Bearer`; GitLab: `PRIVATE-TOKEN`). */
  token?: string
  history: boolean
  cacheDir: string
  limits: SourceLimits
  /** Longest wait for a rate-limit reset, in seconds (default 900); beyond it the scan fails. */
  maxRateLimitWait?: number
  /** Per repository (`acme/api`; a gist: `gist:ID`), commits known from an earlier scan. */
  since?: Readonly<Record<string, readonly string[]>>
  /** What the scan may reach: the API's host and each clone; undefined: anything. */
  reach?: ReachPolicy
  /** Receives what git said when a clone failed (redacted), for the operator's log only. */
  onDiagnostic?: (text: string) => void
}

/** How to reach one API. */
export interface WebApiOptions {
  /** The API base (`https://gitlab.com/api/v4`). */
  apiUrl: string
  /** Sent with every request (the token's header among them). */
  headers: Record<string, string>
  /** What the scan may reach; undefined: anything (the CLI). */
  reach?: ReachPolicy | undefined
  /** Longest wait for a rate-limit reset, in seconds. */
  maxRateLimitWait: number
  /** The variable that holds the token, named when the API refuses it. */
  tokenVariable: string
  /** Makes the source's own error (GitLabError, GitHubError). */
  fail: (message: string, options?: { cause: unknown }) => Error
}

/** An API opened: its base, and pages read from it. */
export interface WebApi {
  /** The base URL without a trailing `/`. */
  readonly api: string
  /** The JSON body of a GET on the API; a 404 fails with `notFound`. */
  json(url: string, notFound: string): Promise<unknown>
  /** The JSON bodies of a listing's pages: `Link: rel="next"` (keyset) or `x-next-page` (offset), on the API's origin only. */
  pages(url: string, notFound: string): AsyncGenerator<unknown>
  /** Ends the pinned connections. */
  close(): Promise<void>
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** A lookup that answers the addresses checked, whatever the name: the connection goes where the check said. */
function pinnedLookup(addresses: readonly string[]): LookupFunction {
  const entries = addresses.map((address) => ({ address, family: isIP(address) }))
  return (_hostname, options, callback) => {
    if (options.all === true) return (callback as unknown as (err: null, all: typeof entries) => void)(null, entries)
    const first = entries[0]!
    callback(null, first.address, first.family)
  }
}

/**
 * Opens an API: its URL checked (http or https, no user-info) and, with a reach policy, its host.
 * @throws the source's error when the URL is not one or its host is not allowed; nothing is sent then.
 */
export async function openWebApi(options: WebApiOptions): Promise<WebApi> {
  const api = options.apiUrl.replace(/\/+$/, '')
  let base: URL
  try {
    base = new URL(api)
  } catch {
    throw options.fail(`the API URL ${JSON.stringify(redactUrl(api))} is not a URL`)
  }
  if (base.protocol !== 'https:' && base.protocol !== 'http:') throw options.fail(`the API URL must be https or http, got ${base.protocol}`)
  if (base.username !== '' || base.password !== '') throw options.fail(`the API URL must not carry credentials; give the token in ${options.tokenVariable}`)
  let checked: Awaited<ReturnType<typeof checkRemote>>
  try {
    checked = await checkRemote(api, options.reach)
  } catch (cause) {
    throw options.fail(`${base.origin} cannot be reached, or its host is not allowed (scan.allowedHosts)`, { cause })
  }
  const dispatcher = checked === undefined || isIP(checked.host) !== 0 ? undefined : new Agent({ connect: { lookup: pinnedLookup(checked.addresses) } })
  const maxWait = options.maxRateLimitWait * 1000
  const shown = (url: string): string => url.replace(/\?.*$/s, '')

  const get = async (url: string): Promise<Response> => {
    for (let attempt = 0; ; attempt++) {
      let res: Response
      try {
        // No redirect is followed: the token goes to the configured API origin and nowhere else.
        res = await fetch(url, { headers: options.headers, redirect: 'manual', ...(dispatcher === undefined ? {} : { dispatcher }) })
      } catch (cause) {
        throw options.fail(`cannot reach ${base.origin}: ${(cause as Error).message}`, { cause })
      }
      const wait = rateLimitWait(res)
      if (wait === undefined || (res.status !== 403 && res.status !== 429) || attempt >= 3) return res
      if (wait > maxWait) throw options.fail(`rate limit exceeded; it resets in ${Math.ceil(wait / 1000)} s, more than the ${maxWait / 1000} s allowed to wait`)
      await res.body?.cancel()
      await sleep(wait)
    }
  }
  const read = async (url: string, notFound: string): Promise<{ body: unknown; res: Response }> => {
    const res = await get(url)
    if (res.status === 404) {
      await res.body?.cancel()
      throw options.fail(notFound)
    }
    if (res.status === 401) {
      await res.body?.cancel()
      throw options.fail(`the token was refused (401); check ${options.tokenVariable}`)
    }
    if (!res.ok) {
      await res.body?.cancel()
      throw options.fail(`${shown(url)} answered ${res.status}`)
    }
    try {
      return { body: await res.json(), res }
    } catch (cause) {
      throw options.fail(`${shown(url)} did not answer JSON`, { cause })
    }
  }
  const sameOrigin = (url: string): boolean => {
    try {
      return new URL(url).origin === base.origin
    } catch {
      return false
    }
  }
  return {
    api,
    json: async (url, notFound) => (await read(url, notFound)).body,
    async* pages(first, notFound) {
      let url: string | undefined = first
      for (let page = 0; url !== undefined && page < 1000; page++) {
        const { body, res } = await read(url, notFound)
        yield body
        const link = nextLink(res.headers.get('link'))
        const offset = res.headers.get('x-next-page')
        let next: string | undefined
        if (link !== undefined) next = link
        else if (offset !== null && /^\d+$/.test(offset)) {
          const here: URL = new URL(url)
          here.searchParams.set('page', offset)
          next = here.href
        }
        // A next page on another origin would receive the token: the listing stops there instead.
        url = next !== undefined && sameOrigin(next) ? next : undefined
        // Spent quota on a good answer: wait for the reset before asking for the next page.
        if (url !== undefined && remaining(res) === '0') {
          const wait = rateLimitWait(res) ?? 0
          if (wait > maxWait) throw options.fail(`rate limit exhausted; it resets in ${Math.ceil(wait / 1000)} s, more than the ${maxWait / 1000} s allowed to wait`)
          await sleep(wait)
        }
      }
    },
    close: async () => {
      await dispatcher?.close()
    },
  }
}

/** The next page's URL from a `Link` header, if any. */
export function nextLink(link: string | null): string | undefined {
  if (link === null) return undefined
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part)
    if (m !== null) return m[1]
  }
  return undefined
}

/** Requests left, in GitHub's (`x-ratelimit-remaining`) or GitLab's (`ratelimit-remaining`) header. */
function remaining(res: Response): string | null {
  return res.headers.get('x-ratelimit-remaining') ?? res.headers.get('ratelimit-remaining')
}

/** How long to wait (ms) before the next request, from `retry-after` or the rate-limit reset; undefined: no limit hit. */
function rateLimitWait(res: Response): number | undefined {
  const retryAfter = res.headers.get('retry-after')
  if (retryAfter !== null && /^\d+$/.test(retryAfter)) return Number(retryAfter) * 1000
  if (remaining(res) !== '0') return undefined
  const reset = Number(res.headers.get('x-ratelimit-reset') ?? res.headers.get('ratelimit-reset'))
  if (!Number.isFinite(reset) || reset <= 0) return 60_000
  // One extra second: the reset time is rounded down to the second.
  return Math.max(0, reset * 1000 - Date.now()) + 1000
}

/**
 * Whether a clone URL an API listed may be cloned: https (or http, if the API is) on `host`, with no
 * user-info or query. A local path or another host, which a hostile or mistaken API could name, is
 * not; a file:// URL only where the reach policy allows local paths (and then only under them).
 */
export function cloneAllowed(cloneUrl: string, apiUrl: string, host: string, reach: ReachPolicy | undefined): boolean {
  let clone: URL
  let api: URL
  try {
    clone = new URL(cloneUrl)
    api = new URL(apiUrl)
  } catch {
    return false
  }
  if (clone.protocol === 'file:') return reach?.allowedPaths !== undefined
  const protocols = api.protocol === 'http:' ? ['https:', 'http:'] : ['https:']
  return protocols.includes(clone.protocol) && clone.hostname === host && clone.username === '' && clone.password === '' && clone.search === ''
}

/** A web address an API gave, kept only if it is http(s): it becomes a link people click. */
export function webAddress(url: unknown): string | undefined {
  if (typeof url !== 'string') return undefined
  try {
    const u = new URL(url)
    return (u.protocol === 'https:' || u.protocol === 'http:') && u.username === '' && u.password === '' ? u.href.replace(/\/+$/, '') : undefined
  } catch {
    return undefined
  }
}

/** A repository path as it goes into a link: each segment percent-encoded, the slashes kept. */
export function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/')
}

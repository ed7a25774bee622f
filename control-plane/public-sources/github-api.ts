/**
 * GitHub's REST API as the public sources read it: GETs with the token sent to the API's own origin
 * only, the budget and pace each answer reports kept (`X-RateLimit-*`, `X-Poll-Interval`,
 * `Retry-After`), and a rate limit (403 or 429) told apart from a failure, so a source can end its
 * batch and wait instead of failing.
 */
import { GitHubError } from '../../lib/errors.js'

/** How to reach the API. */
export interface GitHubApiOptions {
  /** Default https://api.github.com. */
  apiUrl?: string
  /** Sent as `Authorization: Bearer` to the API's origin (a token raises the budget from 60 to 5000 requests an hour). */
  token?: string
  /** One request's time limit (default 30 s). */
  requestTimeoutMs?: number
}

/** What an answer's headers say of the budget and pace. */
export interface Pace {
  rateLimitRemaining?: number
  rateLimitResetAt?: string
  pollIntervalSeconds?: number
  /** Seconds to wait (403/429 Retry-After, or an exhausted budget until its reset). */
  waitSeconds?: number
}

/** A rate limit met: the batch ends, the state says when to come back. */
export class RateLimited extends Error {
  readonly pace: Pace
  constructor(pace: Pace) {
    super('rate limited')
    this.pace = pace
  }
}

/** The API, with the budget its answers reported. */
export class GitHubApi {
  /** The API base, without a trailing `/`. */
  readonly api: string
  readonly #origin: string
  readonly #headers: Record<string, string>
  readonly #token: string | undefined
  readonly #timeoutMs: number
  /** The budget and pace the answers since the last `resetPace` gave, the newest last. */
  #pace: Pace = {}

  constructor(options: GitHubApiOptions = {}) {
    this.api = (options.apiUrl ?? 'https://api.github.com').replace(/\/+$/, '')
    this.#origin = new URL(this.api).origin
    this.#headers = { accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28', 'user-agent': 'leakgate-public-sources' }
    this.#token = options.token
    this.#timeoutMs = options.requestTimeoutMs ?? 30_000
    if (!Number.isInteger(this.#timeoutMs) || this.#timeoutMs < 1) throw new TypeError(`requestTimeoutMs must be a positive integer, got ${this.#timeoutMs}`)
  }

  /** What the answers since the last `resetPace` said of the budget and pace. */
  get pace(): Readonly<Pace> {
    return this.#pace
  }

  /** Forgets the budget and pace seen (at the start of a read). */
  resetPace(): void {
    this.#pace = {}
  }

  /** One GET: its status, headers and body text; the budget it reports kept; a rate limit told apart. */
  async get(url: string, extra: Record<string, string>, signal: AbortSignal | undefined): Promise<{ status: number; headers: Headers; text: string; limited?: RateLimited }> {
    const timeout = AbortSignal.timeout(this.#timeoutMs)
    let res: Response
    try {
      res = await fetch(url, { headers: { ...this.#headers, ...(this.#token !== undefined && new URL(url).origin === this.#origin ? { authorization: `Bearer ${this.#token}` } : {}), ...extra }, redirect: 'error', signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]) })
    } catch (err) {
      throw new GitHubError(`GET ${pathOf(url)} failed: ${(err as Error).message}`, { cause: err })
    }
    let text: string
    try {
      text = await res.text()
    } catch (err) {
      throw new GitHubError(`GET ${pathOf(url)}: the answer was cut off (${(err as Error).message})`, { cause: err })
    }
    const pace = paceOf(res.headers)
    this.#pace = { ...this.#pace, ...pace }
    const exhausted = pace.rateLimitRemaining === 0 && (res.status === 403 || res.status === 429)
    if (res.status === 429 || (res.status === 403 && (res.headers.has('retry-after') || exhausted))) {
      const reset = pace.rateLimitResetAt === undefined ? 60 : Math.max(1, Math.ceil((Date.parse(pace.rateLimitResetAt) - Date.now()) / 1000))
      const waitSeconds = pace.waitSeconds ?? reset
      this.#pace = { ...this.#pace, waitSeconds }
      return { status: res.status, headers: res.headers, text, limited: new RateLimited({ ...pace, waitSeconds }) }
    }
    return { status: res.status, headers: res.headers, text }
  }
}

/** The budget and pace an answer's headers give. */
function paceOf(headers: Headers): Pace {
  const pace: Pace = {}
  const remaining = Number(headers.get('x-ratelimit-remaining') ?? NaN)
  if (Number.isInteger(remaining) && remaining >= 0) pace.rateLimitRemaining = remaining
  const reset = Number(headers.get('x-ratelimit-reset') ?? NaN)
  if (Number.isInteger(reset) && reset > 0) pace.rateLimitResetAt = new Date(reset * 1000).toISOString()
  const interval = Number(headers.get('x-poll-interval') ?? NaN)
  if (Number.isInteger(interval) && interval > 0 && interval <= 3600) pace.pollIntervalSeconds = interval
  const retry = headers.get('retry-after')
  if (retry !== null) {
    const seconds = /^\d+$/.test(retry) ? Number(retry) : Math.ceil((Date.parse(retry) - Date.now()) / 1000)
    if (Number.isFinite(seconds)) pace.waitSeconds = Math.min(Math.max(seconds, 1), 3600)
  }
  return pace
}

/** The `rel="next"` URL of a Link header, when it is on the API's own origin (the token goes nowhere else). */
export function nextLink(link: string | null, api: string): string | undefined {
  if (link === null) return undefined
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part)
    if (m?.[1] === undefined) continue
    try {
      return new URL(m[1]).origin === new URL(api).origin ? m[1] : undefined
    } catch {
      return undefined
    }
  }
  return undefined
}

/** The JSON of an answer's text; a GitHubError naming `what` when it does not parse. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new GitHubError(`GET ${what} answered JSON that does not parse (cut off or malformed)`, { cause: err })
  }
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname
  } catch {
    return '(a URL)'
  }
}


/**
 * Plain HTTP GETs for the public feeds that are not GitHub's API (paste sites, package registries):
 * no credential is ever sent, redirects are not followed (a feed cannot send a read elsewhere), a body
 * is read whole up to a size cap, and a rate limit (429, or 503 with `Retry-After`) is told apart from
 * a failure, so a source can end its batch and wait instead of failing.
 */
import { FeedError } from '../../lib/errors.js'
import { RateLimited, type Pace } from './github-api.js'
import type { PublicSourceState } from './source.js'

/** How to reach a feed. */
export interface FeedHttpOptions {
  /** One request's time limit (default 30 s). */
  requestTimeoutMs?: number
}

/** One answer: status, headers, body bytes (undefined when over the cap), or the rate limit it was. */
export interface FeedAnswer {
  status: number
  headers: Headers
  body: Buffer | undefined
  limited?: RateLimited
}

/** GETs with the pace the answers reported kept. */
export class FeedHttp {
  readonly #timeoutMs: number
  #pace: Pace = {}

  constructor(options: FeedHttpOptions = {}) {
    this.#timeoutMs = options.requestTimeoutMs ?? 30_000
    if (!Number.isInteger(this.#timeoutMs) || this.#timeoutMs < 1) throw new TypeError(`requestTimeoutMs must be a positive integer, got ${this.#timeoutMs}`)
  }

  /** What the answers since the last `resetPace` said of the budget and pace. */
  get pace(): Readonly<Pace> {
    return this.#pace
  }

  /** Forgets the pace seen (at the start of a read). */
  resetPace(): void {
    this.#pace = {}
  }

  /**
   * One GET. A body longer than `maxBytes` (by its Content-Length, or as it arrives) is not kept: the
   * answer's `body` is undefined. A body shorter than its Content-Length, a reset or a timeout throws.
   */
  async get(url: string, signal: AbortSignal | undefined, maxBytes = 64 * 1024 * 1024, accept = 'application/json'): Promise<FeedAnswer> {
    const timeout = AbortSignal.timeout(this.#timeoutMs)
    let res: Response
    try {
      res = await fetch(url, { headers: { accept, 'user-agent': 'leakgate-public-sources' }, redirect: 'error', signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]) })
    } catch (err) {
      throw new FeedError(`GET ${shown(url)} failed: ${(err as Error).message}`, { cause: err })
    }
    const pace = paceOf(res.headers)
    this.#pace = { ...this.#pace, ...pace }
    if (res.status === 429 || (res.status === 503 && res.headers.has('retry-after'))) {
      await res.body?.cancel().catch(() => undefined)
      const waitSeconds = pace.waitSeconds ?? 60
      this.#pace = { ...this.#pace, waitSeconds }
      return { status: res.status, headers: res.headers, body: Buffer.alloc(0), limited: new RateLimited({ ...pace, waitSeconds }) }
    }
    const length = Number(res.headers.get('content-length') ?? NaN)
    if (Number.isFinite(length) && length > maxBytes) {
      await res.body?.cancel().catch(() => undefined)
      return { status: res.status, headers: res.headers, body: undefined }
    }
    const chunks: Buffer[] = []
    let size = 0
    try {
      for await (const chunk of res.body ?? []) {
        size += chunk.byteLength
        if (size > maxBytes) {
          await res.body?.cancel().catch(() => undefined)
          return { status: res.status, headers: res.headers, body: undefined }
        }
        chunks.push(Buffer.from(chunk))
      }
    } catch (err) {
      throw new FeedError(`GET ${shown(url)}: the answer was cut off (${(err as Error).message})`, { cause: err })
    }
    return { status: res.status, headers: res.headers, body: Buffer.concat(chunks) }
  }
}

/** The pace an answer's headers give (`Retry-After`, and `X-RateLimit-*` where a feed sends them). */
function paceOf(headers: Headers): Pace {
  const pace: Pace = {}
  const remaining = Number(headers.get('x-ratelimit-remaining') ?? NaN)
  if (Number.isInteger(remaining) && remaining >= 0) pace.rateLimitRemaining = remaining
  const retry = headers.get('retry-after')
  if (retry !== null) {
    const seconds = /^\d+$/.test(retry) ? Number(retry) : Math.ceil((Date.parse(retry) - Date.now()) / 1000)
    if (Number.isFinite(seconds)) pace.waitSeconds = Math.min(Math.max(seconds, 1), 3600)
  }
  return pace
}

/** The JSON of a body; a FeedError naming `what` when it does not parse. */
export function parseFeedJson(body: Buffer, what: string): unknown {
  try {
    return JSON.parse(body.toString('utf8'))
  } catch (err) {
    throw new FeedError(`${what} answered JSON that does not parse (cut off or malformed)`, { cause: err })
  }
}

/** A body as text, or undefined when it is binary (a NUL byte in its first 8 KiB, as git tells binary files). */
export function textOf(body: Buffer): string | undefined {
  return body.subarray(0, 8192).includes(0) ? undefined : body.toString('utf8')
}

/** A URL as logs and errors show it: its origin and path, never its query (a feed's key may be there). */
export function shown(url: string): string {
  try {
    const u = new URL(url)
    return `${u.origin}${u.pathname}`
  } catch {
    return '(a URL)'
  }
}

/** The state a feed's read leaves: the pace, when to poll next, the lag. */
export function feedState(pace: Readonly<Pace>, got: { wait: boolean; more: boolean; pollSeconds: number; lagSeconds?: number; extra?: PublicSourceState }): PublicSourceState {
  const wait = got.wait ? pace.waitSeconds ?? 60 : got.more ? 0 : got.pollSeconds
  return {
    ...(pace.rateLimitRemaining === undefined ? {} : { rateLimitRemaining: pace.rateLimitRemaining }),
    pollIntervalSeconds: got.pollSeconds,
    ...(wait > 0 ? { nextPollAt: new Date(Date.now() + wait * 1000).toISOString() } : {}),
    ...(got.lagSeconds === undefined ? {} : { lagSeconds: got.lagSeconds }),
    ...got.extra,
  }
}

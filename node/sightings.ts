/**
 * Sightings: a node saw a leaked credential in a request (docs/architecture.md "Data flow"). Never the credential:
 * its SHA-256, the leak id, and where the request went, with the path reduced to a template.
 *
 * They wait in a bounded buffer (memory stays bounded whatever the traffic; what does not fit is
 * dropped and counted) and a sender posts them in batches to the control plane, retrying with backoff.
 */
import { isIP } from 'node:net'
import { Agent, request as httpRequest } from 'undici'
import type { Logger } from 'pino'
import type { Sighting as WireSighting, SightingBatch } from '../protocol/sightings.js'
import type { NodeCounters } from './metrics.js'

/** One sighting as this node sends it: every field of the wire's, none left out. */
export type Sighting = Required<WireSighting>

/** A bounded FIFO of sightings; what does not fit is dropped and counted. */
export class SightingBuffer {
  readonly capacity: number
  readonly #counters: NodeCounters
  #items: Sighting[] = []

  constructor(capacity: number, counters: NodeCounters) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new TypeError(`sighting buffer capacity must be a positive integer, got ${String(capacity)}`)
    this.capacity = capacity
    this.#counters = counters
  }

  /** Sightings waiting. */
  get size(): number {
    return this.#items.length
  }

  /** Adds a sighting; false (and counted as dropped) when the buffer is full. */
  push(s: Sighting): boolean {
    if (this.#items.length >= this.capacity) {
      this.#counters.sightingsDropped++
      return false
    }
    this.#items.push(s)
    return true
  }

  /** Takes up to `max` of the oldest sightings out. */
  take(max: number): Sighting[] {
    return this.#items.splice(0, max)
  }

  /** Puts a batch that could not be sent back in front, as far as room allows; the rest is dropped. */
  giveBack(batch: readonly Sighting[]): void {
    const room = Math.max(0, this.capacity - this.#items.length)
    const kept = batch.length <= room ? batch : batch.slice(0, room)
    this.#counters.sightingsDropped += batch.length - kept.length
    this.#items = [...kept, ...this.#items]
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const NUMERIC = /^\d+$/
const HEX = /^[0-9a-f]{8,}$/i
// A segment kept as it is: words of letters joined by `-` or `_` (`health-check`, `sendMessage`), or
// a version (`v1`, `v12`). Anything with a digit elsewhere, punctuation, a percent escape, or more
// length than a route's own word has, may be a credential (`/bot<token>/`, webhook secrets).
const WORDS = /^[A-Za-z]+(?:[-_][A-Za-z]+)*$/
const VERSION = /^[vV]\d{1,3}$/
const MAX_WORD_SEGMENT = 32
// Random letters are mostly mixed case; a route's own words have a few capitals at most (`getMe`).
const MAX_CAPITALS = 4
const MAX_SEGMENTS = 16

/** Whether a path segment is plainly a route's own word, safe to keep in a log or a sighting. */
function plainWord(s: string): boolean {
  if (s.length > MAX_WORD_SEGMENT) return false
  if (VERSION.test(s)) return true
  if (!WORDS.test(s)) return false
  let capitals = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 65 && c <= 90 && ++capitals > MAX_CAPITALS) return false
  }
  return true
}

/**
 * The path as a route template, the only form of a path that goes to a log or a sighting: a segment is
 * kept only when it is plainly a word (`plainWord`); numbers, UUIDs and hex become `:id`, anything else
 * `:param` (so a segment with `;`, `,`, `=`, `:`, `%`, `.` or a digit past a version never shows). The
 * query is dropped; length is bounded. `/v1/users/42/keys/9f86d081884c` → `/v1/users/:id/keys/:id`,
 * `/bot123:AAH-x/sendMessage` → `/:param/sendMessage`.
 */
export function routeTemplate(url: string): string {
  let end = url.indexOf('?')
  if (end === -1) end = url.length
  const path = url.slice(0, end)
  const segments = path.split('/')
  const out: string[] = []
  for (let i = 0; i < segments.length; i++) {
    if (out.length > MAX_SEGMENTS) {
      out.push('…')
      break
    }
    const s = segments[i] as string
    if (s === '' || plainWord(s)) out.push(s)
    else if (NUMERIC.test(s) || UUID.test(s) || HEX.test(s)) out.push(':id')
    else out.push(':param')
  }
  const template = out.join('/')
  return template === '' ? '/' : template
}

// A host name label as DNS names are written; a long one that mixes in digits is an id or a token.
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/
const LONG_LABEL = 24

/**
 * The Host header as a sighting may carry it: a host name (and port) whose labels read as names, or an IP
 * address; anything else (a Host header is the client's to write, and could carry a token) is `:host`.
 */
export function sightingHost(value: string | undefined): string {
  if (value === undefined || value === '') return ''
  if (value.length > 261) return ':host'
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(value)
  if (m === null) return ':host'
  const name = m[1] as string
  if (name.startsWith('[') ? isIP(name.slice(1, -1)) === 6 : isIP(name) === 4) return value
  for (const label of name.split('.')) {
    if (!LABEL.test(label)) return ':host'
    if (label.length > LONG_LABEL && /\d/.test(label)) return ':host'
  }
  return value
}

/** The client's address for a sighting: the socket's, or with `trustProxy` the first X-Forwarded-For entry if it is an IP address. */
export function sightingClient(socketAddress: string | undefined, forwardedFor: string | string[] | undefined, trustProxy: boolean): string {
  const socket = socketAddress ?? ''
  if (!trustProxy || typeof forwardedFor !== 'string') return socket
  const first = forwardedFor.split(',')[0]?.trim() ?? ''
  return isIP(first) === 0 ? socket : first
}

/** Options of the sender. */
export interface SightingSenderOptions {
  buffer: SightingBuffer
  controlPlane: string
  nodeKey: string | undefined
  nodeId: string
  batchSize: number
  flushMs: number
  counters: NodeCounters
  logger: Logger
}

const MAX_BACKOFF_MS = 30_000
const REQUEST_TIMEOUT_MS = 10_000

/** Posts buffered sightings to `POST /v1/sightings` in batches, retrying with backoff and jitter. */
export class SightingSender {
  readonly #o: SightingSenderOptions
  readonly #agent = new Agent({ connections: 2, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS })
  readonly #url: string
  #timer: NodeJS.Timeout | undefined
  #failures = 0
  #sending: Promise<void> | undefined
  #stopped = false

  constructor(options: SightingSenderOptions) {
    this.#o = options
    this.#url = new URL('/v1/sightings', options.controlPlane).href
  }

  /** Starts sending every `flushMs`. */
  start(): void {
    this.#schedule(this.#o.flushMs)
  }

  #schedule(ms: number): void {
    if (this.#stopped) return
    this.#timer = setTimeout(() => {
      this.#sending = this.flush().finally(() => {
        this.#sending = undefined
      })
      void this.#sending.then(() => this.#schedule(this.#delay()))
    }, ms)
    this.#timer.unref()
  }

  #delay(): number {
    if (this.#failures === 0) return this.#o.flushMs
    const base = Math.min(MAX_BACKOFF_MS, this.#o.flushMs * 2 ** Math.min(this.#failures, 10))
    return base / 2 + Math.random() * (base / 2)
  }

  /** Sends what is buffered, batch by batch; stops at the first failure (the batch goes back). */
  async flush(): Promise<void> {
    const { buffer, batchSize, logger, counters } = this.#o
    while (buffer.size > 0) {
      const batch = buffer.take(batchSize)
      let status: number
      try {
        const res = await httpRequest(this.#url, {
          method: 'POST',
          dispatcher: this.#agent,
          headers: { 'content-type': 'application/json', ...(this.#o.nodeKey === undefined ? {} : { authorization: `Bearer ${this.#o.nodeKey}` }) },
          body: JSON.stringify({ nodeId: this.#o.nodeId, sightings: batch } satisfies SightingBatch),
        })
        status = res.statusCode
        await res.body.dump()
      } catch (err) {
        counters.syncErrors++
        if (this.#failures++ === 0) logger.warn({ err: { code: (err as { code?: string }).code, message: (err as Error).message } }, 'cannot send sightings to the control plane; keeping them and retrying')
        buffer.giveBack(batch)
        return
      }
      if (status >= 200 && status < 300) {
        if (this.#failures > 0) logger.info('sending sightings again')
        this.#failures = 0
        continue
      }
      counters.syncErrors++
      if (status >= 400 && status < 500 && status !== 401 && status !== 403 && status !== 408 && status !== 429) {
        // The control plane refuses this batch for what it is; sending it again cannot succeed.
        counters.sightingsDropped += batch.length
        logger.error({ status, sightings: batch.length }, 'control plane refused a batch of sightings; dropped')
        continue
      }
      if (this.#failures++ === 0) logger.warn({ status }, 'control plane did not take sightings; keeping them and retrying')
      buffer.giveBack(batch)
      return
    }
  }

  /** Stops the timer, tries one last flush (bounded by the request timeout), and closes connections. */
  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    await this.#sending
    if (this.#failures === 0) await this.flush()
    await this.#agent.close()
  }
}

/**
 * Webhook deliveries, sent apart from the API and the sync: a loop that fans new events out to the
 * endpoints subscribed to them (store/webhooks.ts), claims due deliveries with a lease, and sends at
 * most `concurrency` at once, each bounded by `timeoutSeconds`. A failed attempt (an answer outside
 * 2xx, a timeout, a refused connection) is retried with exponential backoff and jitter until
 * `giveUpSeconds` after the event; every outcome is recorded on the delivery. The same loop announces
 * nodes that went stale (node.stale, once an episode).
 *
 * Reach: an endpoint's address is checked when it is made and again at every connection (the lookup
 * undici connects with refuses non-public addresses), so a name that resolves to a private address
 * later (DNS rebinding) still cannot reach the control plane's own network unless
 * `webhooks.allowPrivateTargets` says it may.
 */
import type { LookupFunction } from 'node:net'
import { isIP } from 'node:net'
import { lookup } from 'node:dns'
import { performance } from 'node:perf_hooks'
import type { FastifyBaseLogger } from 'fastify'
import { Agent, request } from 'undici'
import { BadRequestError } from '../lib/errors.js'
import { leakgateVersion } from '../lib/version.js'
import type { WebhooksConfig } from './config.js'
import { isPublicAddress } from './detect/sources/reach.js'
import type { StoredEvent } from './store/events.js'
import type { Store } from './store/store.js'
import type { ClaimedDelivery, WebhookFormat } from './store/webhooks.js'
import { signatureHeader } from './webhook-signature.js'

/** How an attempt ended, as the metric counts it. */
export type DeliveryOutcome = 'delivered' | 'retrying' | 'failed'

/** What the service needs besides the store. */
export interface WebhookServiceOptions {
  config: Readonly<WebhooksConfig>
  /** The console's address for links ('' for none). */
  publicUrl: string
  /** A node silent longer than this is announced stale. */
  nodeStaleSeconds: number
  log: FastifyBaseLogger
  /** Called after each attempt. */
  onOutcome?: (outcome: DeliveryOutcome) => void
}

/** Events read a fan-out transaction. */
const FANOUT_BATCH = 200
/** The longest wait between two attempts of a delivery. */
const MAX_RETRY_DELAY_MS = 3_600_000
/** Bytes of an answer's body read (then dropped): receivers need not answer with anything. */
const MAX_ANSWER_BYTES = 64 * 1024

/** The message of a refused endpoint address. */
export const TARGET_REFUSED = 'the endpoint\'s address is loopback, private or otherwise not public; allow such endpoints with webhooks.allowPrivateTargets (LEAKGATE_WEBHOOKS)'

/**
 * Checks an endpoint URL as given: http or https, a host, no user-info; with private targets not
 * allowed, a host that is an IP literal or `localhost` must be public (names are checked at connection).
 * @throws {BadRequestError} saying what is wrong.
 */
export function checkEndpointUrl(url: string, allowPrivateTargets: boolean): void {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new BadRequestError('url: not a URL')
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new BadRequestError(`url: must be https or http, not ${parsed.protocol}`)
  if (parsed.username !== '' || parsed.password !== '') throw new BadRequestError('url: must not carry a user name or password (receivers check the signature instead)')
  if (parsed.hash !== '') throw new BadRequestError('url: must not carry a fragment')
  const host = parsed.hostname.replace(/^\[|\]$/g, '').toLowerCase()
  if (!allowPrivateTargets && (host === 'localhost' || host.endsWith('.localhost') || (isIP(host) !== 0 && !isPublicAddress(host)))) {
    throw new BadRequestError(`url: ${TARGET_REFUSED}`)
  }
}

/** A lookup that refuses names resolving to any non-public address. */
function publicOnlyLookup(): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err !== null) return callback(err, '', 0)
      const list = addresses as unknown as { address: string; family: number }[]
      if (list.length === 0 || !list.every((a) => isPublicAddress(a.address))) {
        return callback(Object.assign(new Error(TARGET_REFUSED), { code: 'LEAKGATE_TARGET_REFUSED' }), '', 0)
      }
      if (options.all === true) return (callback as unknown as (e: null, all: typeof list) => void)(null, list)
      const first = list[0]!
      callback(null, first.address, first.family)
    })
  }
}

/** The link to what an event is about in the console, or undefined without `publicUrl`. */
export function consoleLink(publicUrl: string, event: Pick<StoredEvent, 'type' | 'leakId'>): string | undefined {
  if (publicUrl === '') return undefined
  const base = publicUrl.replace(/\/+$/, '')
  if (event.leakId !== null) return `${base}/#/leaks/${event.leakId}`
  if (event.type === 'node.stale') return `${base}/#/nodes`
  return `${base}/`
}

/** The JSON body of a delivery: the event, the leak it is about (hashes and previews only) and a console link. */
export function eventBody(event: StoredEvent, publicUrl: string): Record<string, unknown> {
  const { leak, ...data } = event.data
  const url = consoleLink(publicUrl, event)
  return { id: event.id, type: event.type, at: event.at, ...(leak === undefined ? {} : { leak }), data, ...(url === undefined ? {} : { url }) }
}

/** Slack's mrkdwn escapes. */
function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** One line saying what happened. */
function summary(event: StoredEvent): string {
  const leak = event.data.leak as { id: number; title: string; risk: string; action: string; status: string } | undefined
  const d = event.data as { node?: { id: string; lastContactAt: string }; scan?: { id: number; status: string; leaksCreated: number; leaksUpdated: number } }
  if (leak !== undefined) return `${event.type}: leak ${leak.id} "${leak.title}" (risk ${leak.risk}, action ${leak.action}, status ${leak.status})`
  if (d.scan !== undefined) return `${event.type}: scan ${d.scan.id} ${d.scan.status}, ${d.scan.leaksCreated} leaks created, ${d.scan.leaksUpdated} updated`
  if (d.node !== undefined) return `${event.type}: node ${d.node.id} silent since ${d.node.lastContactAt}`
  return event.type
}

/** A Slack incoming-webhook message (`text` for notifications, `blocks` for the message). */
export function slackBody(event: StoredEvent, publicUrl: string): Record<string, unknown> {
  const line = slackEscape(summary(event))
  const url = consoleLink(publicUrl, event)
  const leak = event.data.leak as { tokens?: { preview: string }[] } | undefined
  const previews = (leak?.tokens ?? []).map((t) => `\`${slackEscape(t.preview)}\``).join(' ')
  const blocks: unknown[] = [{ type: 'section', text: { type: 'mrkdwn', text: `*Leakgate* ${line}` } }]
  const context = [`event ${event.id} at ${event.at}`, ...(previews === '' ? [] : [`tokens ${previews}`]), ...(url === undefined ? [] : [`<${url}|Open in the console>`])]
  blocks.push({ type: 'context', elements: context.map((text) => ({ type: 'mrkdwn', text })) })
  return { text: `Leakgate ${line}${url === undefined ? '' : ` ${url}`}`, blocks }
}

/** The body sent to an endpoint of `format`. */
export function deliveryPayload(event: StoredEvent, format: WebhookFormat, publicUrl: string): string {
  return JSON.stringify(format === 'slack' ? slackBody(event, publicUrl) : eventBody(event, publicUrl))
}

/** The delay before attempt `attempt + 1`: base · 2^(attempt-1), at most an hour, times 0.5 to 1.5. */
export function retryDelayMs(attempt: number, baseSeconds: number, random: () => number = Math.random): number {
  const exp = Math.min(baseSeconds * 1000 * 2 ** Math.max(0, attempt - 1), MAX_RETRY_DELAY_MS)
  // Jitter spreads the retries of many deliveries that failed together (an endpoint back after an outage).
  return exp * (0.5 + random())
}

/** Sends webhook deliveries in the background. */
export class WebhookService {
  readonly #store: Store
  readonly #options: WebhookServiceOptions
  readonly #agent: Agent
  readonly #inFlight = new Set<Promise<void>>()
  readonly #closing = new AbortController()
  #timer: NodeJS.Timeout | undefined
  #ticking = false
  #lastHousekeeping = 0

  constructor(store: Store, options: WebhookServiceOptions) {
    this.#store = store
    this.#options = options
    const ms = options.config.timeoutSeconds * 1000
    this.#agent = new Agent({
      connect: { timeout: ms, ...(options.config.allowPrivateTargets ? {} : { lookup: publicOnlyLookup() }) },
      headersTimeout: ms,
      bodyTimeout: ms,
      connections: options.config.concurrency,
    })
  }

  /** Starts the loop (every `pollMilliseconds`). */
  start(): void {
    this.#timer = setInterval(() => this.#tickSafely(), this.#options.config.pollMilliseconds)
    this.#timer.unref()
    this.#tickSafely()
  }

  /** Stops the loop and ends attempts under way (their deliveries are retried, here or elsewhere). */
  async close(): Promise<void> {
    clearInterval(this.#timer)
    this.#closing.abort()
    await Promise.allSettled([...this.#inFlight])
    await this.#agent.close().catch(() => undefined)
  }

  #tickSafely(): void {
    if (this.#ticking || this.#closing.signal.aborted) return
    this.#ticking = true
    this.tick().catch((err: unknown) => {
      if (!this.#closing.signal.aborted) this.#options.log.warn({ err: { message: (err as Error).message } }, 'webhooks: a pass over the queue failed; the next one tries again')
    }).finally(() => {
      this.#ticking = false
    })
  }

  /** One pass: stale nodes announced, new events fanned out, due deliveries claimed and started. */
  async tick(): Promise<void> {
    const { config, publicUrl, nodeStaleSeconds } = this.#options
    const webhooks = this.#store.webhooks
    const now = Date.now()
    await this.#store.nodes.announceStale(new Date(now - nodeStaleSeconds * 1000).toISOString(), new Date(now).toISOString())
    for (let i = 0; i < 10; i++) {
      const read = await webhooks.fanOut(FANOUT_BATCH, config.giveUpSeconds, async (event, format) => deliveryPayload(event, format, publicUrl))
      if (read < FANOUT_BATCH) break
    }
    if (now - this.#lastHousekeeping > 60_000) {
      this.#lastHousekeeping = now
      await webhooks.expire(new Date(now).toISOString())
      await webhooks.prune(new Date(now - config.retentionDays * 86_400_000).toISOString())
    }
    const free = config.concurrency - this.#inFlight.size
    if (free <= 0) return
    const at = new Date().toISOString()
    // A lease outlasts an attempt (its timeout) by a margin, so no other replica takes a delivery under way.
    const leaseUntil = new Date(Date.now() + config.timeoutSeconds * 2000 + 5000).toISOString()
    for (const id of await webhooks.due(at, free)) {
      if (this.#closing.signal.aborted) return
      const claimed = await webhooks.claim(id, at, leaseUntil)
      if (claimed === undefined) continue
      const attempt = this.#attempt(claimed).finally(() => this.#inFlight.delete(attempt))
      this.#inFlight.add(attempt)
    }
  }

  async #attempt(d: ClaimedDelivery): Promise<void> {
    const { config, log, onOutcome } = this.#options
    const started = performance.now()
    let responseCode: number | null = null
    let error: string | null = null
    try {
      const host = new URL(d.url).hostname.replace(/^\[|\]$/g, '')
      if (!config.allowPrivateTargets && isIP(host) !== 0 && !isPublicAddress(host)) throw new Error(TARGET_REFUSED)
      const timestamp = Math.floor(Date.now() / 1000)
      const res = await request(d.url, {
        method: 'POST',
        body: d.payload,
        dispatcher: this.#agent,
        signal: AbortSignal.any([AbortSignal.timeout(config.timeoutSeconds * 1000), this.#closing.signal]),
        headers: {
          'content-type': 'application/json',
          'user-agent': `leakgate-webhooks/${leakgateVersion()}`,
          'leakgate-event': d.eventType,
          'leakgate-event-id': String(d.eventId),
          'leakgate-delivery': String(d.id),
          'leakgate-signature': signatureHeader(d.secrets, timestamp, d.payload),
        },
      })
      responseCode = res.statusCode
      let read = 0
      for await (const chunk of res.body) {
        read += (chunk as Buffer).length
        if (read > MAX_ANSWER_BYTES) break
      }
      if (res.statusCode < 200 || res.statusCode > 299) error = `the endpoint answered ${res.statusCode}`
    } catch (err) {
      error = describe(err, config.timeoutSeconds)
    }
    const durationMs = performance.now() - started
    if (this.#closing.signal.aborted && error !== null) {
      // Closing cut the attempt short: the lease runs out and the delivery is tried again, as if never sent.
      return
    }
    const ok = error === null
    const retryAt = ok ? undefined : new Date(Date.now() + retryDelayMs(d.attempt, config.retryBaseSeconds))
    const giveUp = retryAt !== undefined && retryAt.toISOString() > d.giveUpAt
    const status = await this.#store.webhooks.recordAttempt(d.id, {
      ok, responseCode, durationMs, error, retryAt: ok || giveUp ? undefined : retryAt?.toISOString(),
    })
    const outcome: DeliveryOutcome = status === 'delivered' ? 'delivered' : status === 'failed' ? 'failed' : 'retrying'
    onOutcome?.(outcome)
    if (!ok) log.info({ delivery: d.id, eventType: d.eventType, attempt: d.attempt, outcome, error }, 'webhook delivery attempt failed')
  }
}

/** A short account of why an attempt failed (never the answer's body). */
function describe(thrown: unknown, timeoutSeconds: number): string {
  const err = thrown as { name?: string; message?: string; code?: string; cause?: { code?: string; message?: string } }
  if (err.name === 'TimeoutError' || err.code === 'UND_ERR_HEADERS_TIMEOUT' || err.code === 'UND_ERR_BODY_TIMEOUT' || err.code === 'UND_ERR_CONNECT_TIMEOUT') {
    return `no answer within ${timeoutSeconds} s`
  }
  if (err.message === TARGET_REFUSED || err.cause?.message === TARGET_REFUSED) return TARGET_REFUSED
  const code = err.code ?? err.cause?.code
  return code === undefined ? `the request failed: ${String(err.message).slice(0, 200)}` : `the request failed: ${code}`
}

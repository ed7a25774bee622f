/**
 * Check mode: the node beside a gateway instead of in front of the API. It forwards nothing; every
 * request on its port is the authorization subrequest a gateway makes for a client's request (nginx
 * `auth_request`, Envoy `ext_authz` over HTTP, Traefik `ForwardAuth`, a Kong pre-function), judged with
 * the same credential places, body plan, verdict, sightings and counters as the proxy's request path.
 *
 * What is read from the subrequest (docs/gateways.md has each gateway's shape):
 *
 * | what            | from                                                                                   |
 * |-----------------|----------------------------------------------------------------------------------------|
 * | target          | `X-Original-URI` (nginx), else `X-Forwarded-Uri` (Traefik), else its own (Envoy)       |
 * | method          | `X-Original-Method`, else `X-Forwarded-Method`, else its own                           |
 * | host            | `X-Original-Host`, else `X-Forwarded-Host`, else `Host`                                |
 * | credentials     | its headers (the client's, copied by the gateway), the target's query and path segments |
 * | body            | when the gateway sends one (Envoy `with_request_body`, Traefik `forwardBody`)          |
 *
 * The answer: 200 to allow (with `Leakgate-Leak-Id` and `Leakgate-Verdict: monitor` on monitor, for the
 * gateway to copy upstream), the proxy's 403 problem+json to deny, its refusals (400, 413, 503) as they
 * are. Every gateway reads anything but 2xx as deny, so a refusal fails closed.
 *
 * Every target present is judged, not only the first: a gateway passes on the client's headers, so a
 * client may send its own `X-Original-URI` naming a clean target to Traefik (which sets only
 * `X-Forwarded-Uri`) or to Envoy (whose own target is the real one). A target the client wrote can add
 * candidates, never hide the gateway's. The first present, in the table's order, names the route in
 * sightings; the host likewise.
 */
import { ServerResponse, type IncomingHttpHeaders, type IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import { answerBlocked, answerRefusal, verdictRefusals, type Refusal } from './answer.js'
import { bodyKinds, bodyTexts, declaredPastLimit, readBody } from './body.js'
import { addBodyCredentials } from './body-credentials.js'
import { sightingHashOf, type CredentialPlace, type NodeConfig } from './config.js'
import { extractCredentials, type CredentialPlan } from './credentials.js'
import type { NodeMetrics } from './metrics.js'
import { RequestVerdict } from './request-meter.js'
import { responseOn } from './upgrade.js'
import { routeTemplate, sightingClient, sightingHost, type SightingBuffer } from './sightings.js'
import { judge, type IndexHolder, type Verdict } from './verdict.js'

/** What the check path is made of (the proxy's request path has the same parts, less the forwarder). */
export interface CheckPathParts {
  config: Pick<Readonly<NodeConfig>, 'bodyLimit' | 'bodyCheckLimit' | 'bodyCheckOverflow' | 'noIndex' | 'maxCredentials' | 'maxCredentialLength' | 'trustProxy' | 'logLevel' | 'hashKey'>
  plan: CredentialPlan
  bodyPlan: CredentialPlan
  holder: IndexHolder
  sightings: SightingBuffer
  metrics: NodeMetrics
  logger: Logger
  /** Whether the server answering checks is draining for shutdown. */
  isDraining(): boolean
}

/**
 * Header names a gateway writes on its subrequest (`x-forwarded-*`, `x-original-*`) and the node's own
 * (`leakgate*`): never credential places in check mode, whatever `credentialPlaces` says, since what
 * they hold is the gateway's or the node's, not a credential the client sent.
 */
export function isGatewayHeader(name: string): boolean {
  const n = name.toLowerCase().replaceAll('_', '-')
  return n.startsWith('x-forwarded-') || n.startsWith('x-original-') || n.startsWith('leakgate')
}

/** The configured places without the gateway's and the node's own headers (`isGatewayHeader`). */
export function checkPlaces(places: readonly CredentialPlace[]): CredentialPlace[] {
  return places.filter((p) => p.in !== 'header' || !isGatewayHeader(p.name))
}

/** The original request a subrequest stands for. */
export interface OriginalRequest {
  /** Path and query, as the client sent them (the first target present). */
  readonly url: string
  readonly method: string
  /** The other targets present, judged as well (empty when there is one). */
  readonly also: readonly string[]
}

const NONE: readonly string[] = Object.freeze([])

/** Reads the original target and method from a subrequest's headers (see the table above). */
export function originalOf(req: IncomingMessage): OriginalRequest {
  const h = req.headers
  const own = req.url ?? '/'
  const original = single(h['x-original-uri'])
  const forwarded = single(h['x-forwarded-uri'])
  const method = (single(h['x-original-method']) ?? single(h['x-forwarded-method']) ?? req.method ?? 'GET').toUpperCase()
  if (original === undefined && forwarded === undefined) return { url: own, method, also: NONE }
  const url = original ?? (forwarded as string)
  const also: string[] = []
  for (const other of [forwarded, own]) if (other !== undefined && other !== url && !also.includes(other)) also.push(other)
  return { url, method, also }
}

function single(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v
  return s === undefined || s === '' ? undefined : s
}

const NO_HEADERS: IncomingHttpHeaders = {}

/** Makes the `request` listener of a port that answers checks. */
export function createCheckPath(parts: CheckPathParts): (req: IncomingMessage, res: ServerResponse) => void {
  const { config, plan, bodyPlan, holder, sightings, logger, isDraining } = parts
  const { counters, checkSeconds, requests } = parts.metrics
  const sightingHash = sightingHashOf(config)
  const { noIndex, tooMany, tooLong, internalError, tooLargeToCheck, unreadableCharset } = verdictRefusals(config,
    'the node could not complete this check',
    'the request cannot be checked as sent: its form or JSON body declares a charset the node cannot decode; send it as UTF-8')
  const readLimit = Math.min(config.bodyCheckLimit, config.bodyLimit)
  // The other targets are read into this list, then handed to the verdict with the rest.
  const alsoScratch: string[] = []

  function refuse(req: IncomingMessage, res: ServerResponse, r: Refusal): void {
    counters.refused[r.reason]++
    requests.judged(res, RequestVerdict.refused)
    counters.responseBytes += answerRefusal(req, res, r)
  }

  function recordSightings(verdict: Verdict, req: IncomingMessage, original: OriginalRequest): void {
    const at = new Date().toISOString()
    const h = req.headers
    const host = sightingHost(single(h['x-original-host']) ?? single(h['x-forwarded-host']) ?? h.host)
    const route = routeTemplate(original.url)
    const client = sightingClient(req.socket.remoteAddress, h['x-forwarded-for'], config.trustProxy)
    const kind = verdict.kind === 'block' ? 'block' : 'monitor'
    for (const hit of verdict.hits) {
      sightings.push({ leakId: hit.entry.leakId, sha256: sightingHash(hit.credential), at, host, method: original.method, route, client, verdict: kind })
    }
  }

  /** Judges and answers: 200 (monitor: with the two headers), or the 403 or refusal. */
  function answer(req: IncomingMessage, res: ServerResponse, original: OriginalRequest, body?: (out: string[]) => number): void {
    const more = original.also.length === 0 && body === undefined ? undefined : (out: string[]): number => {
      for (const url of original.also) {
        const n = extractCredentials(plan, NO_HEADERS, url, alsoScratch)
        if (n < 0) return n
        for (const c of alsoScratch) if (!out.includes(c)) out.push(c)
        alsoScratch.length = 0
      }
      return body === undefined ? 0 : body(out)
    }
    let verdict: Verdict
    try {
      const t0 = performance.now()
      verdict = judge(plan, holder, req.headers, original.url, more)
      if (verdict.checked > 0) checkSeconds.observe((performance.now() - t0) / 1000)
    } catch (err) {
      alsoScratch.length = 0
      logger.error({ err: { message: (err as Error).message } }, 'credential check failed')
      refuse(req, res, internalError)
      return
    }
    switch (verdict.kind) {
      case 'pass':
        counters.pass++
        requests.judged(res, RequestVerdict.pass)
        allow(res, '')
        return
      case 'monitor':
        counters.monitor++
        requests.judged(res, RequestVerdict.monitor)
        recordSightings(verdict, req, original)
        allow(res, verdict.monitorIds)
        return
      case 'block':
        counters.block++
        requests.judged(res, RequestVerdict.block)
        recordSightings(verdict, req, original)
        logger.warn({ leakId: verdict.leakId, method: original.method, route: routeTemplate(original.url) }, 'denied a request carrying a leaked credential')
        counters.responseBytes += answerBlocked(req, res, verdict.leakId)
        return
      case 'no-index':
        if (config.noIndex === 'closed') {
          refuse(req, res, noIndex)
          return
        }
        counters.pass++
        requests.judged(res, RequestVerdict.pass)
        allow(res, '')
        return
      case 'too-many':
        refuse(req, res, tooMany)
        return
      case 'too-long':
        refuse(req, res, tooLong)
    }
  }

  /** A body past bodyCheckLimit: refused, or judged without it and counted as unchecked (bodyCheckOverflow). */
  function overflowed(req: IncomingMessage, res: ServerResponse, original: OriginalRequest): void {
    if (config.bodyCheckOverflow === 'refuse') {
      refuse(req, res, tooLargeToCheck)
      return
    }
    counters.bodyUnchecked++
    req.resume()
    answer(req, res, original)
  }

  async function answerWithBody(req: IncomingMessage, res: ServerResponse, original: OriginalRequest, kinds: number): Promise<void> {
    const read = await readBody(req, readLimit)
    if (read.state === 'aborted') return
    if (read.state === 'overflow') return overflowed(req, res, original)
    const body = bodyTexts(read.bytes, req.headers, config.bodyCheckLimit)
    if (body.state === 'too-large') return overflowed(req, res, original)
    if (body.state === 'charset') return refuse(req, res, unreadableCharset)
    answer(req, res, original, (out) => {
      for (const text of body.texts) {
        const r = addBodyCredentials(bodyPlan, kinds, text, out, body.charset)
        if (r < 0) return r
      }
      return 0
    })
  }

  return function onCheck(req, res) {
    requests.start(res)
    // Read at each request, not once: SIGHUP may change the level (a number compared, 20 is debug).
    if (logger.levelVal <= 20) {
      const t0 = performance.now()
      res.once('close', () => logger.debug({ method: req.method, route: routeTemplate(originalOf(req).url), status: res.statusCode, ms: Math.round((performance.now() - t0) * 1000) / 1000 }, 'check answered'))
    }
    // Draining, the node still holds its index: a check on a connection that was busy when closing began
    // is answered as any other (a refusal would be the gateway's 500), and the connection then closes.
    if (isDraining()) res.shouldKeepAlive = false
    const original = originalOf(req)
    // Either method may be the client's to write: a body is read if either reads as one with a body.
    const kinds = bodyKinds(original.method, req.headers) | bodyKinds(req.method, req.headers)
    if (kinds === 0) {
      // A body the node does not read (multipart, text): dropped, so the connection stays reusable.
      req.resume()
      answer(req, res, original)
      return
    }
    if (declaredPastLimit(req.headers, readLimit)) return overflowed(req, res, original)
    answerWithBody(req, res, original, kinds).catch((err: unknown) => {
      logger.error({ err: { message: (err as Error).message } }, 'body check failed')
      if (!res.headersSent) refuse(req, res, internalError)
    })
  }
}

const EMPTY = Buffer.alloc(0)

/** 200 to allow; on monitor the two headers a gateway copies upstream. No body: gateways ignore it. */
function allow(res: ServerResponse, monitorIds: string): void {
  res.statusCode = 200
  res.setHeader('cache-control', 'no-store')
  res.setHeader('content-length', 0)
  if (monitorIds !== '') {
    res.setHeader('leakgate-leak-id', monitorIds)
    res.setHeader('leakgate-verdict', 'monitor')
  }
  res.end(EMPTY)
}

/**
 * The `upgrade` listener of a port answering checks. A gateway rarely passes `Upgrade` on a subrequest,
 * but one that does is answered like any check (then the connection closes): there is nothing to tunnel.
 */
export function checkUpgrades(onCheck: (req: IncomingMessage, res: ServerResponse) => void): (req: IncomingMessage, socket: Duplex) => void {
  return (req, socket) => {
    socket.on('error', () => socket.destroy())
    onCheck(req, responseOn(req, socket))
  }
}

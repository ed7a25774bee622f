/**
 * The proxy port's request listener: the steps a request goes through, in order, one file each.
 *
 *   admission (admission.ts)   refused: answered (answer.ts), counted as refused, never judged
 *   → a form or JSON body      read whole first (body.ts, up to bodyCheckLimit; past it: 413 or
 *                              forwarded unchecked, by bodyCheckOverflow); every other body streams
 *   → credentials and verdict  (credentials.ts finds them, body-credentials.ts in a body, verdict.ts
 *                              looks them up and decides)
 *   → answer (answer.ts)       block: 403, counted, sightings recorded; a request that cannot be judged: refused
 *   or forward (forward.ts)    pass and monitor, counted; monitor also records sightings
 *
 * Every request is timed from its arrival to the end of its answer, under its verdict (request-meter.ts).
 * A blocked request never reaches the upstream. The path allocates nothing of its own for a clean request
 * without a body to check, and stays synchronous for it; only a request with a form or JSON body waits
 * for its body before it is judged.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import { admit } from './admission.js'
import { answerBlocked, answerRefusal, dropUnreadBody, verdictRefusals, type Refusal } from './answer.js'
import { bodyKinds, bodyTexts, declaredPastLimit, http2Body, readBody } from './body.js'
import { addBodyCredentials } from './body-credentials.js'
import { sightingHashOf, type NodeConfig } from './config.js'
import type { CredentialPlan } from './credentials.js'
import type { Forwarder } from './forward.js'
import type { NodeMetrics } from './metrics.js'
import { RequestVerdict } from './request-meter.js'
import { routeTemplate, sightingClient, sightingHost, type SightingBuffer } from './sightings.js'
import { judge, type IndexHolder, type Verdict } from './verdict.js'

/** What the request path is made of. */
export interface RequestPathParts {
  config: Pick<Readonly<NodeConfig>, 'bodyLimit' | 'bodyCheckLimit' | 'bodyCheckOverflow' | 'noIndex' | 'maxCredentials' | 'maxCredentialLength' | 'trustProxy' | 'logLevel' | 'hashKey'>
  plan: CredentialPlan
  /** The plan a form or JSON body is checked with (body-credentials.ts `compileBodyPlan`). */
  bodyPlan: CredentialPlan
  holder: IndexHolder
  forwarder: Forwarder
  sightings: SightingBuffer
  metrics: NodeMetrics
  logger: Logger
  /** Whether the node is draining for shutdown (admission refuses then). */
  isDraining(): boolean
}

/** The request path's two entry points. */
export interface RequestPath {
  /** The listener for the proxy port's `request` event. */
  onRequest(req: IncomingMessage, res: ServerResponse): void
  /**
   * Admission and verdict, for a request that is not forwarded by `onRequest` (an upgrade, upgrade.ts):
   * false when it has answered the request itself on `res` (refused or blocked, counted and recorded as
   * any request), otherwise the `Leakgate-Leak-Id` value to forward with ('' for a clean request).
   */
  check(req: IncomingMessage, res: ServerResponse): string | false
}

/** Makes the request path: the `request` listener, and its checking steps for upgrades. */
export function createRequestPath(parts: RequestPathParts): RequestPath {
  const { config, plan, bodyPlan, holder, forwarder, sightings, logger, isDraining } = parts
  const { counters, checkSeconds, requests } = parts.metrics
  const sightingHash = sightingHashOf(config)
  const { noIndex, tooMany, tooLong, internalError, tooLargeToCheck, unreadableCharset } = verdictRefusals(config,
    'the node could not complete this request',
    'the request cannot be forwarded as sent: its form or JSON body declares a charset the node cannot decode to check it; send it as UTF-8')
  // A body past bodyLimit is not buffered either: forwarding streams it into the 413 it gets there.
  const readLimit = Math.min(config.bodyCheckLimit, config.bodyLimit)

  function refuse(req: IncomingMessage, res: ServerResponse, r: Refusal): false {
    counters.refused[r.reason]++
    requests.judged(res, RequestVerdict.refused)
    counters.responseBytes += answerRefusal(req, res, r)
    return false
  }

  /** Debug and trace levels log every request, by route template (no query, no path credential). */
  function logCompletion(req: IncomingMessage, res: ServerResponse): void {
    const t0 = performance.now()
    res.once('close', () => {
      logger.debug({ method: req.method, route: routeTemplate(req.url ?? '/'), status: res.statusCode, finished: res.writableFinished, ms: Math.round((performance.now() - t0) * 1000) / 1000 }, 'request completed')
    })
  }

  /** One sighting for each leaked credential of a blocked or monitored request (by hash, never raw). */
  function recordSightings(verdict: Verdict, req: IncomingMessage, url: string): void {
    const at = new Date().toISOString()
    // Host and X-Forwarded-For are the client's to write: kept only when they read as a host and an address.
    // (Over HTTP/2 the client's host is `:authority`.)
    const host = sightingHost(req.headers.host ?? (req.headers[':authority'] as string | undefined))
    const route = routeTemplate(url)
    const client = sightingClient(req.socket.remoteAddress, req.headers['x-forwarded-for'], config.trustProxy)
    const method = req.method ?? 'GET'
    const kind = verdict.kind === 'block' ? 'block' : 'monitor'
    for (const hit of verdict.hits) {
      sightings.push({ leakId: hit.entry.leakId, sha256: sightingHash(hit.credential), at, host, method, route, client, verdict: kind })
    }
  }

  /**
   * Judges an admitted request and acts on a verdict that stops it. Returns false when it has answered
   * the request itself, otherwise the `Leakgate-Leak-Id` value to forward with ('' for a clean request).
   */
  function judged(req: IncomingMessage, res: ServerResponse, more?: (out: string[]) => number): string | false {
    try {
      const url = req.url ?? '/'
      const t0 = performance.now()
      const verdict = judge(plan, holder, req.headers, url, more)
      if (verdict.checked > 0) checkSeconds.observe((performance.now() - t0) / 1000)
      switch (verdict.kind) {
        case 'pass':
          counters.pass++
          requests.judged(res, RequestVerdict.pass)
          return ''
        case 'monitor':
          counters.monitor++
          requests.judged(res, RequestVerdict.monitor)
          recordSightings(verdict, req, url)
          return verdict.monitorIds
        case 'block':
          counters.block++
          requests.judged(res, RequestVerdict.block)
          recordSightings(verdict, req, url)
          logger.warn({ leakId: verdict.leakId, method: req.method, route: routeTemplate(url) }, 'blocked a request carrying a leaked credential')
          counters.responseBytes += answerBlocked(req, res, verdict.leakId)
          return false
        case 'no-index':
          if (config.noIndex === 'closed') return refuse(req, res, noIndex)
          counters.pass++
          requests.judged(res, RequestVerdict.pass)
          return ''
        case 'too-many':
          return refuse(req, res, tooMany)
        case 'too-long':
          return refuse(req, res, tooLong)
      }
    } catch (err) {
      // A bug here must not take the process down, nor let the request through unchecked.
      logger.error({ err: { message: (err as Error).message } }, 'credential check failed')
      return refuse(req, res, internalError)
    }
  }

  /** A body past bodyCheckLimit: refused (never judged), or judged without it and forwarded, counted. */
  function overflowed(req: IncomingMessage, res: ServerResponse, buffered?: Buffer): void {
    if (config.bodyCheckOverflow === 'refuse') {
      refuse(req, res, tooLargeToCheck)
      return
    }
    counters.bodyUnchecked++
    const monitorIds = judged(req, res)
    if (monitorIds !== false) forwarder.forward(req, res, monitorIds, buffered)
  }

  /** A request with a form or JSON body: read whole, then judged with the body's credentials. */
  async function judgeWithBody(req: IncomingMessage, res: ServerResponse, kinds: number): Promise<void> {
    const read = await readBody(req, readLimit)
    if (read.state === 'aborted') return
    // Past the limit, what was read streams on with the rest, and the forwarder counts it.
    if (read.state === 'complete') counters.requestBytes += read.bytes.length
    if (read.state === 'overflow') {
      overflowed(req, res)
      return
    }
    const body = bodyTexts(read.bytes, req.headers, config.bodyCheckLimit)
    if (body.state === 'too-large') {
      overflowed(req, res, read.bytes)
      return
    }
    if (body.state === 'charset') {
      refuse(req, res, unreadableCharset)
      return
    }
    const monitorIds = judged(req, res, (out) => {
      for (const text of body.texts) {
        const r = addBodyCredentials(bodyPlan, kinds, text, out, body.charset)
        if (r < 0) return r
      }
      return 0
    })
    if (monitorIds !== false) forwarder.forward(req, res, monitorIds, read.bytes)
  }

  /** Admission: false when the request was refused (answered and counted, never judged). */
  function admitted(req: IncomingMessage, res: ServerResponse): boolean {
    const refused = admit(req, config.bodyLimit, isDraining())
    if (refused === undefined) return true
    refuse(req, res, refused)
    return false
  }

  /** Admission, then the verdict on the head alone (an upgrade: admission refuses one with a body). */
  function check(req: IncomingMessage, res: ServerResponse): string | false {
    return admitted(req, res) ? judged(req, res) : false
  }

  return {
    check,
    onRequest(req, res) {
      requests.start(res)
      // Read at each request, not once: SIGHUP may change the level (a number compared, 20 is debug).
      if (logger.levelVal <= 20) logCompletion(req, res)
      if (req.httpVersionMajor === 2) dropUnreadBody(req)
      if (!admitted(req, res)) return
      const kinds = bodyKinds(req.method, req.headers, req.httpVersionMajor === 2 && http2Body(req))
      if (kinds !== 0) {
        if (declaredPastLimit(req.headers, readLimit)) overflowed(req, res)
        else judgeWithBody(req, res, kinds).catch((err: unknown) => {
          logger.error({ err: { message: (err as Error).message } }, 'body check failed')
          if (!res.headersSent) refuse(req, res, internalError)
        })
        return
      }
      const monitorIds = judged(req, res)
      if (monitorIds !== false) forwarder.forward(req, res, monitorIds)
    },
  }
}

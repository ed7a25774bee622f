/**
 * Timing every request on the proxy port, from its arrival (the `request` event, its head parsed) to
 * the end of its answer (the response's `close`: the last byte handed to the socket, or the client
 * gone), into `leakgate_node_request_duration_seconds{verdict, status_class, method}`; and the
 * requests in flight.
 *
 * It sits on the hot path, so it allocates nothing a request: the start time and the verdict ride on
 * the response object itself (two symbol-keyed fields, always written in the same order, so every
 * response keeps one shape), the `close` listener is one function shared by all responses, and the
 * series is an index into a table made once (`REQUEST_SERIES`), not a label object.
 *
 * Upgrades (WebSocket) are not timed here: a tunnel lasts as long as its users want, and would
 * drown every latency figure (they have `leakgate_node_upgrades_total` and `leakgate_node_tunnels_open`).
 */
import type { ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { FastHistogram, SeriesLabels } from './metrics.js'

/** The `verdict` label's values, by the number `RequestMeter.judged` takes. */
export const REQUEST_VERDICTS = ['pass', 'monitor', 'block', 'refused', 'none'] as const

/**
 * The verdict of a timed request, as `RequestMeter.judged` takes it. `refused`: answered by the node
 * without a verdict of pass, block or monitor (the reasons of `leakgate_node_requests_refused_total`);
 * `none`: never got as far as a verdict (the client left while its body was read).
 */
export const RequestVerdict = { pass: 0, monitor: 1, block: 2, refused: 3, none: 4 } as const

/** The `status_class` label's values; `none`: no answer was sent (the client left first), or a status outside 100-599. */
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'none'] as const

/** The `method` label's values: the methods the node forwards; any other is `other` (admission refuses it). */
export const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'other'] as const

const NO_STATUS = STATUS_CLASSES.length - 1

/** The index of a status code's class in `STATUS_CLASSES`. */
export function statusClassOf(status: number): number {
  return status >= 100 && status < 600 ? Math.floor(status / 100) - 1 : NO_STATUS
}

function methodIndex(method: string | undefined): number {
  switch (method) {
    case 'GET': return 0
    case 'POST': return 1
    case 'PUT': return 2
    case 'PATCH': return 3
    case 'DELETE': return 4
    case 'HEAD': return 5
    case 'OPTIONS': return 6
    default: return 7
  }
}

/** Every series of the request duration histogram, in the order `RequestMeter` indexes them. */
export const REQUEST_SERIES: readonly SeriesLabels[] = REQUEST_VERDICTS.flatMap((verdict) =>
  STATUS_CLASSES.flatMap((status) => METHODS.map((method) => ({ verdict, status_class: status, method }))))

/** Every series of a histogram labelled by `status_class` alone, indexed by `statusClassOf`. */
export const STATUS_SERIES: readonly SeriesLabels[] = STATUS_CLASSES.map((status) => ({ status_class: status }))

const STARTED = Symbol('leakgate.started')
const VERDICT = Symbol('leakgate.verdict')

/** A response as the meter marks it. */
interface Metered {
  [STARTED]: number
  [VERDICT]: number
}

/** Times the proxy port's requests; one per node. */
export class RequestMeter {
  readonly #duration: FastHistogram
  readonly #counters: { inFlight: number }
  /** The one `close` listener of every timed response (`this` is the response). */
  readonly #closed: (this: ServerResponse) => void

  constructor(duration: FastHistogram, counters: { inFlight: number }) {
    this.#duration = duration
    this.#counters = counters
    // A function, not an arrow: EventEmitter calls a listener with the response as `this`.
    const end = (res: ServerResponse): void => this.#end(res)
    this.#closed = function (this: ServerResponse) {
      end(this)
    }
  }

  /** A request has arrived: its clock starts (call first thing in the `request` listener). */
  start(res: ServerResponse): void {
    const m = res as unknown as Metered
    m[STARTED] = performance.now()
    m[VERDICT] = RequestVerdict.none
    this.#counters.inFlight++
    res.on('close', this.#closed)
  }

  /** The request's verdict (`RequestVerdict`), the label it is timed under. */
  judged(res: ServerResponse, verdict: number): void {
    (res as unknown as Metered)[VERDICT] = verdict
  }

  #end(res: ServerResponse): void {
    this.#counters.inFlight--
    const m = res as unknown as Metered
    const seconds = (performance.now() - m[STARTED]) / 1000
    const status = res.headersSent ? statusClassOf(res.statusCode) : NO_STATUS
    this.#duration.observeIn((m[VERDICT] * STATUS_CLASSES.length + status) * METHODS.length + methodIndex(res.req.method), seconds)
  }
}

/**
 * The node's metrics (README "Metrics"), in one prom-client Registry per node.
 *
 * The request path only bumps plain numbers in `NodeCounters`; prom-client reads them when
 * `/metrics` is scraped. That keeps label hashing and object allocation off the hot path.
 */
import { Counter, Gauge, Registry } from 'prom-client'
import { registerBuildInfo, registerDefaultMetrics } from '../lib/default-metrics.js'
import { leakgateVersion } from '../lib/version.js'
import { REQUEST_SERIES, RequestMeter, STATUS_SERIES } from './request-meter.js'
import type { IndexHolder } from './verdict.js'

/**
 * Why the proxy port answered a request itself other than with a block: the fixed label set of
 * `leakgate_node_requests_refused_total`. The first five are admission's (the request is never judged),
 * `body_too_large_to_check` and `body_charset` the body check's (never judged either); the rest come from
 * the verdict step, when the request cannot be judged or checking it failed.
 */
export const REFUSAL_REASONS = ['draining', 'method', 'target', 'body_too_large', 'framing', 'body_too_large_to_check', 'body_charset', 'no_index', 'too_many_credentials', 'credential_too_long', 'internal_error'] as const

/** One of `REFUSAL_REASONS`. */
export type RefusalReason = (typeof REFUSAL_REASONS)[number]

/** What became of an upgrade request: the label set of `leakgate_node_upgrades_total`. */
export const UPGRADE_OUTCOMES = ['pass', 'monitor', 'block', 'refused'] as const

/** One of `UPGRADE_OUTCOMES`. */
export type UpgradeOutcome = (typeof UPGRADE_OUTCOMES)[number]

/** Counters the hot path increments directly. */
export class NodeCounters {
  pass = 0
  block = 0
  monitor = 0
  /** Requests refused, by reason; never also counted as pass, block or monitor. */
  readonly refused: Record<RefusalReason, number> = { draining: 0, method: 0, target: 0, body_too_large: 0, framing: 0, body_too_large_to_check: 0, body_charset: 0, no_index: 0, too_many_credentials: 0, credential_too_long: 0, internal_error: 0 }
  /** Upgrade requests (WebSocket, h2c) by outcome; also counted above as any request. */
  readonly upgrades: Record<UpgradeOutcome, number> = { pass: 0, monitor: 0, block: 0, refused: 0 }
  /** WebSocket tunnels open now. */
  tunnelsOpen = 0
  upstreamErrors = 0
  /** Requests on the proxy port not yet answered in full (upgrades aside). */
  inFlight = 0
  /** Request body bytes read from clients: forwarded as they stream, or read whole to be checked. */
  requestBytes = 0
  /** Response body bytes sent to clients: the upstream's, and the node's own answers'. */
  responseBytes = 0
  /** TLS handshakes that failed on the proxy port (node/tls.ts). */
  tlsHandshakeErrors = 0
  /** Form or JSON bodies past `bodyCheckLimit` forwarded unchecked (`bodyCheckOverflow: pass`); the request is also counted by its verdict. */
  bodyUnchecked = 0
  syncErrors = 0
  /** Sync requests the control plane refused because this node's hash key is not its own (also counted in syncErrors). */
  hashKeyMismatches = 0
  sightingsDropped = 0
  /** Loads of the `--index` file after the start (changed, SIGHUP): put in force, or failed and the index in force kept. */
  readonly indexReloads = { ok: 0, failed: 0 }
}

// Check time buckets: a check is microseconds; anything past a millisecond is a problem to see.
const CHECK_BUCKETS = [0.000_001, 0.000_002, 0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.005]
// Request and upstream time buckets: the node adds a fraction of a millisecond, so the low end is
// fine-grained enough to see it; the high end reaches the upstream timeout's default (60 s).
const REQUEST_BUCKETS = [0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

/** A histogram series' labels. */
export type SeriesLabels = Readonly<Record<string, string>>

/**
 * A histogram with fixed buckets that costs one loop over its bounds to observe, and allocates nothing.
 * prom-client's own Histogram allocates on every observe (and hashes its labels); a custom metric
 * object with `get()` is what its Registry reads. A labelled histogram has a fixed list of series,
 * each its label values, chosen by index (`observeIn`); only the series observed at least once are
 * exported, so a table of every label combination costs nothing in the scrape until it is used.
 */
export class FastHistogram {
  readonly name: string
  readonly help: string
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly #bounds: readonly number[]
  readonly #series: readonly SeriesLabels[]
  /** Per series, the count of each bucket (not cumulative): `#counts[series * bounds + i]`. */
  readonly #counts: Float64Array
  readonly #sums: Float64Array
  readonly #totals: Float64Array

  /** `series`: the label values of each series; one series without labels by default. */
  constructor(name: string, help: string, bounds: readonly number[], series: readonly SeriesLabels[] = [{}]) {
    this.name = name
    this.help = help
    this.#bounds = bounds
    this.#series = series
    this.#counts = new Float64Array(bounds.length * series.length)
    this.#sums = new Float64Array(series.length)
    this.#totals = new Float64Array(series.length)
  }

  /** Observes into the first (for an unlabelled histogram, the only) series. */
  observe(seconds: number): void {
    this.observeIn(0, seconds)
  }

  /** Observes into series number `series` (an index into the constructor's list). */
  observeIn(series: number, seconds: number): void {
    this.#sums[series] = (this.#sums[series] as number) + seconds
    this.#totals[series] = (this.#totals[series] as number) + 1
    const bounds = this.#bounds
    const base = series * bounds.length
    for (let i = 0; i < bounds.length; i++) {
      if (seconds <= (bounds[i] as number)) {
        this.#counts[base + i] = (this.#counts[base + i] as number) + 1
        return
      }
    }
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: { metricName: string; labels: Record<string, string | number>; value: number }[] } {
    const values = []
    const n = this.#bounds.length
    for (let s = 0; s < this.#series.length; s++) {
      const total = this.#totals[s] as number
      // An unlabelled histogram is exported from the start; a labelled series once it has a value.
      if (total === 0 && this.#series.length > 1) continue
      const labels = this.#series[s] as SeriesLabels
      let cumulative = 0
      for (let i = 0; i < n; i++) {
        cumulative += this.#counts[s * n + i] as number
        values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: this.#bounds[i] as number }, value: cumulative })
      }
      values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: total })
      values.push({ metricName: `${this.name}_sum`, labels: { ...labels }, value: this.#sums[s] as number })
      values.push({ metricName: `${this.name}_count`, labels: { ...labels }, value: total })
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }
}

/** The node's registry and the objects the rest of the node writes to. */
export interface NodeMetrics {
  readonly registry: Registry
  readonly counters: NodeCounters
  readonly checkSeconds: FastHistogram
  /** Times each request on the proxy port (`leakgate_node_request_duration_seconds`). */
  readonly requests: RequestMeter
  /** Time from sending a request upstream to its response head, by `statusClassOf` (`leakgate_node_upstream_duration_seconds`). */
  readonly upstreamSeconds: FastHistogram
}

/** Makes a fresh registry with every node metric; nothing is registered globally. `version`: `leakgate_build_info`'s. */
export function createNodeMetrics(holder: IndexHolder, version = leakgateVersion()): NodeMetrics {
  const registry = new Registry()
  const counters = new NodeCounters()
  registerDefaultMetrics(registry)
  registerBuildInfo(registry, version)

  const pending = { pass: deltaOf(() => counters.pass), block: deltaOf(() => counters.block), monitor: deltaOf(() => counters.monitor) }
  new Counter({
    name: 'leakgate_node_requests_total', help: 'Requests by verdict', labelNames: ['verdict'], registers: [registry],
    collect() {
      // inc by 0 too, so every verdict has a series from the first scrape on
      for (const verdict of ['pass', 'block', 'monitor'] as const) this.inc({ verdict }, pending[verdict]())
    },
  })
  const refusedPending = REFUSAL_REASONS.map((reason) => [reason, deltaOf(() => counters.refused[reason])] as const)
  new Counter({
    name: 'leakgate_node_requests_refused_total', help: 'Requests the node answered itself without a verdict of pass, block or monitor, by reason', labelNames: ['reason'], registers: [registry],
    collect() {
      for (const [reason, delta] of refusedPending) this.inc({ reason }, delta())
    },
  })
  const upgradesPending = UPGRADE_OUTCOMES.map((verdict) => [verdict, deltaOf(() => counters.upgrades[verdict])] as const)
  new Counter({
    name: 'leakgate_node_upgrades_total', help: 'Upgrade requests (WebSocket, h2c) by verdict; refused: answered by admission or the verdict step', labelNames: ['verdict'], registers: [registry],
    collect() {
      for (const [verdict, delta] of upgradesPending) this.inc({ verdict }, delta())
    },
  })
  const reloadsPending = (['ok', 'failed'] as const).map((result) => [result, deltaOf(() => counters.indexReloads[result])] as const)
  new Counter({
    name: 'leakgate_node_index_reloads_total', help: 'Loads of the --index file after the start (file changed, SIGHUP) by result: ok, or failed (the index in force kept)', labelNames: ['result'], registers: [registry],
    collect() {
      for (const [result, delta] of reloadsPending) this.inc({ result }, delta())
    },
  })
  new Gauge({ name: 'leakgate_node_requests_in_flight', help: 'Requests on the proxy port being handled now (upgrades aside)', registers: [registry], collect() { this.set(counters.inFlight) } })
  new Gauge({ name: 'leakgate_node_tunnels_open', help: 'WebSocket tunnels open between clients and the upstream', registers: [registry], collect() { this.set(counters.tunnelsOpen) } })
  const simple: [string, string, () => number][] = [
    ['leakgate_node_sync_errors_total', 'Failed exchanges with the control plane (sync, sightings)', () => counters.syncErrors],
    ['leakgate_node_hash_key_mismatches_total', 'Sync requests refused because this node\'s hash key is not the control plane\'s (the node keeps its last index)', () => counters.hashKeyMismatches],
    ['leakgate_node_body_unchecked_total', 'Form or JSON bodies past bodyCheckLimit forwarded without their credentials checked (bodyCheckOverflow: pass)', () => counters.bodyUnchecked],
    ['leakgate_node_upstream_errors_total', 'Requests the upstream failed (502/504)', () => counters.upstreamErrors],
    ['leakgate_node_request_body_bytes_total', 'Request body bytes received from clients (forwarded, or read to be checked)', () => counters.requestBytes],
    ['leakgate_node_response_body_bytes_total', 'Response body bytes sent to clients (the upstream\'s answers and the node\'s own)', () => counters.responseBytes],
    ['leakgate_node_tls_handshake_errors_total', 'TLS handshakes that failed on the proxy port (bad client hello, protocol or certificate refused, plain HTTP sent)', () => counters.tlsHandshakeErrors],
    ['leakgate_node_sightings_dropped_total', 'Sightings dropped because the buffer was full or the control plane refused them', () => counters.sightingsDropped],
    ['leakgate_node_cache_hits_total', 'Index lookups answered by the LRU of recent verdicts', () => holder.stats().cacheHits],
    ['leakgate_node_cache_misses_total', 'Index lookups that missed the LRU', () => holder.stats().cacheMisses],
    ['leakgate_node_bloom_false_positives_total', 'Bloom filter hits that the exact structure refuted', () => holder.stats().bloomFalsePositives],
  ]
  for (const [name, help, read] of simple) {
    const delta = deltaOf(read)
    new Counter({ name, help, registers: [registry], collect() { this.inc(delta()) } })
  }

  new Gauge({ name: 'leakgate_node_index_entries', help: 'Leaked hashes in the index in force', registers: [registry], collect() { this.set(holder.current?.size ?? 0) } })
  new Gauge({ name: 'leakgate_node_index_revision', help: 'Revision of the index in force (-1: none)', registers: [registry], collect() { this.set(holder.current?.revision ?? -1) } })
  new Gauge({
    name: 'leakgate_node_sync_age_seconds', help: 'Seconds since the index was last known current (-1: never)', registers: [registry],
    collect() { this.set(holder.lastSyncAt < 0 ? -1 : (Date.now() - holder.lastSyncAt) / 1000) },
  })

  const checkSeconds = new FastHistogram('leakgate_node_check_seconds', 'Time to check a request\'s credentials against the index', CHECK_BUCKETS)
  const requestSeconds = new FastHistogram('leakgate_node_request_duration_seconds', 'Time from a request\'s arrival to the end of its answer, by verdict, status class and method (upgrades aside)', REQUEST_BUCKETS, REQUEST_SERIES)
  const upstreamSeconds = new FastHistogram('leakgate_node_upstream_duration_seconds', 'Time from handing a request to the upstream pool (waiting for a connection included) to the upstream\'s response head, by status class (failures: leakgate_node_upstream_errors_total)', REQUEST_BUCKETS, STATUS_SERIES)
  for (const h of [checkSeconds, requestSeconds, upstreamSeconds]) registry.registerMetric(h as unknown as Parameters<Registry['registerMetric']>[0])
  return { registry, counters, checkSeconds, requests: new RequestMeter(requestSeconds, counters), upstreamSeconds }
}

/** A Counter is fed from a monotonic number by what it grew since the last scrape. */
function deltaOf(read: () => number): () => number {
  let reported = 0
  return () => {
    const now = read()
    const d = Math.max(0, now - reported)
    reported = Math.max(reported, now)
    return d
  }
}

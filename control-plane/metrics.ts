/**
 * The control plane's Prometheus metrics, on a Registry of its own (nothing registered at import).
 * Leak and node gauges are read from the store when scraped, so they are never stale.
 * Labels never carry an id, a hash, a path with ids, or a client address.
 *
 * Every HTTP request is counted (`leakgate_cp_http_requests_total`); its duration is observed only on
 * routes that answer as soon as they can. A route that holds requests open (the nodes' long-poll, which
 * waits up to its `wait` for a change) says so with `config: { heldOpen: true }`: its durations are its
 * clients' wait, and in the histogram would wreck any latency objective.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { registerBuildInfo, registerDefaultMetrics } from '../lib/default-metrics.js'
import { leakgateVersion } from '../lib/version.js'
import type { ScanJobCounts } from './scan-jobs.js'
import type { PublicSourceCursor } from './store/public-sources.js'
import type { Store } from './store/store.js'
import type { SyncService } from './sync.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route holds requests open (a long-poll, an event stream): counted, but left out of the duration histogram. */
    heldOpen?: boolean
  }
}

/** The labels of the HTTP metrics. */
type HttpLabel = 'method' | 'route' | 'status_code'

/** The metrics of one control-plane instance. */
export interface ControlPlaneMetrics {
  registry: Registry
  /** Every request answered. */
  httpRequests: Counter<HttpLabel>
  /** Durations of requests to routes that do not hold them open. */
  httpDuration: Histogram<HttpLabel>
  /** Scans this process ran to their end, by final status. */
  scans: Counter<'status'>
  /** Scheduled risk recomputes this process ran, by result. */
  riskRecomputes: Counter<'result'>
  /** Leak levels those recomputes moved. */
  riskLevelChanges: Counter
  /** Webhook delivery attempts this process made, by outcome (delivered, retrying, failed). */
  webhookDeliveries: Counter<'outcome'>
  /** Reads how many live event streams are open (set by the stream route). */
  liveStreams: { collect: () => number }
}

/** Makes the registry and its metrics. */
export function createMetrics(store: Store, sync: SyncService, nodeStaleSeconds: number): ControlPlaneMetrics {
  const registry = new Registry()
  registerDefaultMetrics(registry)
  registerBuildInfo(registry, leakgateVersion())
  new Gauge({
    name: 'leakgate_cp_leaks',
    help: 'Leaks by status, risk and action',
    labelNames: ['status', 'risk', 'action'] as const,
    registers: [registry],
    async collect() {
      // Read before the reset, so a scrape never sees the gauge emptied while the query runs.
      const counts = await store.stats.leakCounts()
      this.reset()
      for (const r of counts) this.set({ status: r.status, risk: r.risk, action: r.action }, r.n)
    },
  })
  new Gauge({
    name: 'leakgate_cp_nodes',
    help: 'Nodes heard from within the stale window',
    registers: [registry],
    async collect() {
      this.set(await store.nodes.countSince(new Date(Date.now() - nodeStaleSeconds * 1000).toISOString()))
    },
  })
  new Gauge({
    name: 'leakgate_cp_sync_clients',
    help: 'Changes requests held open (long-polling nodes)',
    registers: [registry],
    collect() {
      this.set(sync.waiting)
    },
  })
  new Counter({
    name: 'leakgate_cp_snapshot_builds_total',
    help: 'Snapshots of the index built (one per revision fetched, however many nodes or caches fetch it)',
    registers: [registry],
    collect() {
      this.reset()
      this.inc(sync.builds)
    },
  })
  new Gauge({
    name: 'leakgate_cp_index_revision',
    help: 'Current revision of the index',
    registers: [registry],
    async collect() {
      this.set(await store.index.revision())
    },
  })
  new Gauge({
    name: 'leakgate_cp_index_entries',
    help: 'Entries in the index nodes enforce',
    registers: [registry],
    async collect() {
      this.set(await store.index.size())
    },
  })
  const httpRequests = new Counter({
    name: 'leakgate_cp_http_requests_total',
    help: 'HTTP requests answered, by route template (long-polls included)',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers: [registry],
  })
  const httpDuration = new Histogram({
    name: 'leakgate_cp_http_request_duration_seconds',
    help: 'HTTP request durations by route template; routes that hold requests open (the sync long-poll) are left out',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [registry],
  })
  const scans = new Counter({
    name: 'leakgate_cp_scans_total',
    help: 'Scans this process ran that ended, by status (done, failed); pushed results are not counted',
    labelNames: ['status'] as const,
    registers: [registry],
  })
  // Both series exist from the first scrape, so an alert on failures sees its first one.
  for (const status of ['done', 'failed']) scans.inc({ status }, 0)
  new Gauge({
    name: 'leakgate_cp_leaks_rotation',
    help: 'Leaks by rotation state (requested: waiting for the issuer; rotated: confirmed)',
    labelNames: ['rotation'] as const,
    registers: [registry],
    async collect() {
      const counts = new Map((await store.stats.rotationCounts()).map((r) => [r.rotation, r.n]))
      for (const rotation of ['requested', 'rotated']) this.set({ rotation }, counts.get(rotation) ?? 0)
    },
  })
  const riskRecomputes = new Counter({
    name: 'leakgate_cp_risk_recomputes_total',
    help: 'Scheduled recomputes of leak risk this process ran, by result (ok, failed); a replica that found the run taken by another counts nothing',
    labelNames: ['result'] as const,
    registers: [registry],
  })
  for (const result of ['ok', 'failed']) riskRecomputes.inc({ result }, 0)
  const riskLevelChanges = new Counter({
    name: 'leakgate_cp_risk_level_changes_total',
    help: 'Leak risk levels moved by the scheduled recomputes of this process (each also a leak.risk_changed event)',
    registers: [registry],
  })
  const webhookDeliveries = new Counter({
    name: 'leakgate_cp_webhook_deliveries_total',
    help: 'Webhook delivery attempts this process made, by outcome: delivered, retrying (failed, tried again later), failed (given up)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  })
  for (const outcome of ['delivered', 'retrying', 'failed']) webhookDeliveries.inc({ outcome }, 0)
  new Gauge({
    name: 'leakgate_cp_webhook_queue_depth',
    help: 'Webhook deliveries waiting to be sent or retried (every replica sees the same queue)',
    registers: [registry],
    async collect() {
      this.set(await store.webhooks.pendingCount())
    },
  })
  // Each public source's row, read once a scrape for the five gauges (every replica reports the same).
  // `source` is a source id (`github-events`), or a shard's (`gharchive#2/4`, at most the shard count a
  // source): a handful to a few hundred, never a repository or a token.
  let sourcesRead: Promise<PublicSourceCursor[]> | undefined
  const sources = async (): Promise<PublicSourceCursor[]> => {
    sourcesRead ??= store.publicSources.list().finally(() => setImmediate(() => { sourcesRead = undefined }))
    return sourcesRead
  }
  const sourceGauges: Array<[string, string, (c: PublicSourceCursor) => number | undefined]> = [
    ['leakgate_cp_public_source_scanned_units', 'Units of public content a source scanned (content seen before is skipped, not counted), from the store', (c) => c.units],
    ['leakgate_cp_public_source_scanned_bytes', 'Bytes of public content a source scanned, from the store', (c) => c.bytes],
    ['leakgate_cp_public_source_lag_seconds', 'How old the newest content a source handled was when handled', (c) => num(c.state.lagSeconds)],
    ['leakgate_cp_public_source_rate_limit_remaining', 'Requests left in a source\'s API rate-limit window, as its last answer said', (c) => num(c.state.rateLimitRemaining)],
    ['leakgate_cp_public_source_errors', 'Reads and batch commits of a source that failed, since it started (a rise of it is a failure, whether or not the next batch cleared lastError), from the store', (c) => c.errors],
    ['leakgate_cp_public_source_failing', '1 while a source\'s last read failed (its lastError is set; the cursor stays), else 0', (c) => (c.lastError === null ? 0 : 1)],
  ]
  for (const [name, help, value] of sourceGauges) {
    new Gauge({
      name, help, labelNames: ['source'] as const, registers: [registry],
      async collect() {
        this.reset()
        for (const c of await sources()) {
          const v = value(c)
          if (v !== undefined) this.set({ source: c.sourceId }, v)
        }
      },
    })
  }
  const liveStreams = { collect: () => 0 }
  new Gauge({
    name: 'leakgate_cp_live_streams',
    help: 'Live event streams open to consoles (GET /v1/events/stream) on this process',
    registers: [registry],
    collect() {
      this.set(liveStreams.collect())
    },
  })
  return { registry, httpRequests, httpDuration, scans, riskRecomputes, riskLevelChanges, webhookDeliveries, liveStreams }
}

/**
 * `leakgate_cp_scan_jobs{state}`: scan jobs by state, read when scraped: from the queue on PostgreSQL
 * (queued: waiting or to retry; active: taken by a worker; failed: failed for good; dead: waiting in
 * the dead-letter queue), from this process's running scans on SQLite. Every state has a series.
 */
export function registerScanJobMetrics(registry: Registry, counts: () => Promise<ScanJobCounts>): void {
  new Gauge({
    name: 'leakgate_cp_scan_jobs',
    help: 'Scan jobs by state (queued, active, failed, dead)',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const now = await counts()
      for (const state of ['queued', 'active', 'failed', 'dead'] as const) this.set({ state }, now[state])
    },
  })
}

/** How range checks ended. */
export const RANGE_OUTCOMES = ['answered', 'invalid', 'keyed', 'limited'] as const

/**
 * `leakgate_cp_range_queries_total{outcome}`: range checks by how they ended. No prefix label: the
 * prefixes would tell what people check. Registered by the range route on the app's registry.
 */
export function registerRangeMetrics(registry: Registry): Counter<'outcome'> {
  const counter = new Counter({
    name: 'leakgate_cp_range_queries_total',
    help: 'Range checks (GET /v1/range/{prefix}) by outcome: answered, invalid (bad prefix), keyed (hashes of another kind), limited (429)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  })
  for (const outcome of RANGE_OUTCOMES) counter.inc({ outcome }, 0)
  return counter
}

/** A number kept in a source's state, or undefined. */
function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined
}

/**
 * The control plane's Prometheus metrics, on a Registry of its own (nothing registered at import).
 * Leak and node gauges are read from the store when scraped, so they are never stale.
 * Labels never carry an id, a hash, a path with ids, or a client address.
 */
import { Gauge, Histogram, Registry } from 'prom-client'
import { registerDefaultMetrics } from '../lib/default-metrics.js'
import type { Store } from './store/store.js'
import type { SyncService } from './sync.js'

/** The metrics of one control-plane instance. */
export interface ControlPlaneMetrics {
  registry: Registry
  httpDuration: Histogram<'method' | 'route' | 'status_code'>
}

/** Makes the registry and its metrics. */
export function createMetrics(store: Store, sync: SyncService, nodeStaleSeconds: number): ControlPlaneMetrics {
  const registry = new Registry()
  registerDefaultMetrics(registry)
  new Gauge({
    name: 'leakgate_cp_leaks',
    help: 'Leaks by status, risk and action',
    labelNames: ['status', 'risk', 'action'] as const,
    registers: [registry],
    collect() {
      this.reset()
      for (const r of store.stats.leakCounts()) this.set({ status: r.status, risk: r.risk, action: r.action }, r.n)
    },
  })
  new Gauge({
    name: 'leakgate_cp_nodes',
    help: 'Nodes heard from within the stale window',
    registers: [registry],
    collect() {
      this.set(store.nodes.countSince(new Date(Date.now() - nodeStaleSeconds * 1000).toISOString()))
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
  new Gauge({
    name: 'leakgate_cp_index_revision',
    help: 'Current revision of the index',
    registers: [registry],
    collect() {
      this.set(store.index.revision())
    },
  })
  new Gauge({
    name: 'leakgate_cp_index_entries',
    help: 'Entries in the index nodes enforce',
    registers: [registry],
    collect() {
      this.set(store.index.size())
    },
  })
  const httpDuration = new Histogram({
    name: 'leakgate_cp_http_request_duration_seconds',
    help: 'HTTP request durations by route template',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [registry],
  })
  return { registry, httpDuration }
}

/**
 * prom-client's default process and runtime metrics, minus the ones that break Prometheus naming rules,
 * and `leakgate_build_info`. Shared by the node and the control plane so both expose the same set.
 */
import { collectDefaultMetrics, Gauge, type Registry } from 'prom-client'

/**
 * Gauges prom-client names with a `_total` suffix, which Prometheus keeps for counters
 * (`promtool check metrics` refuses them). Each is only the sum of its by-type sibling without the
 * suffix (`nodejs_active_handles{type}` and so on), which stays, so nothing is lost.
 */
export const DROPPED_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const

/** Registers prom-client's default metrics on `registry`, without the misnamed gauges. */
export function registerDefaultMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry })
  for (const name of DROPPED_DEFAULT_METRICS) registry.removeSingleMetric(name)
}

/** `leakgate_build_info{version} 1`: the usual way to see which version each instance runs (`max by (version)`). */
export function registerBuildInfo(registry: Registry, version: string): void {
  new Gauge({ name: 'leakgate_build_info', help: 'Always 1; its version label is the Leakgate version this process runs', labelNames: ['version'], registers: [registry] }).set({ version }, 1)
}

/**
 * The scan worker's Prometheus metrics (`leakgate_scan_worker_*`): what the jobs it took became, how
 * long their scans ran, and its heartbeats. On a Registry the caller owns: a `leakgate scan-worker`'s
 * own (served on `--metrics-port`), or the control plane's when it works scan jobs itself
 * (`scanJobsInProcess`).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

/** How a job a worker took ended: done, failed (retried or dead-lettered), or lost (another attempt has the scan). */
export type JobOutcome = 'done' | 'failed' | 'lost'

/** How a heartbeat went: written, lost (the scan is another attempt's now), or failed (not written; the next may pass). */
export type HeartbeatResult = 'written' | 'lost' | 'failed'

/** The worker's metrics. */
export interface ScanWorkerMetrics {
  jobsTaken: Counter
  jobsEnded: Counter<'outcome'>
  running: Gauge
  duration: Histogram<'outcome'>
  heartbeats: Counter<'result'>
}

/** Registers the worker's metrics on `registry`. */
export function createScanWorkerMetrics(registry: Registry): ScanWorkerMetrics {
  const jobsTaken = new Counter({
    name: 'leakgate_scan_worker_jobs_taken_total',
    help: 'Scan jobs this worker took from the queue',
    registers: [registry],
  })
  const jobsEnded = new Counter({
    name: 'leakgate_scan_worker_jobs_ended_total',
    help: 'Scan jobs this worker ended, by outcome (done; failed: retried or dead-lettered; lost: another attempt took the scan over)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  })
  const running = new Gauge({
    name: 'leakgate_scan_worker_jobs_running',
    help: 'Scan jobs this worker is running now',
    registers: [registry],
  })
  const duration = new Histogram({
    name: 'leakgate_scan_worker_scan_duration_seconds',
    help: 'Time from taking a scan job to ending it, by outcome',
    labelNames: ['outcome'] as const,
    // Scans run from a second (a small folder) to hours (an organisation's history).
    buckets: [1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600],
    registers: [registry],
  })
  const heartbeats = new Counter({
    name: 'leakgate_scan_worker_heartbeats_total',
    help: 'Heartbeats written on running scans\' records, by result (written; lost: another attempt took the scan over; failed: the database did not answer)',
    labelNames: ['result'] as const,
    registers: [registry],
  })
  // Every series exists from the first scrape, so an alert on failures sees its first one.
  for (const outcome of ['done', 'failed', 'lost']) jobsEnded.inc({ outcome }, 0)
  for (const result of ['written', 'lost', 'failed']) heartbeats.inc({ result }, 0)
  return { jobsTaken, jobsEnded, running, duration, heartbeats }
}

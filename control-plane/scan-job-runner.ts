/**
 * Works scan jobs from the queue on PostgreSQL: `concurrency` loops, each taking a job when one waits
 * and running it through the scans service (`ScanService.runJob`: the scan record taken for the
 * attempt, heartbeats, completion or failure through pg-boss, fencing on a lost lease). The one loop
 * `leakgate scan-worker` runs, and the control plane too when it works jobs itself (`scanJobsInProcess`).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { BaseLogger } from 'pino'
import type { ScanQueue } from './scan-jobs.js'
import type { ScanWorkerMetrics } from './scan-worker-metrics.js'
import type { ScanService } from './scans.js'

/** How often an idle loop asks the queue for a job. */
const POLL_MS = 1000

/** What a runner needs besides the queue and the service. */
export interface ScanJobRunnerOptions {
  /** How many jobs run at once. */
  concurrency: number
  log: Pick<BaseLogger, 'info' | 'error'>
  metrics?: ScanWorkerMetrics
}

/** Loops taking scan jobs until stopped. */
export class ScanJobRunner {
  readonly #stop = new AbortController()
  /** Aborted (and replaced) by wake(): idle loops ask the queue at once. */
  #wake = new AbortController()
  readonly #loops: Array<Promise<void>>

  /** Starts `options.concurrency` loops at once. */
  constructor(queue: ScanQueue, scans: ScanService, options: ScanJobRunnerOptions) {
    const { log, metrics } = options
    const signal = this.#stop.signal
    const loop = async (): Promise<void> => {
      while (!signal.aborted) {
        const job = await queue.fetch().catch((err: unknown) => {
          log.error({ err: { message: (err as Error).message } }, 'cannot fetch a scan job')
          return undefined
        })
        if (job === undefined) {
          await sleep(POLL_MS, undefined, { signal: AbortSignal.any([signal, this.#wake.signal]) }).catch(() => undefined)
          continue
        }
        log.info({ scan: job.data.scanId, attempt: job.attempt, sourceType: job.data.source.type }, 'scan job taken')
        metrics?.jobsTaken.inc()
        metrics?.running.inc()
        const ended = metrics?.duration.startTimer()
        const outcome = await scans.runJob(queue, job).catch((err: unknown) => {
          log.error({ err: { message: (err as Error).message }, scan: job.data.scanId }, 'scan job could not be ended')
          return 'failed' as const
        })
        metrics?.running.dec()
        metrics?.jobsEnded.inc({ outcome })
        ended?.({ outcome })
        log.info({ scan: job.data.scanId, attempt: job.attempt, outcome }, 'scan job ended')
      }
    }
    this.#loops = Array.from({ length: options.concurrency }, () => loop())
  }

  /** Has idle loops ask the queue now rather than at their next poll (this process just queued a job). */
  wake(): void {
    this.#wake.abort()
    this.#wake = new AbortController()
  }

  /**
   * Takes no more jobs; resolves once the jobs under way have ended. Their scans run on: the caller
   * stops them (`ScanService.close()`), and runJob then fails their jobs, which pg-boss retries elsewhere.
   */
  async stop(): Promise<void> {
    this.#stop.abort()
    await Promise.all(this.#loops)
  }
}

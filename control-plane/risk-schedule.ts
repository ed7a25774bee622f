/**
 * The control plane's timer that keeps risk current (`riskRecomputeSeconds`): every tick it tries to
 * claim the run due (store/risk-recompute.ts: one run per interval across every control plane sharing
 * the database), and the one that claims it scores open leaks again, batch by batch, each batch its
 * own transaction. Ticks are at most a minute apart, so a replica that took over after another stopped
 * runs the next one within a minute of its time. The clock is injectable, so a test moves time instead
 * of waiting for it.
 */
import type { RecomputeBatch } from './store/risk-recompute.js'
import type { Store } from './store/store.js'

/** What a run did, over all its batches. */
export interface RecomputeRun {
  at: Date
  scanned: number
  updated: number
  changed: number
  batches: number
}

/** How the schedule runs. */
export interface RiskScheduleOptions {
  /** Seconds between runs; 0: no timer (runNow still works). */
  intervalSeconds: number
  /** Leaks a batch (one transaction) scores. */
  batchSize?: number
  /** The time runs score at and claim with; the wall clock by default. */
  clock?: () => Date
  /** Told of every run this process made. */
  onRun?: (run: RecomputeRun) => void
  /** Told of a run that failed (the next tick tries again). */
  onError?: (err: Error) => void
}

const MAX_TICK_MS = 60_000
const DEFAULT_BATCH = 500

/** The timer and the runs. */
export class RiskSchedule {
  readonly #store: Store
  readonly #options: RiskScheduleOptions
  readonly #clock: () => Date
  #timer: NodeJS.Timeout | undefined
  #running: Promise<RecomputeRun | undefined> | undefined
  #closed = false

  constructor(store: Store, options: RiskScheduleOptions) {
    this.#store = store
    this.#options = options
    this.#clock = options.clock ?? (() => new Date())
  }

  /** Starts the timer (nothing when the interval is 0). */
  start(): void {
    if (this.#options.intervalSeconds === 0 || this.#timer !== undefined) return
    const tick = Math.min(this.#options.intervalSeconds * 1000, MAX_TICK_MS)
    this.#timer = setInterval(() => {
      this.runNow().catch(() => undefined)
    }, tick)
    this.#timer.unref()
  }

  /**
   * Claims the run due now and makes it; undefined when another run holds the interval (this process's
   * or another replica's). A run already going in this process is joined, not doubled.
   */
  async runNow(): Promise<RecomputeRun | undefined> {
    if (this.#closed) return undefined
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined
    })
    return this.#running
  }

  /** Stops the timer and waits for a run in progress (it stops after its current batch). */
  async close(): Promise<void> {
    this.#closed = true
    clearInterval(this.#timer)
    await this.#running?.catch(() => undefined)
  }

  async #run(): Promise<RecomputeRun | undefined> {
    const at = this.#clock()
    try {
      // An interval of 0 (no timer) still lets runNow claim: any earlier run is then past its interval.
      if (!(await this.#store.risk.claim(at, this.#options.intervalSeconds * 1000))) return undefined
      const run: RecomputeRun = { at, scanned: 0, updated: 0, changed: 0, batches: 0 }
      let batch: RecomputeBatch = { lastId: 0, scanned: 0, updated: 0, changed: 0, done: false }
      while (!batch.done && !this.#closed) {
        batch = await this.#store.risk.batch(batch.lastId, at, this.#options.batchSize ?? DEFAULT_BATCH)
        run.scanned += batch.scanned
        run.updated += batch.updated
        run.changed += batch.changed
        run.batches++
      }
      this.#options.onRun?.(run)
      return run
    } catch (err) {
      this.#options.onError?.(err as Error)
      throw err
    }
  }
}

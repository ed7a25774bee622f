/**
 * The scan queue on PostgreSQL: pg-boss jobs in the store's database (schema `leakgate_jobs`), one a
 * scan. The control plane sends them (`POST /v1/scans`, the schedule); `leakgate scan-worker`
 * processes fetch them. pg-boss keeps the retries (with backoff), the lease of an active job
 * (`expireInSeconds`) and the dead-letter queue; the scan record (`scans`) keeps what people see.
 */
import pg from 'pg'
import PgBoss from 'pg-boss'
import type { ReachPolicy, ScanSourceSpec } from './detect/index.js'

/** The queue of scans to run. */
export const SCAN_QUEUE = 'leakgate-scan'
/** Where a scan's job goes once it failed every attempt; nothing takes jobs from it (operators look). */
export const SCAN_DEAD_QUEUE = 'leakgate-scan-dead'
/** pg-boss's tables live in a schema of their own, apart from the store's (an export does not carry them). */
export const SCAN_JOBS_SCHEMA = 'leakgate_jobs'
/** Added to a scan's wall-clock limit for its job's lease: the worker stops the scan itself first. */
const LEASE_MARGIN_SECONDS = 120
/**
 * The key of the advisory lock under which a process installs pg-boss's schema and makes the queues
 * ("LGJQ" in ASCII). pg-boss makes a queue in one statement that inserts the queue's row, then adds a
 * foreign key to the queue table: a second process making the same queue meanwhile waits on that row
 * while it holds its own lock on the queue table, which the foreign key needs, and PostgreSQL ends
 * one of the two with "deadlock detected". Replicas and workers starting together take turns instead,
 * and the later ones find the queues made.
 */
const SETUP_LOCK_KEY = 0x4c474a51
/** pg-boss refuses an expiry of 24 hours or more. */
const MAX_LEASE_SECONDS = 23 * 3600

/** What a scan job carries: the scan record it runs and what the control plane decided about it. */
export interface ScanJobData {
  scanId: number
  source: ScanSourceSpec
  actor: string
  /** What the scan may reach, as decided by the control plane that queued it (a scheduled path is allowed). */
  reach?: ReachPolicy
}

/** A job taken by a worker. */
export interface ScanJob {
  id: string
  data: ScanJobData
  /** 1 for the job's first delivery, then one more each retry. */
  attempt: number
  /** True when a failure of this attempt sends the job to the dead-letter queue. */
  final: boolean
}

/** How scan jobs are retried (config `scanJobs`). */
export interface ScanJobSettings {
  /** Retries after the first attempt; the job is dead-lettered when the last one fails. */
  retryLimit: number
  /** Base delay of the retries, doubled each time (with jitter). */
  retryDelaySeconds: number
  /** How often a worker writes the scan record's heartbeat; three missed and the job is retried. */
  heartbeatSeconds: number
}

/** Job counts by state, for `leakgate_cp_scan_jobs`. */
export interface ScanJobCounts {
  queued: number
  active: number
  failed: number
  dead: number
}

/** The lease pg-boss gives an active scan job: its wall-clock limit and a margin, within pg-boss's bound. */
export function jobLeaseSeconds(timeoutSeconds: number): number {
  return Math.min(timeoutSeconds + LEASE_MARGIN_SECONDS, MAX_LEASE_SECONDS)
}

/** The scan queue over one pg-boss instance. */
export class ScanQueue {
  readonly #boss: PgBoss
  readonly #settings: ScanJobSettings

  private constructor(boss: PgBoss, settings: ScanJobSettings) {
    this.#boss = boss
    this.#settings = settings
  }

  /**
   * Connects, installs or migrates pg-boss's schema, and makes both queues, one process at a time
   * (SETUP_LOCK_KEY: replicas and workers may start together). `onError` hears pg-boss's background errors.
   */
  static async open(databaseUrl: string, settings: ScanJobSettings, onError: (err: Error) => void): Promise<ScanQueue> {
    const boss = new PgBoss({
      connectionString: databaseUrl,
      schema: SCAN_JOBS_SCHEMA,
      max: 4,
      application_name: 'leakgate-scan-jobs',
      // No cron schedules: the control plane queues scheduled scans itself (one a slot across replicas).
      schedule: false,
    })
    boss.on('error', onError)
    // The lock is held by a session of its own (pg-boss's statements go through its pool): ending
    // the session releases it, whatever happened meanwhile.
    const turn = new pg.Client({ connectionString: databaseUrl, application_name: 'leakgate-scan-jobs' })
    turn.on('error', onError)
    await turn.connect()
    try {
      await turn.query('SELECT pg_advisory_lock($1)', [SETUP_LOCK_KEY])
      await boss.start()
      try {
        await boss.createQueue(SCAN_DEAD_QUEUE)
        await boss.createQueue(SCAN_QUEUE, { name: SCAN_QUEUE, deadLetter: SCAN_DEAD_QUEUE })
      } catch (err) {
        await boss.stop({ graceful: false })
        throw err
      }
    } finally {
      await turn.end()
    }
    return new ScanQueue(boss, settings)
  }

  /** The retry settings jobs are sent with. */
  get settings(): ScanJobSettings {
    return this.#settings
  }

  /**
   * Sends a scan job; answers its id. With `singleton`, at most one job of that key is made a slot of
   * that many seconds, whoever sends it (the replicas' schedules): undefined when one already was.
   */
  async send(data: ScanJobData, timeoutSeconds: number, singleton?: { key: string; seconds: number }): Promise<string | undefined> {
    const id = await this.#boss.send(SCAN_QUEUE, data, {
      retryLimit: this.#settings.retryLimit,
      retryDelay: this.#settings.retryDelaySeconds,
      retryBackoff: true,
      expireInSeconds: jobLeaseSeconds(timeoutSeconds),
      deadLetter: SCAN_DEAD_QUEUE,
      ...(singleton === undefined ? {} : { singletonKey: singleton.key, singletonSeconds: Math.max(1, Math.round(singleton.seconds)) }),
    })
    return id ?? undefined
  }

  /** The next scan job, now active, or undefined when none waits. */
  async fetch(): Promise<ScanJob | undefined> {
    const [job] = await this.#boss.fetch<ScanJobData>(SCAN_QUEUE, { includeMetadata: true })
    if (job === undefined) return undefined
    return { id: job.id, data: job.data, attempt: job.retryCount + 1, final: job.retryCount >= job.retryLimit }
  }

  /** A job's state and which attempt it is on, or undefined when it is gone. */
  async state(id: string): Promise<{ state: string; attempt: number; final: boolean } | undefined> {
    const job = await this.#boss.getJobById(SCAN_QUEUE, id)
    if (job === null) return undefined
    return { state: job.state, attempt: job.retryCount + 1, final: job.retryCount >= job.retryLimit }
  }

  /** Marks a job done. */
  async complete(id: string): Promise<void> {
    await this.#boss.complete(SCAN_QUEUE, id)
  }

  /** Fails a job: pg-boss retries it after its backoff, or moves it to the dead-letter queue after its last attempt. */
  async fail(id: string, message: string): Promise<void> {
    await this.#boss.fail(SCAN_QUEUE, id, { message })
  }

  /** Jobs by state: waiting (new or to retry), active, failed for good, and waiting in the dead-letter queue. */
  async counts(): Promise<ScanJobCounts> {
    const { rows } = await this.#boss.getDb().executeSql(
      `SELECT name, state, count(*)::int AS n FROM ${SCAN_JOBS_SCHEMA}.job WHERE name IN ($1, $2) GROUP BY name, state`, [SCAN_QUEUE, SCAN_DEAD_QUEUE]) as { rows: Array<{ name: string; state: string; n: number }> }
    const out: ScanJobCounts = { queued: 0, active: 0, failed: 0, dead: 0 }
    for (const { name, state, n } of rows) {
      if (name === SCAN_DEAD_QUEUE) {
        if (state === 'created' || state === 'retry' || state === 'active') out.dead += n
      } else if (state === 'created' || state === 'retry') out.queued += n
      else if (state === 'active') out.active += n
      else if (state === 'failed') out.failed += n
    }
    return out
  }

  /** Stops pg-boss and closes its pool. */
  async close(): Promise<void> {
    await this.#boss.stop({ graceful: false, wait: true })
  }
}

/**
 * The control plane's scans: started through `POST /v1/scans` or on a schedule, or handed over
 * already done (`leakgate scan --push`). The detection engine (`detect/`) finds; this service keeps
 * the records, and turns findings into leaks through the store's `upsertFromFindings`, one a
 * credential (a token, or the parts of one credential) at a file of a repository, so a rescan finds
 * the leak it made before instead of making a duplicate. History scans remember the commits of
 * every ref (`scan_state`) and the next scan of that source reads only newer commits.
 */
import { createHash } from 'node:crypto'
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import { escapeText } from '../lib/text.js'
import { DEFAULT_SCAN_LIMITS, type ScanSourceConfig } from './config.js'
import type { Finding, ReachPolicy, ScanOptions, ScanSourceSpec, ScanState } from './detect/index.js'
import { localPathOf, urlHasCredential } from './detect/sources/reach.js'
import type { VerifiedFormat } from './detect/rule.js'
import { findingTitle } from './leak-titles.js'
import { ruleFormat } from './risk.js'
import { startScanProcess, type RunningScan, type ScanProcessLimits } from './scan-process.js'
import { SCAN_DEAD_QUEUE, type ScanJob, type ScanJobCounts, type ScanJobData, type ScanQueue } from './scan-jobs.js'
import type { HeartbeatResult } from './scan-worker-metrics.js'
import type { FindingLocation } from './detect/findings.js'
import type { FindingGroup, LeakLocation } from './store/leaks.js'
import type { ScanOutcome, ScanRecord } from './store/scans.js'
import type { Store } from './store/store.js'

/** How the service runs scans. */
export interface ScanServiceOptions {
  /** Where remote repositories are mirrored. */
  cacheDir: string
  github?: ScanOptions['github']
  gitlab?: ScanOptions['gitlab']
  /** Actor written in the audit log for leaks the scanner creates. */
  actor?: string
  /** Called when a background scan fails (the message is in the scan record too). */
  onError?: (err: Error, source: ScanSourceSpec) => void
  /** What scans may reach; undefined: anything (tests of the engine only). */
  reach?: ReachPolicy
  /** Receives what git said when a remote failed (redacted): the server log's, never the scan record's. */
  onDiagnostic?: (text: string, source: ScanSourceSpec) => void
  /** How long and large one scan may grow (config `scan`); defaults as there. */
  limits?: Partial<ScanLimits>
  /** Called when a scan this service ran ends, with its record's final status (the metrics count them). */
  onFinish?: (status: 'done' | 'failed') => void
  /**
   * The scan queue (PostgreSQL): scans are queued as jobs for `leakgate scan-worker` processes (or a
   * control plane's `scanJobsInProcess`) instead of run at once, and this service watches the workers'
   * heartbeats. Undefined (SQLite): scans run here.
   */
  queue?: ScanQueue
  /** Called when watching the workers' heartbeats failed (the database or the queue did not answer). */
  onQueueError?: (err: Error) => void
  /** What a scan stopped by `close()` ends with; default: the control plane stopped during the scan. */
  stoppedMessage?: string
  /** Called once this service queued a scan job (a runner in this process takes it at once). */
  onQueued?: () => void
  /** Hears how each heartbeat of a job this service runs went (the worker's metrics count them). */
  onHeartbeat?: (result: HeartbeatResult) => void
}

/** How long and large one scan may grow. */
export interface ScanLimits extends ScanProcessLimits {
  maxFindings: number
  maxBytes: number
}

/** Tokens turned into leaks between two turns of the event loop. */
const TOKENS_A_STEP = 25

/** The message a scan stopped by the control plane's shutdown ends with. */
const STOPPED = 'the control plane stopped during the scan'

/** A worker's heartbeats missed before its scan's job is failed and retried. */
const MISSED_HEARTBEATS = 3

/** How a scan run by `#scan` writes its end: at once, or only while its worker still holds the lease. */
interface RunFence {
  /** Stops the scan (its process, its ingestion) when the lease is lost. */
  signal: AbortSignal
  /** Writes the record's end; false when the scan is no longer this run's. */
  finish: (outcome: ScanOutcome) => Promise<boolean>
}


/** Timing of scheduled scans (tests shorten it). */
export interface ScheduleTiming {
  /** Delay before the first scan of each source; default 1 s. */
  firstDelayMs?: number
  /** Factor applied to each source's `intervalSeconds`. */
  intervalScale?: number
}

/** GitHub access from the environment: `LEAKGATE_GITHUB_API_URL`, `LEAKGATE_GITHUB_TOKEN` or `GITHUB_TOKEN`. */
export function githubAccessFromEnv(env: NodeJS.ProcessEnv): NonNullable<ScanOptions['github']> {
  const token = env.LEAKGATE_GITHUB_TOKEN || env.GITHUB_TOKEN
  return {
    ...(env.LEAKGATE_GITHUB_API_URL ? { apiUrl: env.LEAKGATE_GITHUB_API_URL } : {}),
    ...(token ? { token } : {}),
  }
}

/** GitLab access from the environment: `LEAKGATE_GITLAB_API_URL`, `LEAKGATE_GITLAB_TOKEN` or `GITLAB_TOKEN`. */
export function gitlabAccessFromEnv(env: NodeJS.ProcessEnv): NonNullable<ScanOptions['gitlab']> {
  const token = env.LEAKGATE_GITLAB_TOKEN || env.GITLAB_TOKEN
  return {
    ...(env.LEAKGATE_GITLAB_API_URL ? { apiUrl: env.LEAKGATE_GITLAB_API_URL } : {}),
    ...(token ? { token } : {}),
  }
}

/** A stable key naming a source, for `scan_state`. */
export function sourceKey(source: ScanSourceSpec): string {
  switch (source.type) {
    case 'dir': return `dir:${source.path}`
    case 'git': return `git:${source.url}${source.history === true ? ':history' : ''}`
    case 'github': return `github:${'org' in source ? `org:${source.org}` : 'gists' in source ? `gists:${source.gists}` : `user:${source.user}`}${source.history === true ? ':history' : ''}`
    case 'gitlab': return `gitlab:${'group' in source ? `group:${source.group}` : 'user' in source ? `user:${source.user}` : `project:${source.project}`}${source.history === true ? ':history' : ''}`
  }
}

/**
 * A finding's location as a leak's: the same fields, copied one by one so that only those reach the
 * store, each shown escaped where it holds characters the API would refuse (a file named with a bidi
 * override, a newline or a terminal escape becomes `\u202e`... in the leak's location and title).
 * A repository address that would carry a credential (a pushed finding's) is left out.
 */
function toLeakLocation(location: FindingLocation): LeakLocation {
  const out: LeakLocation = {}
  if (location.path !== undefined) out.path = escapeText(location.path)
  if (location.line !== undefined) out.line = location.line
  if (location.repo !== undefined) out.repo = escapeText(location.repo)
  if (location.repoUrl !== undefined && !urlHasCredential(location.repoUrl)) out.repoUrl = escapeText(location.repoUrl)
  if (location.commit !== undefined) out.commit = escapeText(location.commit)
  if (location.branch !== undefined) out.branch = escapeText(location.branch)
  if (location.url !== undefined) out.url = escapeText(location.url)
  return out
}

/** A finding as the scan record shows it: its names escaped like a leak's location. */
function shownFinding(f: Finding): Finding {
  const out: Finding = { ...f, file: escapeText(f.file), preview: escapeText(f.preview) }
  // Pushed findings may come without a location (it is optional on the wire).
  if ((f.location as FindingLocation | undefined) !== undefined) out.location = toLeakLocation(f.location)
  if (f.branch !== undefined) out.branch = escapeText(f.branch)
  if (f.commit !== undefined) out.commit = escapeText(f.commit)
  return out
}

/**
 * Credentials made of parts that a scan reports apart: an AWS key id and the secret key written
 * within a few lines of it in the same file are one credential, and so one leak, of the id's kind.
 */
const CREDENTIAL_PARTS: ReadonlyArray<{ id: string; secret: string; withinLines: number }> = [
  { id: 'aws_access_key', secret: 'aws_secret_key', withinLines: 5 },
]

/**
 * The credentials among one file's findings: each finding alone, except the parts of one credential
 * (CREDENTIAL_PARTS), together, the id first. A secret goes with the nearest id not taken yet.
 */
function credentialsOf(findings: readonly Finding[]): Finding[][] {
  const taken = new Set<Finding>()
  const out: Finding[][] = []
  for (const part of CREDENTIAL_PARTS) {
    const ids = findings.filter((f) => f.kind === part.id)
    for (const secret of findings.filter((f) => f.kind === part.secret)) {
      let best: Finding | undefined
      for (const id of ids) {
        const distance = Math.abs(id.line - secret.line)
        if (taken.has(id) || distance > part.withinLines) continue
        if (best === undefined || distance < Math.abs(best.line - secret.line)) best = id
      }
      if (best === undefined) continue
      taken.add(best).add(secret)
      out.push([best, secret])
    }
  }
  for (const f of findings) if (!taken.has(f)) out.push([f])
  return out.sort((a, b) => a[0]!.line - b[0]!.line || a[0]!.column - b[0]!.column)
}

/** A short stable key of text. */
function keyOf(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32)
}

/**
 * Groups findings into leaks: one a credential (a token, or the parts of one, CREDENTIAL_PARTS) at a
 * place (repository, or the scanned source, and file), keyed by a fingerprint of that place and
 * the credential so that the next scan finds the same leak. Leaks of the same repository, commit and
 * file share a `placeKey`: each shows the others as found with it. `legacyFingerprint` names the
 * leak a scan made before leaks were one a credential (one a file), which a rescan updates instead.
 */
export function groupFindings(findings: readonly Finding[], source: ScanSourceSpec): FindingGroup[] {
  const files = new Map<string, { legacyKey: string; list: Finding[] }>()
  const scanned = sourceKey({ ...source, history: false } as ScanSourceSpec)
  for (const f of findings) {
    const key = `${f.source}\0${f.location?.repo ?? scanned}\0${f.file}`
    const file = files.get(key)
    if (file !== undefined) file.list.push(f)
    // Before, a git source's findings had no repository name: their file was keyed by the source.
    else files.set(key, { legacyKey: f.source === 'git' ? `${f.source}\0${scanned}\0${f.file}` : key, list: [f] })
  }
  const groups: FindingGroup[] = []
  for (const [fileKey, { legacyKey, list }] of files) {
    for (const parts of credentialsOf(list)) {
      const first = parts[0]!
      // Pushed findings may come without a location (it is optional on the wire).
      const location = first.location === undefined ? undefined : toLeakLocation(first.location)
      const commit = first.location?.commit ?? first.commit ?? ''
      const format = credentialFormat(parts)
      groups.push({
        source: first.source,
        kind: first.kind,
        title: findingTitle(first.kind, { repo: location?.repo, repoUrl: location?.repoUrl, path: location?.path ?? escapeText(first.file) }),
        location,
        fingerprint: keyOf(`${fileKey}\0${first.sha256}`),
        legacyFingerprint: keyOf(legacyKey),
        placeKey: keyOf(`${fileKey}\0${commit}`),
        ...(format === undefined ? {} : { format }),
        tokens: parts.map((f) => ({ sha256: f.sha256, preview: escapeText(f.preview), kind: f.kind })),
        inHistoryOnly: parts.every((f) => f.inHistoryOnly),
      })
    }
  }
  return groups
}

/** What vouches for a credential's format: its first part's rule's (risk.ts). */
function credentialFormat(parts: readonly Finding[]): VerifiedFormat | undefined {
  return ruleFormat(parts[0]!.ruleId)
}

/** A configured source as a scan source; undefined for types the scanner does not handle. */
export function toSpec(config: ScanSourceConfig): ScanSourceSpec | undefined {
  const history = config.history === true
  if (config.type === 'dir' && config.path !== undefined) return { type: 'dir', path: config.path }
  if (config.type === 'git' && config.url !== undefined) return { type: 'git', url: config.url, history }
  if (config.type === 'github' && config.org !== undefined) return { type: 'github', org: config.org, history }
  if (config.type === 'github' && config.user !== undefined) return { type: 'github', user: config.user, history }
  if (config.type === 'github' && config.gists !== undefined) return { type: 'github', gists: config.gists, history }
  if (config.type === 'gitlab' && config.group !== undefined) return { type: 'gitlab', group: config.group, history }
  if (config.type === 'gitlab' && config.user !== undefined) return { type: 'gitlab', user: config.user, history }
  if (config.type === 'gitlab' && config.project !== undefined) return { type: 'gitlab', project: config.project, history }
  return undefined
}

/** An organisation's repositories are scanned one by one: keep the state of those not seen this time. */
function mergeState(before: ScanState | undefined, now: ScanState): ScanState {
  if (now.repos === undefined) return now
  return { ...now, repos: { ...(before?.repos ?? {}), ...now.repos } }
}

/** Scans run by the control plane: records, background runs, the schedule. */
export class ScanService {
  readonly #store: Store
  readonly #options: ScanServiceOptions
  readonly #running = new Map<number, Promise<void>>()
  /** Sources being scanned now: a scheduled run skips a source still busy. */
  readonly #busy = new Set<string>()
  readonly #timers: NodeJS.Timeout[] = []
  readonly #abort = new AbortController()
  /** The scan processes under way, to stop at shutdown. */
  readonly #processes = new Set<RunningScan>()
  readonly #limits: ScanLimits
  readonly #stoppedMessage: string

  private constructor(store: Store, options: ScanServiceOptions) {
    this.#store = store
    this.#options = options
    this.#limits = { ...DEFAULT_SCAN_LIMITS, ...options.limits }
    this.#stoppedMessage = options.stoppedMessage ?? STOPPED
  }

  /** The scans service of `store`, once the scans a previous run left `running` are marked failed. */
  static async open(store: Store, options: ScanServiceOptions): Promise<ScanService> {
    // A control plane killed mid-scan leaves "running" rows: they will never finish. With a queue, the
    // running scans are workers' (and a dead worker's are found by its heartbeat, `watchWorkers`).
    if (options.queue === undefined) await store.scans.abandonRunning(new Date().toISOString())
    return new ScanService(store, options)
  }

  /** One scan, or undefined. */
  async get(id: number): Promise<ScanRecord | undefined> {
    return this.#store.scans.get(id)
  }

  /** Records findings made elsewhere (`leakgate scan --push`) as a finished scan and turns them into leaks. */
  async ingest(source: ScanSourceSpec, findings: readonly Finding[], actor: string, checksumDropped = 0): Promise<ScanRecord> {
    const now = new Date().toISOString()
    const { created, updated } = await this.#toLeaks(findings, source, actor)
    const files = new Set(findings.map((f) => f.file)).size
    const id = await this.#store.scans.recordFinished(source, { progress: { files, ...(checksumDropped > 0 ? { checksumDropped } : {}) }, findings: findings.map(shownFinding), leaksCreated: created, leaksUpdated: updated, finishedAt: now })
    return this.#recorded(id)
  }

  /**
   * Starts a scan in the background; the record says `running` until it is done or failed. With a
   * queue, the scan is queued for a worker instead: the record says `queued` until one takes it.
   */
  async start(source: ScanSourceSpec, actor: string, reach: ReachPolicy | undefined = this.#options.reach): Promise<ScanRecord> {
    if (this.#options.queue !== undefined) return this.#recorded(await this.#enqueue(this.#options.queue, source, actor, reach))
    const id = await this.#store.scans.start(source, new Date().toISOString())
    const run = this.#run(id, source, actor, reach).finally(() => this.#running.delete(id))
    this.#running.set(id, run)
    return this.#recorded(id)
  }

  /**
   * Queues a scan: its record (`queued`), then its job. A scheduled scan (`every` seconds) is one job a
   * slot of that length whoever sends it, so replicas running the same schedule queue it once; the
   * record of a scan another replica queued first is removed again. Answers the record's id, or
   * undefined for a scheduled scan already queued.
   */
  async #enqueue(queue: ScanQueue, source: ScanSourceSpec, actor: string, reach: ReachPolicy | undefined, every?: number): Promise<number> {
    const key = sourceKey(source)
    const scans = this.#store.scans
    const id = await scans.enqueue(source, key, new Date().toISOString())
    const data: ScanJobData = { scanId: id, source, actor, ...(reach === undefined ? {} : { reach }) }
    let jobId: string | undefined
    try {
      jobId = await queue.send(data, this.#limits.timeoutSeconds, every === undefined ? undefined : { key, seconds: every })
    } catch (err) {
      await scans.finish(id, { status: 'failed', progress: {}, findings: [], leaksCreated: 0, leaksUpdated: 0, finishedAt: new Date().toISOString(), error: `the scan could not be queued: ${(err as Error).message}`.slice(0, 1000) })
      throw err
    }
    if (jobId === undefined) {
      await scans.discardQueued(id)
      return -1
    }
    await scans.setJob(id, jobId)
    this.#options.onQueued?.()
    return id
  }

  async #recorded(id: number): Promise<ScanRecord> {
    const record = await this.get(id)
    if (record === undefined) throw new Error(`scan ${id} was recorded and is gone`)
    return record
  }

  /** Resolves when the scan is no longer running (tests and shutdown). */
  async settled(id: number): Promise<void> {
    await this.#running.get(id)
  }

  /**
   * Scans each configured source now and then every `intervalSeconds`, skipping a source whose
   * previous scan is still running. Timers do not keep the process alive. Returns the sources it
   * cannot scan (a gitlab source without group, user or project, a git source without url or with a
   * credential in it...), for the caller to report.
   */
  schedule(sources: readonly ScanSourceConfig[], timing: ScheduleTiming = {}): ScanSourceConfig[] {
    const skipped: ScanSourceConfig[] = []
    for (const config of sources) {
      const source = toSpec(config)
      // A credential in the URL would be written into the scan records, the logs and the mirror's git config.
      if (source === undefined || (source.type === 'git' && urlHasCredential(source.url))) {
        skipped.push(config)
        continue
      }
      const tick = (): void => {
        if (this.#busy.has(sourceKey(source)) || this.#abort.signal.aborted) return
        // The operator named this path in the configuration: it is allowed like scan.allowedPaths.
        const reach = this.#options.reach
        const path = source.type === 'dir' ? source.path : source.type === 'git' ? localPathOf(source.url) : undefined
        const allowed = reach?.allowedPaths !== undefined && path !== undefined ? { ...reach, allowedPaths: [...reach.allowedPaths, path] } : reach
        const actor = this.#options.actor ?? 'scanner'
        const queue = this.#options.queue
        if (queue === undefined) {
          this.start(source, actor, allowed).catch((err: unknown) => this.#options.onError?.(err as Error, source))
          return
        }
        const every = (config.intervalSeconds ?? 3600) * (timing.intervalScale ?? 1)
        this.#store.scans.busy(sourceKey(source))
          .then(async (busy) => { if (!busy) await this.#enqueue(queue, source, actor, allowed, every) })
          .catch((err: unknown) => this.#options.onError?.(err as Error, source))
      }
      const first = setTimeout(tick, timing.firstDelayMs ?? 1000)
      first.unref()
      const every = setInterval(tick, (config.intervalSeconds ?? 3600) * 1000 * (timing.intervalScale ?? 1))
      every.unref()
      this.#timers.push(first, every)
    }
    return skipped
  }

  /**
   * Watches the workers' heartbeats (with a queue; any number of control planes may): every
   * `heartbeatSeconds`, a running scan whose heartbeat is older than three of them has its job failed
   * through pg-boss's `fail`, so that pg-boss retries it (after its backoff) on another worker, or
   * dead-letters it after its last attempt. pg-boss 10 has no heartbeat of its own: its only lease is
   * the job's expiry, which must outlast the longest scan (its wall-clock limit), so a worker killed
   * five minutes into a scan limited to an hour would hold its job for the rest of the hour.
   */
  watchWorkers(heartbeatSeconds: number): void {
    const queue = this.#options.queue
    if (queue === undefined) return
    let busy = false
    const check = (): void => {
      if (busy || this.#abort.signal.aborted) return
      busy = true
      this.#failStale(queue, heartbeatSeconds)
        .catch((err: unknown) => this.#options.onQueueError?.(err as Error))
        .finally(() => { busy = false })
    }
    const timer = setInterval(check, heartbeatSeconds * 1000)
    timer.unref()
    this.#timers.push(timer)
  }

  async #failStale(queue: ScanQueue, heartbeatSeconds: number): Promise<void> {
    const scans = this.#store.scans
    const before = new Date(Date.now() - MISSED_HEARTBEATS * heartbeatSeconds * 1000).toISOString()
    for (const stale of await scans.stale(before)) {
      const job = await queue.state(stale.jobId)
      const message = `the scan worker stopped answering (no heartbeat for ${MISSED_HEARTBEATS * heartbeatSeconds} s) on attempt ${stale.attempts}`
      const failedAt = new Date().toISOString()
      if (job === undefined || job.state !== 'active' || job.attempt !== stale.attempts) {
        // The job ended, or moved on, without this record: pg-boss's own expiry retried it, or the
        // worker died between failing its job and writing the record. The next attempt takes the
        // record over; a job that ended for good leaves it to fail here.
        if (job === undefined || job.state === 'failed' || job.state === 'completed' || job.state === 'cancelled') {
          await scans.finishAttempt(stale.id, stale.attempts, { status: 'failed', progress: {}, findings: [], leaksCreated: 0, leaksUpdated: 0, finishedAt: failedAt, error: message })
        }
        continue
      }
      // The record first: of two control planes finding the same scan, only the one that changed it
      // fails the job, so a retry another worker has already taken is never failed in its place.
      const claimed = job.final
        ? await scans.finishAttempt(stale.id, stale.attempts, { status: 'failed', progress: {}, findings: [], leaksCreated: 0, leaksUpdated: 0, finishedAt: failedAt, error: `${message}; after ${stale.attempts} attempts the job went to the dead-letter queue ${SCAN_DEAD_QUEUE}` })
        : await scans.requeue(stale.id, stale.attempts, `${message}; retried`)
      if (claimed) await queue.fail(stale.jobId, message)
    }
  }

  /** Scan jobs by state: the queue's with one; without, the scans running in this process. */
  async jobCounts(): Promise<ScanJobCounts> {
    if (this.#options.queue !== undefined) return this.#options.queue.counts()
    return { queued: 0, active: this.#running.size, failed: 0, dead: 0 }
  }

  /**
   * Runs one scan job (a `leakgate scan-worker`'s, or this control plane's with `scanJobsInProcess`): takes its record for this attempt, heartbeats it
   * while the scan runs, and ends the job: completed when the scan is done; failed when it fails, so
   * pg-boss retries it or, after the last attempt, dead-letters it. A worker that lost the lease (its
   * heartbeat went stale and another attempt took the scan) stops the scan and writes nothing more.
   */
  async runJob(queue: ScanQueue, job: ScanJob): Promise<'done' | 'failed' | 'lost'> {
    const { scanId: id, source, actor, reach } = job.data
    const scans = this.#store.scans
    if (!await scans.take(id, job.attempt, new Date().toISOString())) {
      // The scan ended already (its worker died between the record and the job), or is gone.
      await queue.complete(job.id)
      return 'lost'
    }
    const lease = new AbortController()
    const heartbeat = setInterval(() => {
      scans.heartbeat(id, job.attempt, new Date().toISOString()).then(
        (held) => {
          this.#options.onHeartbeat?.(held ? 'written' : 'lost')
          if (!held) lease.abort(new Error('the scan was taken over by another attempt (this worker missed its heartbeats)'))
        },
        // A heartbeat that could not be written is missed, not lost: the next one may pass.
        () => this.#options.onHeartbeat?.('failed'),
      )
    }, queue.settings.heartbeatSeconds * 1000)
    try {
      const finished = await this.#scan(id, source, actor, reach, {
        signal: lease.signal,
        finish: async (outcome) => scans.finishAttempt(id, job.attempt, outcome),
      })
      if (!finished) return 'lost'
      await queue.complete(job.id)
      this.#options.onFinish?.('done')
      return 'done'
    } catch (err) {
      if (lease.signal.aborted) return 'lost'
      const e = err as Error
      // The job first: a worker dying before the record leaves a stale heartbeat, which the control
      // plane resolves from the job's state.
      await queue.fail(job.id, e.message.slice(0, 1000))
      if (job.final) {
        await scans.finishAttempt(id, job.attempt, { status: 'failed', progress: {}, findings: [], leaksCreated: 0, leaksUpdated: 0, finishedAt: new Date().toISOString(), error: `${e.message.slice(0, 800)} (attempt ${job.attempt} of ${job.attempt}; the job went to the dead-letter queue ${SCAN_DEAD_QUEUE})` })
        this.#options.onFinish?.('failed')
      } else {
        await scans.requeue(id, job.attempt, `attempt ${job.attempt} failed, retried: ${e.message.slice(0, 900)}`)
      }
      this.#options.onError?.(e, source)
      return 'failed'
    } finally {
      clearInterval(heartbeat)
    }
  }

  /** Stops the schedule and kills every running scan (with its git processes), and waits for them to end. */
  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t)
    this.#abort.abort()
    for (const p of this.#processes) p.stop(this.#stoppedMessage)
    await Promise.allSettled([...this.#running.values()])
  }

  async #run(id: number, source: ScanSourceSpec, actor: string, reach: ReachPolicy | undefined): Promise<void> {
    const scans = this.#store.scans
    try {
      await this.#scan(id, source, actor, reach, {
        signal: this.#abort.signal,
        finish: async (outcome) => { await scans.finish(id, outcome); return true },
      })
      this.#options.onFinish?.('done')
    } catch (err) {
      const e = err as Error
      await scans.finish(id, { status: 'failed', progress: {}, findings: [], leaksCreated: 0, leaksUpdated: 0, finishedAt: new Date().toISOString(), error: e.message.slice(0, 1000) })
      this.#options.onFinish?.('failed')
      this.#options.onError?.(e, source)
    }
  }

  /**
   * One scan: its own process, then its findings made into leaks and its record ended through
   * `fence.finish` (with the source's state, in one transaction). Throws when the scan fails or
   * `fence.signal` stops it; answers false when the record was no longer this run's to end.
   */
  async #scan(id: number, source: ScanSourceSpec, actor: string, reach: ReachPolicy | undefined, fence: RunFence): Promise<boolean> {
    const key = sourceKey(source)
    const scans = this.#store.scans
    const stopped = (): Error => (this.#abort.signal.aborted ? new Error(this.#stoppedMessage) : (fence.signal.reason as Error))
    this.#busy.add(key)
    let running: RunningScan | undefined
    const onStop = (): void => running?.stop(stopped().message)
    fence.signal.addEventListener('abort', onStop)
    try {
      const since = await scans.state(key)
      if (this.#abort.signal.aborted || fence.signal.aborted) throw stopped()
      const { github, gitlab } = this.#options
      // The scan runs in a process of its own: the API's event loop and memory are not its to take.
      running = startScanProcess({
        source,
        options: {
          cacheDir: this.#options.cacheDir,
          ...(github === undefined ? {} : { github }),
          ...(gitlab === undefined ? {} : { gitlab }),
          ...(since === undefined || source.type === 'dir' || source.history !== true ? {} : { since }),
          ...(reach === undefined ? {} : { reach }),
          maxFindings: this.#limits.maxFindings,
          maxBytes: this.#limits.maxBytes,
        },
      }, this.#limits, {
        // Progress is a hint for the API; the scan's end writes the last counts, so a lost update costs nothing.
        onProgress: (p) => { scans.setProgress(id, p).catch(() => undefined) },
        onDiagnostic: (text) => this.#options.onDiagnostic?.(text, source),
      })
      const scan = running
      this.#processes.add(scan)
      const result = await scan.result.finally(() => this.#processes.delete(scan))
      const { created, updated } = await this.#toLeaksInSteps(result.findings, source, actor, fence.signal)
      const cut = result.truncated === undefined ? null
        : `the scan stopped early: ${result.truncated === 'findings' ? `${this.#limits.maxFindings} findings (scan.maxFindings)` : `${this.#limits.maxBytes} bytes read (scan.maxBytes)`}; what it found is kept`
      return await this.#store.write(async () => {
        const ended = await fence.finish({ status: 'done', progress: result.progress, findings: result.findings.map(shownFinding), leaksCreated: created, leaksUpdated: updated, finishedAt: new Date().toISOString(), error: cut })
        // A scan cut short has not read every commit: the next one must not skip those it left.
        if (ended && source.type !== 'dir' && source.history === true && result.truncated === undefined) await scans.saveState(key, mergeState(since, result.state), new Date().toISOString())
        return ended
      })
    } finally {
      fence.signal.removeEventListener('abort', onStop)
      this.#busy.delete(key)
    }
  }

  /**
   * Like #toLeaks, a few tokens at a time with the event loop free in between: a scan's thousand
   * findings made into leaks at once held the API for a few hundred milliseconds. A leak's tokens
   * added in parts end as the same leak (a rescan adds tokens the same way).
   */
  async #toLeaksInSteps(findings: readonly Finding[], source: ScanSourceSpec, actor: string, signal: AbortSignal): Promise<{ created: number; updated: number }> {
    let created = 0
    let updated = 0
    for (const group of groupFindings(findings, source)) {
      let made = false
      for (let i = 0; i < group.tokens.length; i += TOKENS_A_STEP) {
        if (this.#abort.signal.aborted) throw new Error(this.#stoppedMessage)
        if (signal.aborted) throw signal.reason as Error
        const r = await this.#store.leaks.upsertFromFindings({ ...group, tokens: group.tokens.slice(i, i + TOKENS_A_STEP) }, actor)
        if (i === 0) made = r.created
        await yieldToLoop()
      }
      if (made) created++
      else updated++
    }
    return { created, updated }
  }

  async #toLeaks(findings: readonly Finding[], source: ScanSourceSpec, actor: string): Promise<{ created: number; updated: number }> {
    let created = 0
    let updated = 0
    for (const group of groupFindings(findings, source)) {
      const r = await this.#store.leaks.upsertFromFindings(group, actor)
      if (r.created) created++
      else updated++
    }
    return { created, updated }
  }
}

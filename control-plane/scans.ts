/**
 * The control plane's scans: started through `POST /v1/scans` or on a schedule, or handed over
 * already done (`leakgate scan --push`). The detection engine (`detect/`) finds; this service keeps
 * the records, and turns findings into leaks through the store's `upsertFromFindings`, grouped by
 * source location (one leak a file of a repository), so a rescan adds new tokens to the leak it made
 * before instead of a duplicate. History scans remember the commits of every ref (`scan_state`) and
 * the next scan of that source reads only newer commits.
 */
import { createHash } from 'node:crypto'
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import { escapeText } from '../lib/text.js'
import { DEFAULT_SCAN_LIMITS, type ScanSourceConfig } from './config.js'
import type { Finding, ReachPolicy, ScanOptions, ScanSourceSpec, ScanState } from './detect/index.js'
import { localPathOf, urlHasCredential } from './detect/sources/reach.js'
import { startScanProcess, type RunningScan, type ScanProcessLimits } from './scan-process.js'
import type { FindingLocation } from './detect/findings.js'
import type { FindingGroup, LeakLocation } from './store/leaks.js'
import type { ScanRecord } from './store/scans.js'
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
 */
function toLeakLocation(location: FindingLocation): LeakLocation {
  const out: LeakLocation = {}
  if (location.path !== undefined) out.path = escapeText(location.path)
  if (location.line !== undefined) out.line = location.line
  if (location.repo !== undefined) out.repo = escapeText(location.repo)
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
 * Groups findings into leaks: one a source location (repository, or the scanned source, and file),
 * keyed by a fingerprint of that location so the next scan finds the same leak.
 */
export function groupFindings(findings: readonly Finding[], source: ScanSourceSpec): FindingGroup[] {
  const groups = new Map<string, Finding[]>()
  for (const f of findings) {
    const place = f.location?.repo ?? sourceKey({ ...source, history: false } as ScanSourceSpec)
    const key = `${f.source}\0${place}\0${f.file}`
    const list = groups.get(key)
    if (list === undefined) groups.set(key, [f])
    else list.push(f)
  }
  return [...groups.entries()].map(([key, list]) => {
    const first = list[0]!
    const kinds = new Set(list.map((f) => f.kind))
    return {
      source: first.source,
      kind: kinds.size === 1 ? first.kind : 'multiple',
      // Pushed findings may come without a location (it is optional on the wire).
      location: first.location === undefined ? undefined : toLeakLocation(first.location),
      fingerprint: createHash('sha256').update(key).digest('hex').slice(0, 32),
      tokens: list.map((f) => ({ sha256: f.sha256, preview: escapeText(f.preview), kind: f.kind })),
      inHistoryOnly: list.every((f) => f.inHistoryOnly),
    }
  })
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

  private constructor(store: Store, options: ScanServiceOptions) {
    this.#store = store
    this.#options = options
    this.#limits = { ...DEFAULT_SCAN_LIMITS, ...options.limits }
  }

  /** The scans service of `store`, once the scans a previous run left `running` are marked failed. */
  static async open(store: Store, options: ScanServiceOptions): Promise<ScanService> {
    // A control plane killed mid-scan leaves "running" rows: they will never finish.
    await store.scans.abandonRunning(new Date().toISOString())
    return new ScanService(store, options)
  }

  /** One scan, or undefined. */
  async get(id: number): Promise<ScanRecord | undefined> {
    return this.#store.scans.get(id)
  }

  /** Records findings made elsewhere (`leakgate scan --push`) as a finished scan and turns them into leaks. */
  async ingest(source: ScanSourceSpec, findings: readonly Finding[], actor: string): Promise<ScanRecord> {
    const now = new Date().toISOString()
    const { created, updated } = await this.#toLeaks(findings, source, actor)
    const files = new Set(findings.map((f) => f.file)).size
    const id = await this.#store.scans.recordFinished(source, { progress: { files }, findings: findings.map(shownFinding), leaksCreated: created, leaksUpdated: updated, finishedAt: now })
    return this.#recorded(id)
  }

  /** Starts a scan in the background; the record says `running` until it is done or failed. */
  async start(source: ScanSourceSpec, actor: string, reach: ReachPolicy | undefined = this.#options.reach): Promise<ScanRecord> {
    const id = await this.#store.scans.start(source, new Date().toISOString())
    const run = this.#run(id, source, actor, reach).finally(() => this.#running.delete(id))
    this.#running.set(id, run)
    return this.#recorded(id)
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
        this.start(source, this.#options.actor ?? 'scanner', allowed).catch((err: unknown) => this.#options.onError?.(err as Error, source))
      }
      const first = setTimeout(tick, timing.firstDelayMs ?? 1000)
      first.unref()
      const every = setInterval(tick, (config.intervalSeconds ?? 3600) * 1000 * (timing.intervalScale ?? 1))
      every.unref()
      this.#timers.push(first, every)
    }
    return skipped
  }

  /** Stops the schedule and kills every running scan (with its git processes), and waits for them to end. */
  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t)
    this.#abort.abort()
    for (const p of this.#processes) p.stop(STOPPED)
    await Promise.allSettled([...this.#running.values()])
  }

  async #run(id: number, source: ScanSourceSpec, actor: string, reach: ReachPolicy | undefined): Promise<void> {
    const key = sourceKey(source)
    const scans = this.#store.scans
    this.#busy.add(key)
    try {
      const since = await scans.state(key)
      if (this.#abort.signal.aborted) throw new Error(STOPPED)
      const { github, gitlab } = this.#options
      // The scan runs in a process of its own: the API's event loop and memory are not its to take.
      const running = startScanProcess({
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
      this.#processes.add(running)
      const result = await running.result.finally(() => this.#processes.delete(running))
      const { created, updated } = await this.#toLeaksInSteps(result.findings, source, actor)
      const cut = result.truncated === undefined ? null
        : `the scan stopped early: ${result.truncated === 'findings' ? `${this.#limits.maxFindings} findings (scan.maxFindings)` : `${this.#limits.maxBytes} bytes read (scan.maxBytes)`}; what it found is kept`
      await this.#store.write(async () => {
        await scans.finish(id, { status: 'done', progress: result.progress, findings: result.findings.map(shownFinding), leaksCreated: created, leaksUpdated: updated, finishedAt: new Date().toISOString(), error: cut })
        // A scan cut short has not read every commit: the next one must not skip those it left.
        if (source.type !== 'dir' && source.history === true && result.truncated === undefined) await scans.saveState(key, mergeState(since, result.state), new Date().toISOString())
      })
      this.#options.onFinish?.('done')
    } catch (err) {
      const e = err as Error
      await scans.finish(id, { status: 'failed', progress: {}, findings: [], leaksCreated: 0, leaksUpdated: 0, finishedAt: new Date().toISOString(), error: e.message.slice(0, 1000) })
      this.#options.onFinish?.('failed')
      this.#options.onError?.(e, source)
    } finally {
      this.#busy.delete(key)
    }
  }

  /**
   * Like #toLeaks, a few tokens at a time with the event loop free in between: a scan's thousand
   * findings made into leaks at once held the API for a few hundred milliseconds. A leak's tokens
   * added in parts end as the same leak (a rescan adds tokens the same way).
   */
  async #toLeaksInSteps(findings: readonly Finding[], source: ScanSourceSpec, actor: string): Promise<{ created: number; updated: number }> {
    let created = 0
    let updated = 0
    for (const group of groupFindings(findings, source)) {
      let made = false
      for (let i = 0; i < group.tokens.length; i += TOKENS_A_STEP) {
        if (this.#abort.signal.aborted) throw new Error(STOPPED)
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

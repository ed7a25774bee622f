/**
 * Scans run by the control plane: started through `POST /v1/scans` or on a schedule, or handed
 * over already done (`leakgate scan --push`). Findings become leaks through the store's
 * `upsertFromFindings`, grouped by source location (one leak a file of a repository), so a rescan
 * adds new tokens to the leak it made before instead of a duplicate. History scans remember the
 * commits of every ref (`scan_state`) and the next scan of that source reads only newer commits.
 */
import { createHash } from 'node:crypto'
import type { Store } from '../store/store.js'
import type { FindingGroup } from '../store/leaks.js'
import type { ScanSourceConfig } from '../config.js'
import { scanSource, type ScanSourceSpec, type ScanState, type ScanOptions } from './index.js'
import type { Finding } from './findings.js'
import type { Progress } from './sources/source.js'

/** A scan as `GET /v1/scans/:id` shows it (docs/api.md "Scans"). */
export interface ScanRecord {
  id: number
  source: ScanSourceSpec
  status: 'running' | 'done' | 'failed'
  startedAt: string
  finishedAt: string | null
  progress: Partial<Progress>
  findings: Finding[]
  leaksCreated: number
  leaksUpdated: number
  error?: string
}

/** How the jobs run scans. */
export interface ScanJobsOptions {
  /** Where remote repositories are mirrored. */
  cacheDir: string
  github?: ScanOptions['github']
  /** Actor written in the audit log for leaks the scanner creates. */
  actor?: string
  /** Called when a background scan fails (the message is in the scan record too). */
  onError?: (err: Error, source: ScanSourceSpec) => void
}

interface ScanRow {
  id: number
  source: string
  status: ScanRecord['status']
  progress: string
  findings: string
  leaks_created: number
  leaks_updated: number
  started_at: string
  finished_at: string | null
  error: string | null
}

/** Findings kept on a scan record; the leaks hold them all. */
const MAX_RECORDED_FINDINGS = 10_000

/** A stable key naming a source, for `scan_state`. */
export function sourceKey(source: ScanSourceSpec): string {
  switch (source.type) {
    case 'dir': return `dir:${source.path}`
    case 'git': return `git:${source.url}${source.history === true ? ':history' : ''}`
    case 'github': return `github:${'org' in source ? `org:${source.org}` : `user:${source.user}`}${source.history === true ? ':history' : ''}`
  }
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
      location: first.location,
      fingerprint: createHash('sha256').update(key).digest('hex').slice(0, 32),
      tokens: list.map((f) => ({ sha256: f.sha256, preview: f.preview, kind: f.kind })),
      inHistoryOnly: list.every((f) => f.inHistoryOnly),
    }
  })
}

/** The control plane's scans: records, background runs, the schedule. */
export class ScanJobs {
  readonly #store: Store
  readonly #options: ScanJobsOptions
  readonly #running = new Map<number, Promise<void>>()
  /** Sources being scanned now: a scheduled run skips a source still busy. */
  readonly #busy = new Set<string>()
  readonly #timers: NodeJS.Timeout[] = []
  readonly #abort = new AbortController()
  readonly #s

  constructor(store: Store, options: ScanJobsOptions) {
    this.#store = store
    this.#options = options
    const db = store.db
    this.#s = {
      insert: db.prepare<[string, string, string, string, number, number, string, string | null], { id: number }>(
        'INSERT INTO scans (source, status, progress, findings, leaks_created, leaks_updated, started_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id'),
      finish: db.prepare('UPDATE scans SET status = @status, progress = @progress, findings = @findings, leaks_created = @created, leaks_updated = @updated, finished_at = @now, error = @error WHERE id = @id'),
      progress: db.prepare('UPDATE scans SET progress = ? WHERE id = ?'),
      byId: db.prepare<[number], ScanRow>('SELECT * FROM scans WHERE id = ?'),
      state: db.prepare<[string], { state: string }>('SELECT state FROM scan_state WHERE source_key = ?'),
      saveState: db.prepare('INSERT INTO scan_state (source_key, state, updated_at) VALUES (?, ?, ?) ON CONFLICT (source_key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at'),
      // A control plane killed mid-scan leaves "running" rows: they will never finish.
      abandon: db.prepare("UPDATE scans SET status = 'failed', error = 'the control plane stopped during the scan', finished_at = ? WHERE status = 'running'"),
    }
    this.#s.abandon.run(new Date().toISOString())
  }

  /** One scan, or undefined. */
  get(id: number): ScanRecord | undefined {
    const row = this.#s.byId.get(id)
    if (row === undefined) return undefined
    return {
      id: row.id,
      source: JSON.parse(row.source) as ScanSourceSpec,
      status: row.status,
      startedAt: row.started_at,
      finishedAt: row.finished_at,
      progress: JSON.parse(row.progress) as Partial<Progress>,
      findings: JSON.parse(row.findings) as Finding[],
      leaksCreated: row.leaks_created,
      leaksUpdated: row.leaks_updated,
      ...(row.error === null ? {} : { error: row.error }),
    }
  }

  /** Records findings made elsewhere (`leakgate scan --push`) as a finished scan and turns them into leaks. */
  ingest(source: ScanSourceSpec, findings: readonly Finding[], actor: string): ScanRecord {
    const now = new Date().toISOString()
    const { created, updated } = this.#toLeaks(findings, source, actor)
    const files = new Set(findings.map((f) => f.file)).size
    const id = this.#s.insert.get(JSON.stringify(source), 'done', JSON.stringify({ files }), JSON.stringify(findings.slice(0, MAX_RECORDED_FINDINGS)), created, updated, now, now)!.id
    return this.get(id)!
  }

  /** Starts a scan in the background; the record says `running` until it is done or failed. */
  start(source: ScanSourceSpec, actor: string): ScanRecord {
    const now = new Date().toISOString()
    const id = this.#s.insert.get(JSON.stringify(source), 'running', '{}', '[]', 0, 0, now, null)!.id
    const run = this.#run(id, source, actor).finally(() => this.#running.delete(id))
    this.#running.set(id, run)
    return this.get(id)!
  }

  /** Resolves when the scan is no longer running (tests and shutdown). */
  async settled(id: number): Promise<void> {
    await this.#running.get(id)
  }

  /**
   * Scans each configured source now and then every `intervalSeconds`, skipping a source whose
   * previous scan is still running. Timers do not keep the process alive. Returns the sources it
   * cannot scan (a gitlab source, a git source without url...), for the caller to report.
   */
  schedule(sources: readonly ScanSourceConfig[], timing: { firstDelayMs?: number; intervalScale?: number } = {}): ScanSourceConfig[] {
    const skipped: ScanSourceConfig[] = []
    for (const config of sources) {
      const source = toSpec(config)
      if (source === undefined) {
        skipped.push(config)
        continue
      }
      const tick = (): void => {
        if (this.#busy.has(sourceKey(source)) || this.#abort.signal.aborted) return
        this.start(source, this.#options.actor ?? 'scanner')
      }
      const first = setTimeout(tick, timing.firstDelayMs ?? 1000)
      first.unref()
      const every = setInterval(tick, (config.intervalSeconds ?? 3600) * 1000 * (timing.intervalScale ?? 1))
      every.unref()
      this.#timers.push(first, every)
    }
    return skipped
  }

  /** Stops the schedule and any running scan (between two files), and waits for them to end. */
  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t)
    this.#abort.abort()
    await Promise.allSettled([...this.#running.values()])
  }

  async #run(id: number, source: ScanSourceSpec, actor: string): Promise<void> {
    const key = sourceKey(source)
    this.#busy.add(key)
    let lastSaved = 0
    try {
      const stateRow = this.#s.state.get(key)
      const since = stateRow === undefined ? undefined : (JSON.parse(stateRow.state) as ScanState)
      const result = await scanSource(source, {
        cacheDir: this.#options.cacheDir,
        signal: this.#abort.signal,
        ...(this.#options.github === undefined ? {} : { github: this.#options.github }),
        ...(since === undefined || source.type === 'dir' || source.history !== true ? {} : { since }),
        onProgress: (p) => {
          // Progress is for people watching: a write a second is plenty.
          if (Date.now() - lastSaved < 1000) return
          lastSaved = Date.now()
          this.#s.progress.run(JSON.stringify(p), id)
        },
      })
      const { created, updated } = this.#toLeaks(result.findings, source, actor)
      this.#store.write(() => {
        this.#s.finish.run({ id, status: 'done', progress: JSON.stringify(result.progress), findings: JSON.stringify(result.findings.slice(0, MAX_RECORDED_FINDINGS)), created, updated, now: new Date().toISOString(), error: null })
        if (source.type !== 'dir' && source.history === true) this.#s.saveState.run(key, JSON.stringify(mergeState(since, result.state)), new Date().toISOString())
      })
    } catch (err) {
      const e = err as Error
      this.#s.finish.run({ id, status: 'failed', progress: '{}', findings: '[]', created: 0, updated: 0, now: new Date().toISOString(), error: e.message.slice(0, 1000) })
      this.#options.onError?.(e, source)
    } finally {
      this.#busy.delete(key)
    }
  }

  #toLeaks(findings: readonly Finding[], source: ScanSourceSpec, actor: string): { created: number; updated: number } {
    let created = 0
    let updated = 0
    for (const group of groupFindings(findings, source)) {
      const r = this.#store.leaks.upsertFromFindings(group, actor)
      if (r.created) created++
      else updated++
    }
    return { created, updated }
  }
}

/** An organisation's repositories are scanned one by one: keep the state of those not seen this time. */
function mergeState(before: ScanState | undefined, now: ScanState): ScanState {
  if (now.repos === undefined) return now
  return { ...now, repos: { ...(before?.repos ?? {}), ...now.repos } }
}

/** A configured source as a scan source; undefined for types the scanner does not handle. */
export function toSpec(config: ScanSourceConfig): ScanSourceSpec | undefined {
  const history = config.history === true
  if (config.type === 'dir' && config.path !== undefined) return { type: 'dir', path: config.path }
  if (config.type === 'git' && config.url !== undefined) return { type: 'git', url: config.url, history }
  if (config.type === 'github' && config.org !== undefined) return { type: 'github', org: config.org, history }
  if (config.type === 'github' && config.user !== undefined) return { type: 'github', user: config.user, history }
  return undefined
}

/**
 * Scan records (`scans`: what `GET /v1/scans/:id` shows) and what a history scan leaves for the
 * next scan of the same source (`scan_state`: the commits of every ref it read).
 */
import type Database from 'better-sqlite3'
import type { Finding, Progress, ScanSourceSpec, ScanState } from '../detect/index.js'
import type { StoredHashes } from './hash-key.js'

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

/** How a scan ended, written once when it does. */
export interface ScanOutcome {
  status: 'done' | 'failed'
  progress: Partial<Progress>
  findings: readonly Finding[]
  leaksCreated: number
  leaksUpdated: number
  finishedAt: string
  error: string | null
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

/** The scans and scan_state tables' operations. */
export class ScanRepo {
  readonly #s

  readonly #hashes: StoredHashes

  constructor(db: Database.Database, hashes: StoredHashes) {
    this.#hashes = hashes
    this.#s = {
      insert: db.prepare<[string, string, string, string, number, number, string, string | null], { id: number }>(
        'INSERT INTO scans (source, status, progress, findings, leaks_created, leaks_updated, started_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id'),
      finish: db.prepare('UPDATE scans SET status = @status, progress = @progress, findings = @findings, leaks_created = @created, leaks_updated = @updated, finished_at = @now, error = @error WHERE id = @id'),
      progress: db.prepare('UPDATE scans SET progress = ? WHERE id = ?'),
      byId: db.prepare<[number], ScanRow>('SELECT * FROM scans WHERE id = ?'),
      state: db.prepare<[string], { state: string }>('SELECT state FROM scan_state WHERE source_key = ?'),
      saveState: db.prepare('INSERT INTO scan_state (source_key, state, updated_at) VALUES (?, ?, ?) ON CONFLICT (source_key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at'),
      abandon: db.prepare("UPDATE scans SET status = 'failed', error = 'the control plane stopped during the scan', finished_at = ? WHERE status = 'running'"),
    }
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

  /** Records a scan that starts now, as `running`; returns its id. */
  start(source: ScanSourceSpec, startedAt: string): number {
    return this.#s.insert.get(JSON.stringify(source), 'running', '{}', '[]', 0, 0, startedAt, null)!.id
  }

  /** Records a scan made elsewhere, already finished; returns its id. */
  recordFinished(source: ScanSourceSpec, outcome: Omit<ScanOutcome, 'status' | 'error'>): number {
    const { progress, findings, leaksCreated, leaksUpdated, finishedAt } = outcome
    return this.#s.insert.get(JSON.stringify(source), 'done', JSON.stringify(progress), JSON.stringify(this.#stored(findings)), leaksCreated, leaksUpdated, finishedAt, finishedAt)!.id
  }

  /** The running counts of a scan under way. */
  setProgress(id: number, progress: Partial<Progress>): void {
    this.#s.progress.run(JSON.stringify(progress), id)
  }

  /** Ends a running scan. */
  finish(id: number, outcome: ScanOutcome): void {
    this.#s.finish.run({
      id, status: outcome.status, progress: JSON.stringify(outcome.progress), findings: JSON.stringify(this.#stored(outcome.findings)),
      created: outcome.leaksCreated, updated: outcome.leaksUpdated, now: outcome.finishedAt, error: outcome.error,
    })
  }

  /**
   * Fails every scan still `running`: called when the control plane starts, since a control plane
   * stopped mid-scan leaves rows that will never finish.
   */
  abandonRunning(now: string): void {
    this.#s.abandon.run(now)
  }

  /** What the last history scan of a source (named by its key) left, or undefined. */
  state(sourceKey: string): ScanState | undefined {
    const row = this.#s.state.get(sourceKey)
    return row === undefined ? undefined : (JSON.parse(row.state) as ScanState)
  }

  /** Replaces what a source's last history scan left. */
  saveState(sourceKey: string, state: ScanState, now: string): void {
    this.#s.saveState.run(sourceKey, JSON.stringify(state), now)
  }

  // A finding carries its token's SHA-256 and a fingerprint made from it: stored keyed when the store is.
  #stored(findings: readonly Finding[]): Finding[] {
    return findings.slice(0, MAX_RECORDED_FINDINGS).map((f) => ({ ...f, sha256: this.#hashes.of(f.sha256), fingerprint: this.#hashes.fingerprint(f.fingerprint) }))
  }
}

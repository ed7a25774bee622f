/**
 * Scan records (`scans`: what `GET /v1/scans/:id` shows) and what a history scan leaves for the
 * next scan of the same source (`scan_state`: the commits of every ref it read).
 */
import type { Finding, Progress, ScanSourceSpec, ScanState } from '../detect/index.js'
import type { StoredHashes } from './hash-key.js'
import type { Sql } from './sql.js'

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

const INSERT_SCAN = 'INSERT INTO scans (source, status, progress, findings, leaks_created, leaks_updated, started_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id'

/** The scans and scan_state tables' operations. */
export class ScanRepo {
  readonly #sql: Sql
  readonly #hashes: StoredHashes

  constructor(sql: Sql, hashes: StoredHashes) {
    this.#sql = sql
    this.#hashes = hashes
  }

  /** One scan, or undefined. */
  async get(id: number): Promise<ScanRecord | undefined> {
    const row = await this.#sql.get<ScanRow>('SELECT * FROM scans WHERE id = ?', [id])
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
  async start(source: ScanSourceSpec, startedAt: string): Promise<number> {
    return this.#inserted(await this.#sql.get<{ id: number }>(INSERT_SCAN, [JSON.stringify(source), 'running', '{}', '[]', 0, 0, startedAt, null]))
  }

  /** Records a scan made elsewhere, already finished; returns its id. */
  async recordFinished(source: ScanSourceSpec, outcome: Omit<ScanOutcome, 'status' | 'error'>): Promise<number> {
    const { progress, findings, leaksCreated, leaksUpdated, finishedAt } = outcome
    return this.#inserted(await this.#sql.get<{ id: number }>(INSERT_SCAN,
      [JSON.stringify(source), 'done', JSON.stringify(progress), JSON.stringify(this.#stored(findings)), leaksCreated, leaksUpdated, finishedAt, finishedAt]))
  }

  /** The running counts of a scan under way. */
  async setProgress(id: number, progress: Partial<Progress>): Promise<void> {
    await this.#sql.run('UPDATE scans SET progress = ? WHERE id = ?', [JSON.stringify(progress), id])
  }

  /** Ends a running scan. */
  async finish(id: number, outcome: ScanOutcome): Promise<void> {
    await this.#sql.run('UPDATE scans SET status = @status, progress = @progress, findings = @findings, leaks_created = @created, leaks_updated = @updated, finished_at = @now, error = @error WHERE id = @id', {
      id, status: outcome.status, progress: JSON.stringify(outcome.progress), findings: JSON.stringify(this.#stored(outcome.findings)),
      created: outcome.leaksCreated, updated: outcome.leaksUpdated, now: outcome.finishedAt, error: outcome.error,
    })
  }

  /**
   * Fails every scan still `running`: called when the control plane starts, since a control plane
   * stopped mid-scan leaves rows that will never finish.
   */
  async abandonRunning(now: string): Promise<void> {
    await this.#sql.run("UPDATE scans SET status = 'failed', error = 'the control plane stopped during the scan', finished_at = ? WHERE status = 'running'", [now])
  }

  /** What the last history scan of a source (named by its key) left, or undefined. */
  async state(sourceKey: string): Promise<ScanState | undefined> {
    const row = await this.#sql.get<{ state: string }>('SELECT state FROM scan_state WHERE source_key = ?', [sourceKey])
    return row === undefined ? undefined : (JSON.parse(row.state) as ScanState)
  }

  /** Replaces what a source's last history scan left. */
  async saveState(sourceKey: string, state: ScanState, now: string): Promise<void> {
    await this.#sql.run('INSERT INTO scan_state (source_key, state, updated_at) VALUES (?, ?, ?) ON CONFLICT (source_key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at',
      [sourceKey, JSON.stringify(state), now])
  }

  #inserted(row: { id: number } | undefined): number {
    if (row === undefined) throw new Error('INSERT ... RETURNING id returned no row')
    return row.id
  }

  // A finding carries its token's SHA-256 and a fingerprint made from it: stored keyed when the store is.
  #stored(findings: readonly Finding[]): Finding[] {
    return findings.slice(0, MAX_RECORDED_FINDINGS).map((f) => ({ ...f, sha256: this.#hashes.of(f.sha256), fingerprint: this.#hashes.fingerprint(f.fingerprint) }))
  }
}

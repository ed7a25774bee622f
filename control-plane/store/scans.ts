/**
 * Scan records (`scans`: what `GET /v1/scans/:id` shows) and what a history scan leaves for the
 * next scan of the same source (`scan_state`: the commits of every ref it read).
 */
import type { Finding, Progress, ScanSourceSpec, ScanState } from '../detect/index.js'
import { checksumDroppedText } from '../detect/findings.js'
import { recordEvent } from './events.js'
import type { StoredHashes } from './hash-key.js'
import type { Sql } from './sql.js'

/** A scan as `GET /v1/scans/:id` shows it (docs/api.md "Scans"). */
export interface ScanRecord {
  id: number
  source: ScanSourceSpec
  /** `queued`: waiting for a scan worker (PostgreSQL only; SQLite runs scans at once). */
  status: 'queued' | 'running' | 'done' | 'failed'
  startedAt: string
  finishedAt: string | null
  progress: Partial<Progress>
  findings: Finding[]
  leaksCreated: number
  leaksUpdated: number
  /** How many times a scan worker took it (0: run by the control plane itself, or not taken yet). */
  attempts: number
  error?: string
  /** What the scan left out, in words (`3 candidates dropped: checksum did not match`); never a token. */
  dropped?: string
}

/** A running scan whose worker stopped heartbeating: its job is to be failed and retried. */
export interface StaleScan {
  id: number
  jobId: string
  attempts: number
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
  attempts: number
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
    const progress = JSON.parse(row.progress) as Partial<Progress>
    const dropped = checksumDroppedText(progress.checksumDropped)
    return {
      id: row.id,
      source: JSON.parse(row.source) as ScanSourceSpec,
      status: row.status,
      startedAt: row.started_at,
      finishedAt: row.finished_at,
      progress,
      findings: JSON.parse(row.findings) as Finding[],
      leaksCreated: row.leaks_created,
      leaksUpdated: row.leaks_updated,
      attempts: row.attempts,
      ...(row.error === null ? {} : { error: row.error }),
      ...(dropped === undefined ? {} : { dropped }),
    }
  }

  /** Records a scan that starts now, as `running`; returns its id. */
  async start(source: ScanSourceSpec, startedAt: string): Promise<number> {
    return this.#inserted(await this.#sql.get<{ id: number }>(INSERT_SCAN, [JSON.stringify(source), 'running', '{}', '[]', 0, 0, startedAt, null]))
  }

  /** Records a scan made elsewhere, already finished; returns its id. */
  async recordFinished(source: ScanSourceSpec, outcome: Omit<ScanOutcome, 'status' | 'error'>): Promise<number> {
    const { progress, findings, leaksCreated, leaksUpdated, finishedAt } = outcome
    return this.#sql.transaction(async () => {
      const id = this.#inserted(await this.#sql.get<{ id: number }>(INSERT_SCAN,
        [JSON.stringify(source), 'done', JSON.stringify(progress), JSON.stringify(this.#stored(findings)), leaksCreated, leaksUpdated, finishedAt, finishedAt]))
      await this.#announceFinished(id)
      return id
    })
  }

  /** The running counts of a scan under way. */
  async setProgress(id: number, progress: Partial<Progress>): Promise<void> {
    await this.#sql.run('UPDATE scans SET progress = ? WHERE id = ?', [JSON.stringify(progress), id])
  }

  /** Ends a running scan. */
  async finish(id: number, outcome: ScanOutcome): Promise<void> {
    await this.#sql.transaction(async () => {
      const { changes } = await this.#sql.run('UPDATE scans SET status = @status, progress = @progress, findings = @findings, leaks_created = @created, leaks_updated = @updated, finished_at = @now, error = @error WHERE id = @id', {
      id, status: outcome.status, progress: JSON.stringify(outcome.progress), findings: JSON.stringify(this.#stored(outcome.findings)),
      created: outcome.leaksCreated, updated: outcome.leaksUpdated, now: outcome.finishedAt, error: outcome.error,
      })
      if (changes > 0) await this.#announceFinished(id)
    })
  }

  /**
   * Fails every scan still `running`: called when the control plane starts, since a control plane
   * stopped mid-scan leaves rows that will never finish.
   */
  async abandonRunning(now: string): Promise<void> {
    await this.#sql.transaction(async () => {
      const failed = await this.#sql.all<{ id: number }>("UPDATE scans SET status = 'failed', error = 'the control plane stopped during the scan', finished_at = ? WHERE status = 'running' RETURNING id", [now])
      for (const { id } of failed) await this.#announceFinished(id)
    })
  }

  /** Records scan.finished for scan `id` as it now stands (inside the transaction that finished it). */
  async #announceFinished(id: number): Promise<void> {
    const scan = await this.get(id)
    if (scan === undefined) return
    await recordEvent(this.#sql, {
      type: 'scan.finished',
      data: {
        scan: {
          id, source: scan.source, status: scan.status, startedAt: scan.startedAt, finishedAt: scan.finishedAt,
          findings: scan.findings.length, leaksCreated: scan.leaksCreated, leaksUpdated: scan.leaksUpdated,
          ...(scan.error === undefined ? {} : { error: scan.error }),
        },
      },
    })
  }

  /**
   * Records a scan waiting for a scan worker, as `queued`; returns its id. `sourceKey` names its source
   * so that a scheduled scan is not queued again while one is waiting or running.
   */
  async enqueue(source: ScanSourceSpec, sourceKey: string, now: string): Promise<number> {
    return this.#inserted(await this.#sql.get<{ id: number }>(
      "INSERT INTO scans (source, source_key, status, progress, findings, leaks_created, leaks_updated, started_at) VALUES (?, ?, 'queued', '{}', '[]', 0, 0, ?) RETURNING id",
      [JSON.stringify(source), sourceKey, now]))
  }

  /** Records the queue's job that runs a queued scan. */
  async setJob(id: number, jobId: string): Promise<void> {
    await this.#sql.run('UPDATE scans SET job_id = ? WHERE id = ?', [jobId, id])
  }

  /** Deletes a queued scan whose job was never made (another replica queued the same scheduled scan). */
  async discardQueued(id: number): Promise<void> {
    await this.#sql.run("DELETE FROM scans WHERE id = ? AND status = 'queued'", [id])
  }

  /** True when a scan of the source is waiting or running. */
  async busy(sourceKey: string): Promise<boolean> {
    return (await this.#sql.get("SELECT 1 AS x FROM scans WHERE source_key = ? AND status IN ('queued', 'running') LIMIT 1", [sourceKey])) !== undefined
  }

  /**
   * A worker takes a scan for its `attempt` (1 for the job's first delivery): `running`, heartbeat now.
   * The attempt number is the lease's fence: a later attempt takes over a scan an earlier one still
   * holds (its worker presumed dead), never the reverse, and a finished scan is never taken again.
   * False when the scan is not the worker's to run.
   */
  async take(id: number, attempt: number, now: string): Promise<boolean> {
    const { changes } = await this.#sql.run(
      "UPDATE scans SET status = 'running', attempts = ?, heartbeat_at = ?, progress = '{}' WHERE id = ? AND status IN ('queued', 'running') AND attempts < ?",
      [attempt, now, id, attempt])
    return changes === 1
  }

  /** The worker of `attempt` is alive; false when the scan is no longer its own (retried elsewhere, or ended). */
  async heartbeat(id: number, attempt: number, now: string): Promise<boolean> {
    const { changes } = await this.#sql.run("UPDATE scans SET heartbeat_at = ? WHERE id = ? AND attempts = ? AND status = 'running'", [now, id, attempt])
    return changes === 1
  }

  /** Ends the scan `attempt` runs; false (and nothing written) when the scan is no longer that attempt's. */
  async finishAttempt(id: number, attempt: number, outcome: ScanOutcome): Promise<boolean> {
    return this.#sql.transaction(async () => {
      const { changes } = await this.#sql.run("UPDATE scans SET status = @status, progress = @progress, findings = @findings, leaks_created = @created, leaks_updated = @updated, finished_at = @now, error = @error, heartbeat_at = NULL WHERE id = @id AND attempts = @attempt AND status = 'running'", {
      id, attempt, status: outcome.status, progress: JSON.stringify(outcome.progress), findings: JSON.stringify(this.#stored(outcome.findings)),
      created: outcome.leaksCreated, updated: outcome.leaksUpdated, now: outcome.finishedAt, error: outcome.error,
      })
      if (changes === 1) await this.#announceFinished(id)
      return changes === 1
    })
  }

  /** Puts the scan `attempt` ran back to `queued`, saying why; false when it was not that attempt's. */
  async requeue(id: number, attempt: number, error: string): Promise<boolean> {
    const { changes } = await this.#sql.run("UPDATE scans SET status = 'queued', error = ?, heartbeat_at = NULL WHERE id = ? AND attempts = ? AND status = 'running'", [error, id, attempt])
    return changes === 1
  }

  /** Running scans of a worker whose last heartbeat is older than `before`. */
  async stale(before: string): Promise<StaleScan[]> {
    const rows = await this.#sql.all<{ id: number; job_id: string; attempts: number }>(
      "SELECT id, job_id, attempts FROM scans WHERE status = 'running' AND job_id IS NOT NULL AND heartbeat_at < ? ORDER BY id LIMIT 100", [before])
    return rows.map((r) => ({ id: r.id, jobId: r.job_id, attempts: r.attempts }))
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

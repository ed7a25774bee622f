/**
 * The scheduled recompute of leaks' risk. Some factors move with time alone (an exposure ages past 7
 * and 30 days), so a leak nobody touches would keep the level it had when last written; this pass
 * scores open leaks again as of a given time, in batches of their own transactions (a million leaks
 * never make one long transaction holding the writer), and records `leak.risk_changed` in the batch
 * that moves a level. A level an operator set (risk_overridden) is theirs and is left alone, and so are
 * closed and false-positive leaks, whose risk no longer ranks anything.
 *
 * Several control planes on one PostgreSQL database run the pass once per interval between them: a run
 * claims a lease row in `meta` (`risk_recomputed_at`, milliseconds since the epoch), and only a claim
 * made once the interval has passed since the last one succeeds (the row's lock orders simultaneous
 * claims, and the later one finds the lease taken).
 */
import { riskRank } from '../risk.js'
import { SELECT_LEAK, type LeakRecords, type LeakRow } from './leak-records.js'
import { recordRiskChange } from './risk-changes.js'
import type { Sql } from './sql.js'

/** What one batch did. */
export interface RecomputeBatch {
  /** The highest leak id looked at (the next batch starts after it). */
  lastId: number
  /** Leaks looked at. */
  scanned: number
  /** Leaks whose score or factors were written again. */
  updated: number
  /** Leaks whose level moved (one `leak.risk_changed` each). */
  changed: number
  /** True when no leak is left after `lastId`. */
  done: boolean
}

const LEASE_KEY = 'risk_recomputed_at'

/** Scores open, unoverridden leaks again, batch by batch. */
export class RiskRecompute {
  readonly #sql: Sql
  readonly #records: LeakRecords
  readonly #write: <T>(fn: () => Promise<T>) => Promise<T>

  constructor(sql: Sql, records: LeakRecords, write: <T>(fn: () => Promise<T>) => Promise<T>) {
    this.#sql = sql
    this.#records = records
    this.#write = write
  }

  /**
   * Claims the run due at `now`: true when no run was claimed (by this process or any other sharing the
   * database) within the `intervalMs` before `now`, and the lease is now this run's.
   */
  async claim(now: Date, intervalMs: number): Promise<boolean> {
    const at = now.getTime()
    return this.#write(async () => {
      await this.#sql.run('INSERT INTO meta (key, value) VALUES (?, 0) ON CONFLICT (key) DO NOTHING', [LEASE_KEY])
      const claimed = await this.#sql.run('UPDATE meta SET value = @at WHERE key = @key AND value <= @due', { key: LEASE_KEY, at, due: at - intervalMs })
      return claimed.changes === 1
    })
  }

  /** When the last run was claimed, or undefined when none was. */
  async lastClaim(): Promise<Date | undefined> {
    const row = await this.#sql.get<{ value: number }>('SELECT value FROM meta WHERE key = ?', [LEASE_KEY])
    return row === undefined || Number(row.value) === 0 ? undefined : new Date(Number(row.value))
  }

  /** Scores again, as of `now`, up to `limit` open, unoverridden leaks after id `afterId`, in one transaction. */
  async batch(afterId: number, now: Date, limit: number): Promise<RecomputeBatch> {
    return this.#write(async () => {
      const rows = await this.#sql.all<LeakRow>(`${SELECT_LEAK}
        WHERE l.status = 'open' AND l.risk_overridden = 0 AND l.id > @afterId ORDER BY l.id LIMIT @limit`, { afterId, limit })
      let updated = 0
      let changed = 0
      for (const row of rows) {
        const computed = await this.#records.assess(row, now)
        const factors = JSON.stringify(computed.factors)
        if (computed.risk === row.risk && computed.score === row.risk_score && factors === row.risk_factors) continue
        await this.#sql.run('UPDATE leaks SET risk = @risk, risk_rank = @riskRank, risk_score = @riskScore, risk_factors = @riskFactors WHERE id = @id', {
          id: row.id, risk: computed.risk, riskRank: riskRank(computed.risk), riskScore: computed.score, riskFactors: factors,
        })
        updated++
        if (await recordRiskChange(this.#sql, row.id, { risk: row.risk, score: row.risk_score }, computed, 'schedule')) changed++
      }
      return { lastId: rows.at(-1)?.id ?? afterId, scanned: rows.length, updated, changed, done: rows.length < limit }
    })
  }
}

/**
 * Counts of leaks for the console's charts and the control plane's metrics, added up from `leak_counts`
 * (kept by triggers in each write's transaction): a scrape or a chart costs the same at a million leaks.
 */
import { RISK_LEVELS, type RiskLevel } from '../config.js'
import type { LeakStatus } from './leak-types.js'
import type { Sql } from './sql.js'

/** `GET /v1/stats` (docs/api.md). */
export interface LeakStats {
  total: number
  byRisk: Record<RiskLevel, number>
  bySource: Record<string, number>
  byStatus: Record<LeakStatus, number>
  byAction: Record<'block' | 'monitor', number>
  riskBySource: Record<string, Record<RiskLevel, number>>
}

/** How many leaks have one status, risk and action, for the `leakgate_cp_leaks` gauge. */
export interface LeakCount {
  status: string
  risk: string
  action: string
  n: number
}

function zeroRisk(): Record<RiskLevel, number> {
  return Object.fromEntries(RISK_LEVELS.map((r) => [r, 0])) as Record<RiskLevel, number>
}

/** Reads counts over the leaks table. */
export class StatsRepo {
  readonly #sql: Sql

  constructor(sql: Sql) {
    this.#sql = sql
  }

  /** Counts leaks with `status` (or every leak for `all`); `byStatus` always counts every leak. */
  async leaks(status: LeakStatus | 'all'): Promise<LeakStats> {
    const sql = this.#sql
    const byStatus: Record<LeakStatus, number> = { open: 0, closed: 0, false_positive: 0 }
    for (const r of await sql.all<{ status: LeakStatus; n: number }>('SELECT status, sum(n) AS n FROM leak_counts GROUP BY status')) {
      byStatus[r.status] = r.n
    }
    const filter = status === 'all' ? '' : 'WHERE status = ?'
    const args = status === 'all' ? [] : [status]
    const rows = await sql.all<{ source: string; risk: RiskLevel; action: 'block' | 'monitor'; n: number }>(
      `SELECT source, risk, action, sum(n) AS n FROM leak_counts ${filter} GROUP BY source, risk, action`, args)
    const stats: LeakStats = { total: 0, byRisk: zeroRisk(), bySource: {}, byStatus, byAction: { block: 0, monitor: 0 }, riskBySource: {} }
    for (const r of rows) {
      stats.total += r.n
      stats.byRisk[r.risk] += r.n
      stats.bySource[r.source] = (stats.bySource[r.source] ?? 0) + r.n
      stats.byAction[r.action] += r.n
      const bySource = stats.riskBySource[r.source] ?? zeroRisk()
      bySource[r.risk] += r.n
      stats.riskBySource[r.source] = bySource
    }
    return stats
  }

  /** Leak counts by status, risk and action. */
  async leakCounts(): Promise<LeakCount[]> {
    return this.#sql.all<LeakCount>('SELECT status, risk, action, sum(n) AS n FROM leak_counts GROUP BY status, risk, action')
  }

  /** Leaks by rotation state (`requested`, `rotated`), those with none left out. */
  async rotationCounts(): Promise<Array<{ rotation: string; n: number }>> {
    return this.#sql.all<{ rotation: string; n: number }>("SELECT rotation, sum(n) AS n FROM leak_counts WHERE rotation <> '' GROUP BY rotation")
  }
}

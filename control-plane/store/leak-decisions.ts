/**
 * An operator's decision on a leak (`PATCH /v1/leaks/:id`): a new action, status and/or risk, its
 * audit entry, and the index entries of the leak's tokens brought in line, all in the caller's
 * transaction.
 */
import { NotFoundError } from '../../lib/errors.js'
import { riskRank, withOverride, type RiskAssessment, type RiskFactor } from '../risk.js'
import type { AuditLog } from './audit.js'
import { recordLeakEvent } from './leak-events.js'
import type { LeakRecords } from './leak-records.js'
import type { DecisionInput, DecisionState } from './leak-types.js'
import { recordRiskChange } from './risk-changes.js'
import type { Sql } from './sql.js'

/** Applies decisions to leaks. */
export class LeakDecisions {
  readonly #sql: Sql
  readonly #records: LeakRecords
  readonly #audit: AuditLog

  constructor(sql: Sql, records: LeakRecords, audit: AuditLog) {
    this.#sql = sql
    this.#records = records
    this.#audit = audit
  }

  /**
   * Moves leak `id` to what `input` asks (what it leaves out stays), audited as `actor`'s. An operator's
   * risk is kept as an override beside the computed factors. Call inside a write transaction.
   * @throws {NotFoundError} when there is no such leak.
   */
  async apply(id: number, input: DecisionInput, actor: string): Promise<void> {
    const row = await this.#records.byId(id)
    if (row === undefined) throw new NotFoundError(`there is no leak ${id}`)
    const now = new Date().toISOString()
    const from: DecisionState = { action: row.action, status: row.status, risk: row.risk }
    let assessed: RiskAssessment = { risk: row.risk, score: 0, factors: JSON.parse(row.risk_factors) as RiskFactor[] }
    let overridden = row.risk_overridden === 1
    let riskScore = row.risk_score
    if (input.risk !== undefined) {
      const computed = await this.#records.assess(row)
      assessed = withOverride(computed, input.risk, actor)
      overridden = true
      riskScore = computed.score
    }
    const to: DecisionState = { action: input.action ?? row.action, status: input.status ?? row.status, risk: assessed.risk }
    await this.#sql.run(`
      UPDATE leaks SET action = @action, status = @status, risk = @risk, risk_rank = @riskRank,
        risk_score = @riskScore, risk_factors = @riskFactors, risk_overridden = @riskOverridden, updated_at = @now
      WHERE id = @id`, {
      id, action: to.action, status: to.status, risk: to.risk, riskRank: riskRank(to.risk), riskScore,
      riskFactors: JSON.stringify(assessed.factors), riskOverridden: overridden ? 1 : 0, now,
    })
    await this.#audit.append(id, actor, now, from, to, input.comment)
    await recordRiskChange(this.#sql, id, { risk: row.risk, score: row.risk_score }, { risk: to.risk, score: riskScore, factors: assessed.factors }, 'decision', actor)
    await this.#records.refreshIndex(id, now)
    // A decision that changes only the risk is announced as leak.risk_changed by whoever records that.
    if (to.action !== from.action || to.status !== from.status) await recordLeakEvent(this.#sql, 'leak.decided', id, { actor, from, to })
  }
}

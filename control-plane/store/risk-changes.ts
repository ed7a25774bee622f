/**
 * `leak.risk_changed`: recorded whenever a leak's level moves, whatever moved it (a sighting, a rescan,
 * an operator's override, the scheduled recompute of the factors that age), in the transaction of the
 * update itself. A change of score within the same level is not an event: subscribers act on levels.
 */
import type { RiskLevel } from '../config.js'
import type { RiskFactor } from '../risk.js'
import { recordLeakEvent } from './leak-events.js'
import type { Sql } from './sql.js'

/** What moved a leak's risk. */
export type RiskChangeCause = 'sighting' | 'scan' | 'decision' | 'schedule'

/** A level and score, before or after. */
export interface RiskPoint {
  risk: RiskLevel
  score: number
}

/**
 * Records `leak.risk_changed` for leak `leakId` when `from` and `to` differ in level (nothing otherwise).
 * Call inside the write transaction of the update. `by`: the operator, for an override.
 */
export async function recordRiskChange(sql: Sql, leakId: number, from: RiskPoint, to: RiskPoint & { factors: readonly RiskFactor[] }, cause: RiskChangeCause, by?: string): Promise<boolean> {
  if (from.risk === to.risk) return false
  // After the leak's update: the event carries the leak at its new level.
  await recordLeakEvent(sql, 'leak.risk_changed', leakId, {
    from: { risk: from.risk, score: from.score },
    to: { risk: to.risk, score: to.score },
    factors: to.factors,
    cause,
    ...(by === undefined ? {} : { by }),
  })
  return true
}

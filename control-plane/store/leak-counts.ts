/**
 * Leak counts read from `leak_counts` (kept by triggers on `leaks`, migrations-leak-list.ts) rather than
 * by counting leaks: a few hundred rows to add up whatever the store's size. What the list's total, the
 * stats and the metrics read.
 */
import type { LeakQuery } from './leak-types.js'
import type { Sql, SqlValue } from './sql.js'

/** The list's filters that `leak_counts` can count (all but `q`). */
export type CountFilter = Pick<LeakQuery, 'status' | 'risk' | 'source' | 'action' | 'kind' | 'rotation'>

/** The columns of `leak_counts` the filters compare; a null kind or rotation is '' there, a filter is never ''. */
const COUNT_FILTERS = ['status', 'risk', 'source', 'action', 'kind', 'rotation'] as const

/** What `countMatching` answers. */
export interface FilterCounts {
  /** Every leak in the store. */
  store: number
  /** The leaks matching every filter given. */
  matching: number
  /** For each filter given, the leaks matching it alone. */
  each: Partial<Record<keyof CountFilter, number>>
}

/** Counts the leaks matching `filter` (and each of its filters alone), in one pass over `leak_counts`. */
export async function countMatching(sql: Sql, filter: CountFilter): Promise<FilterCounts> {
  const given = COUNT_FILTERS.filter((c) => filter[c] !== undefined)
  const params: Record<string, SqlValue> = {}
  for (const c of given) params[c] = filter[c] ?? null
  const all = given.length === 0 ? 'n' : `CASE WHEN ${given.map((c) => `${c} = @${c}`).join(' AND ')} THEN n ELSE 0 END`
  const each = given.map((c) => `, coalesce(sum(CASE WHEN ${c} = @${c} THEN n ELSE 0 END), 0) AS ${c}`).join('')
  const row = await sql.get<Record<string, number>>(`
    SELECT coalesce(sum(n), 0) AS store, coalesce(sum(${all}), 0) AS matching${each} FROM leak_counts`, params)
  const counts: FilterCounts = { store: row?.store ?? 0, matching: row?.matching ?? 0, each: {} }
  for (const c of given) counts.each[c] = row?.[c] ?? 0
  return counts
}

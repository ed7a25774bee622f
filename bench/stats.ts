/**
 * Summaries of a benchmark's samples, shared so that every bench reports the same "p99" and "median".
 * Two conventions stand side by side on purpose: the benches' figures in RESULTS.md were taken with
 * them, and moving a bench from one to the other would shift its quantiles by one sample.
 */

/**
 * The sample at index ⌊q·n⌋ of `sorted` (ascending), the last one at most; NaN when there is none.
 * At q = 0.5 with an even count this is the upper of the two middle samples.
 */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
}

/**
 * The nearest-rank quantile of `sorted` (ascending): the smallest sample with at least a fraction `q`
 * of the samples at or below it (index ⌈q·n⌉ − 1); NaN when there is none.
 */
export function nearestRank(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN
}

/** The upper median of `xs` in any order (`quantile` at 0.5: with an even count, the upper middle sample); NaN when empty. */
export function upperMedian(xs: readonly number[]): number {
  return quantile([...xs].sort((a, b) => a - b), 0.5)
}

/** The median of `xs` in any order: the middle sample, or the mean of the two middle ones; NaN when empty. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  if (s.length % 2 === 1) return s[mid] ?? Number.NaN
  return ((s[mid - 1] ?? Number.NaN) + (s[mid] ?? Number.NaN)) / 2
}

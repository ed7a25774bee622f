/** Running a public source in tests until it has nothing more to read now. */
import type { BatchOutcome, PublicSourceRunner } from '../runner.js'
import type { PublicSource } from '../source.js'

/** Runs batches of `source` until one says it has nothing more now (at most 20); answers each batch's outcome. */
export async function drain(runner: PublicSourceRunner, source: PublicSource): Promise<BatchOutcome[]> {
  const out: BatchOutcome[] = []
  for (let i = 0; i < 20; i++) {
    const r = await runner.runBatch(source)
    out.push(r)
    if (!r.more) return out
  }
  throw new Error('the source never ran dry')
}

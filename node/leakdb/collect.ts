/**
 * Giving a large load's memory back when it is done, instead of at V8's convenience.
 *
 * A snapshot from the control plane arrives as 64 KiB socket reads. V8 frees a read's memory only when
 * it collects the small Buffer object that holds it, and a few hundred such objects never fill the young
 * generation, so some 30 MiB of dead reads pile up during a 10M-entry download. glibc serves them from
 * its main heap, which it returns to the system only from its top: one live block above them keeps them
 * all resident (3 B a leaked hash at 10M, measured: bench/RESULTS.md "node memory"). A young-generation
 * collection every few MiB of body frees each batch of reads while it is still small, and the next reads
 * reuse the same memory.
 *
 * Likewise, an index replaced by a newer one is garbage of 15 B a hash held outside V8's heap, which V8
 * may leave for a long time on an idle node; one full collection after the swap returns it.
 *
 * V8 offers these collections to scripts only under `--expose-gc`; the flag is set for the moment it
 * takes to fetch the function from a fresh context, then cleared again, so nothing else (workers,
 * other contexts) sees a `gc` global. Where that fails, nothing is collected early: only memory is lost.
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

type Collect = (options: { type: 'major' | 'minor'; execution?: 'sync' | 'async' }) => unknown

// A minor collection with a young generation this small takes well under a millisecond.
const MINOR_EVERY_BYTES = 4 << 20

let collect: Collect | undefined | null = null

function collector(): Collect | undefined {
  if (collect === null) {
    try {
      setFlagsFromString('--expose-gc')
      collect = runInNewContext('gc') as Collect
    } catch {
      collect = undefined
    } finally {
      setFlagsFromString('--no-expose-gc')
    }
  }
  return collect
}

/** Passes `chunks` through, collecting the young generation every few MiB so the spent ones are freed. */
export async function* freeingAsRead(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const gc = collector()
  let since = 0
  for await (const chunk of chunks) {
    yield chunk
    since += chunk.length
    if (since >= MINOR_EVERY_BYTES && gc !== undefined) {
      since = 0
      gc({ type: 'minor' })
    }
  }
}

/**
 * Schedules one full collection, for when a large structure (a replaced index) has just become garbage;
 * settles once it is done (at once where collections cannot be asked for), so a reload can wait for the
 * old index's memory to be given back before it takes the new one's.
 */
export async function collectReplaced(): Promise<void> {
  const gc = collector()
  if (gc !== undefined) await gc({ type: 'major', execution: 'async' })
}

/**
 * Encoding a snapshot from index entries read synchronously (SQLite's reader, all in one go) or in
 * batches that are awaited (the store's `IndexLog.entries`).
 */
import { encodeParts, SnapshotBuilder, type SnapshotEntry } from '../protocol/snapshot.js'

/** The snapshot of `entries` at `revision`. */
export async function encodeSnapshotOf(entries: Iterable<SnapshotEntry> | AsyncIterable<SnapshotEntry>, revision: number): Promise<Buffer> {
  const builder = new SnapshotBuilder()
  if (Symbol.asyncIterator in entries) {
    for await (const entry of entries) builder.add(entry)
  } else {
    // Not through `for await`: a promise per entry would cost a million microtasks.
    for (const entry of entries) builder.add(entry)
  }
  return encodeParts(builder.build(revision))
}

/**
 * A worker thread that builds snapshots of a large index, so the control plane's event loop keeps
 * answering the API and the long-polls while a million entries are read and encoded.
 *
 * It reads the index through a read-only connection of its own (`openIndexReader`), at one
 * consistent revision while the main thread goes on writing.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { encodeParts, SnapshotBuilder } from '../protocol/snapshot.js'
import type { IndexEntry } from './store/index-log.js'
import { openIndexReader, type StoreLocation } from './store/index-reader.js'

/** A build request. */
export interface BuildRequest {
  id: number
}

/** A build answer: the snapshot, or what went wrong. */
export type BuildAnswer = { id: number; revision: number; body: Uint8Array } | { id: number; error: string }

const port = parentPort
if (port !== null) {
  const reader = openIndexReader((workerData as { storeLocation: StoreLocation }).storeLocation)
  port.on('message', (msg: BuildRequest) => void build(msg))
  const build = async (msg: BuildRequest): Promise<void> => {
    try {
      const { revision, body } = await reader.read(async (revision, entries) => ({ revision, body: await encode(entries, revision) }))
      // Transfer the bytes instead of copying it (about 13 MB a million entries), when the buffer owns its whole ArrayBuffer.
      const own = body.byteOffset === 0 && body.buffer.byteLength === body.byteLength
      port.postMessage({ id: msg.id, revision, body } satisfies BuildAnswer, own ? [body.buffer as ArrayBuffer] : [])
    } catch (err) {
      port.postMessage({ id: msg.id, error: (err as Error).message } satisfies BuildAnswer)
    }
  }
}

/** The snapshot of `entries`, whether the reader yields them at once (SQLite) or in batches it awaits. */
async function encode(entries: Iterable<IndexEntry> | AsyncIterable<IndexEntry>, revision: number): Promise<Uint8Array> {
  const builder = new SnapshotBuilder()
  if (Symbol.asyncIterator in entries) {
    for await (const entry of entries) builder.add(entry)
  } else {
    // Not through `for await`: a promise per entry would cost a million microtasks.
    for (const entry of entries) builder.add(entry)
  }
  return encodeParts(builder.build(revision))
}

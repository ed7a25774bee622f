/**
 * A worker thread that builds snapshots of a large index, so the control plane's event loop keeps
 * answering the API and the long-polls while a million entries are read and encoded.
 *
 * It opens the store read-only and reads the revision and the entries inside one read transaction:
 * WAL gives it a consistent view at that revision while the main thread goes on writing.
 */
import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'
import type { LeakAction } from '../protocol/leak.js'
import { encodeSnapshot, type SnapshotEntry } from '../protocol/snapshot.js'

/** A build request. */
export interface BuildRequest {
  id: number
}

/** A build answer: the snapshot, or what went wrong. */
export type BuildAnswer = { id: number; revision: number; body: Uint8Array } | { id: number; error: string }

const port = parentPort
if (port !== null) {
  const db = new Database((workerData as { dbPath: string }).dbPath, { readonly: true, fileMustExist: true })
  db.pragma('busy_timeout = 5000')
  const revisionStmt = db.prepare('SELECT value FROM meta WHERE key = ?').pluck()
  const entriesStmt = db.prepare('SELECT sha256, action, leak_id FROM index_entries').raw()
  const build = db.transaction(() => {
    const revision = revisionStmt.get('revision') as number
    function* entries(): Generator<SnapshotEntry> {
      for (const row of entriesStmt.iterate() as IterableIterator<[string, LeakAction, number]>) {
        yield { sha256: row[0], action: row[1], leakId: row[2] }
      }
    }
    return { revision, body: encodeSnapshot(entries(), revision) }
  })
  port.on('message', (msg: BuildRequest) => {
    try {
      const { revision, body } = build()
      // Transfer the bytes instead of copying 36 MB, when the buffer owns its whole ArrayBuffer.
      const own = body.byteOffset === 0 && body.buffer.byteLength === body.byteLength
      port.postMessage({ id: msg.id, revision, body } satisfies BuildAnswer, own ? [body.buffer as ArrayBuffer] : [])
    } catch (err) {
      port.postMessage({ id: msg.id, error: (err as Error).message } satisfies BuildAnswer)
    }
  })
}

/**
 * Loads a snapshot into index arrays on a worker thread (LeakIndex.fromSnapshotInWorker).
 * The snapshot's bytes are copied to the worker once; the built arrays are transferred back.
 */
import { type Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import { isLeakgateError, reviveError } from '../../lib/errors.js'
import { startWorker } from '../../lib/worker.js'
import { readSnapshotHeader } from '../../protocol/snapshot.js'
import { buildParts, type IndexParts } from './index.js'

interface Request {
  buf: Uint8Array
  falsePositiveRate: number
}

type Reply = { ok: true; parts: IndexParts } | { ok: false; code?: string; message: string }

/** Builds the parts of an index from a snapshot on a new worker thread. */
export function loadInWorker(buf: Uint8Array, falsePositiveRate: number): Promise<IndexParts> {
  return new Promise((resolve, reject) => {
    const worker = spawnSelf({ buf, falsePositiveRate })
    worker.once('message', (reply: Reply) => {
      if (reply.ok) resolve(reply.parts)
      else reject((reply.code === undefined ? undefined : reviveError(reply.code, reply.message)) ?? new Error(reply.message))
      void worker.terminate()
    })
    worker.once('error', reject)
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`snapshot loader thread exited with code ${code}`))
    })
  })
}

// The worker runs this same module (its .ts source, or the built .js: lib/worker.ts handles both).
function spawnSelf(data: Request): Worker {
  return startWorker(import.meta.url, { workerData: data })
}

if (!isMainThread && parentPort !== null && (workerData as Partial<Request> | undefined)?.buf !== undefined) {
  const { buf, falsePositiveRate } = workerData as Request
  try {
    const header = readSnapshotHeader(buf)
    const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
    const parts = buildParts(b, header.count, header.revision, falsePositiveRate)
    const transfer = [parts.offsets.buffer, parts.hi.buffer, parts.lo.buffer, parts.values.buffer, parts.bloomWords.buffer] as ArrayBuffer[]
    parentPort.postMessage({ ok: true, parts } satisfies Reply, transfer)
  } catch (err) {
    parentPort.postMessage({ ok: false, message: (err as Error).message ?? String(err), ...(isLeakgateError(err) ? { code: err.code } : {}) } satisfies Reply)
  }
}

/** Atomic file replacement, for the node's index cache and `leakgate index build`. */
import { open, rename, unlink } from 'node:fs/promises'
import { dirname, basename, join } from 'node:path'

/**
 * Writes a file so that readers see the old content or the new, never a part:
 * a temporary file beside it, fsync, rename over, fsync the folder. `data` may come in pieces (a
 * snapshot written from an index's arrays), written one after another without being joined.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string | Iterable<Uint8Array>): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`)
  const file = await open(tmp, 'w', 0o600)
  try {
    if (typeof data === 'string' || data instanceof Uint8Array) {
      await file.writeFile(data)
    } else {
      for (const piece of data) {
        for (let at = 0; at < piece.length;) at += (await file.write(piece, at, piece.length - at)).bytesWritten
      }
    }
    await file.sync()
  } catch (err) {
    await file.close()
    await unlink(tmp).catch(() => {})
    throw err
  }
  await file.close()
  try {
    await rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(() => {})
    throw err
  }
  await syncFolder(dirname(path))
}

/** Syncs a folder, so that a rename in it survives a crash. */
export async function syncFolder(path: string): Promise<void> {
  const dir = await open(path, 'r')
  try {
    await dir.sync()
  } finally {
    await dir.close()
  }
}

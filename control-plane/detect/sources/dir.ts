/**
 * A directory tree: every regular file under it, without following symbolic links, skipping
 * `.git`, binary files and files over the size limit. FIFOs, devices and sockets are never opened
 * for reading, and the size limit holds on the bytes read.
 */
import { constants } from 'node:fs'
import { lstat, open, opendir, type FileHandle } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import { SourceError } from '../../../lib/errors.js'
import { isBinary, type Progress, type ScanItem, type SourceLimits } from './source.js'

const READ_AHEAD = 16

/** Yields the text files under `root`. */
export async function* dirSource(root: string, limits: SourceLimits, progress: Progress): AsyncGenerator<ScanItem> {
  let stat
  try {
    stat = await lstat(root)
  } catch (cause) {
    throw new SourceError(`${root}: ${(cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (cause as Error).message}`, { cause })
  }
  if (stat.isFile()) {
    const item = await readItem(root, root.split(sep).pop() ?? root, limits, progress)
    if (item !== undefined) yield item
    return
  }
  if (!stat.isDirectory()) throw new SourceError(`${root}: not a file or directory`)
  const stack = [root]
  while (stack.length > 0) {
    const dir = stack.pop()!
    let handle
    try {
      handle = await opendir(dir)
    } catch {
      progress.skipped++
      continue
    }
    const names: Array<{ name: string; isDir: boolean; isFile: boolean }> = []
    for await (const entry of handle) names.push({ name: entry.name, isDir: entry.isDirectory(), isFile: entry.isFile() })
    names.sort((a, b) => (a.name < b.name ? -1 : 1))
    const subdirs: string[] = []
    const files: string[] = []
    for (const entry of names) {
      const path = join(dir, entry.name)
      if (entry.isDir) {
        if (entry.name !== '.git') subdirs.push(path)
      } else if (entry.isFile) {
        files.push(path)
      }
    }
    // Reads overlap (a window of READ_AHEAD files) while results keep directory order: one
    // read at a time left the scan waiting on the file system for most of its time.
    const pending: Array<Promise<ScanItem | undefined>> = []
    let next = 0
    const fill = (): void => {
      while (pending.length < READ_AHEAD && next < files.length) {
        const path = files[next++]!
        pending.push(readItem(path, relative(root, path).split(sep).join('/'), limits, progress))
      }
    }
    fill()
    while (pending.length > 0) {
      const item = await pending.shift()!
      fill()
      if (item !== undefined) yield item
    }
    // Reverse so that the stack visits directories in name order.
    stack.push(...subdirs.reverse())
  }
}

/**
 * Reads one file, if it is a regular file (checked on the opened descriptor, so a file swapped for a
 * FIFO or a device between listing and opening is not read) and not larger than the limit, counted
 * on the bytes read: /proc files say 0 in stat and yield megabytes. O_NOFOLLOW refuses a symbolic
 * link put in its place; O_NONBLOCK keeps a FIFO from blocking the open.
 */
async function readItem(path: string, file: string, limits: SourceLimits, progress: Progress): Promise<ScanItem | undefined> {
  let handle
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch {
    progress.skipped++
    return undefined
  }
  try {
    const s = await handle.stat()
    if (!s.isFile() || s.size > limits.maxFileSize) {
      progress.skipped++
      return undefined
    }
    const bytes = await readAtMost(handle, limits.maxFileSize, s.size)
    if (bytes === undefined || isBinary(bytes)) {
      progress.skipped++
      return undefined
    }
    progress.files++
    progress.bytes += bytes.length
    return { text: bytes.toString('utf8'), origin: { source: 'dir', file } }
  } catch {
    progress.skipped++
    return undefined
  } finally {
    await handle.close().catch(() => undefined)
  }
}

const CHUNK = 64 * 1024

/**
 * The file's bytes, or undefined once more than `max` have been read (the rest is never asked for).
 * `sizeHint` (what stat says) sizes the first read, so a regular file is one read and no copy; the
 * limit is still counted on what is read, since /proc files say 0 and a file may grow.
 */
async function readAtMost(handle: FileHandle, max: number, sizeHint = 0): Promise<Buffer | undefined> {
  const chunks: Buffer[] = []
  let total = 0
  let next = Math.min(Math.max(sizeHint + 1, CHUNK), max + 1)
  for (;;) {
    const buf = Buffer.allocUnsafe(Math.min(next, max + 1 - total))
    const { bytesRead } = await handle.read(buf, 0, buf.length, null)
    if (bytesRead === 0) break
    total += bytesRead
    if (total > max) return undefined
    chunks.push(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead))
    next = CHUNK
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total)
}

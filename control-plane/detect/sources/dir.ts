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

/** A regular file found under the root: where it is, its name as findings give it, and its size when listed. */
export interface DirFile {
  path: string
  file: string
  /** What lstat said when listed (0 when it could not say): for sharing work out, never a limit. */
  size: number
}

/** Yields the text files under `root`. */
export async function* dirSource(root: string, limits: SourceLimits, progress: Progress): AsyncGenerator<ScanItem> {
  // Reads overlap (a window of READ_AHEAD files) while results keep the listing's order: one
  // read at a time left the scan waiting on the file system for most of its time.
  const pending: Array<Promise<DirText | undefined>> = []
  const take = async (): Promise<ScanItem | undefined> => {
    const read = await pending.shift()!
    if (read === undefined) {
      progress.skipped++
      return undefined
    }
    progress.files++
    progress.bytes += read.bytes
    return read.item
  }
  for await (const f of dirFiles(root, progress)) {
    pending.push(readDirFile(f, limits))
    if (pending.length < READ_AHEAD) continue
    const item = await take()
    if (item !== undefined) yield item
  }
  while (pending.length > 0) {
    const item = await take()
    if (item !== undefined) yield item
  }
}

/**
 * The regular files under `root` (or `root` itself when it is a file), in the order a scan reports
 * them: a directory's files by name, then its subdirectories by name; `.git` and symbolic links are
 * left out. `sizes`: lstat each file for DirFile.size (else 0). Unreadable directories count as skipped.
 */
export async function* dirFiles(root: string, progress: Progress, sizes = false): AsyncGenerator<DirFile> {
  let stat
  try {
    stat = await lstat(root)
  } catch (cause) {
    throw new SourceError(`${root}: ${(cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (cause as Error).message}`, { cause })
  }
  if (stat.isFile()) {
    yield { path: root, file: root.split(sep).pop() ?? root, size: stat.size }
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
    const found = sizes ? await Promise.all(files.map((path) => lstat(path).then((s) => s.size, () => 0))) : undefined
    for (const [i, path] of files.entries()) yield { path, file: relative(root, path).split(sep).join('/'), size: found?.[i] ?? 0 }
    // Reverse so that the stack visits directories in name order.
    stack.push(...subdirs.reverse())
  }
}

/** A file read as text, and how many bytes it was. */
export interface DirText {
  item: ScanItem
  bytes: number
}

/**
 * Reads one listed file, if it is a regular file (checked on the opened descriptor, so a file swapped
 * for a FIFO or a device between listing and opening is not read), not binary and not larger than the
 * limit, counted on the bytes read: /proc files say 0 in stat and yield megabytes. O_NOFOLLOW refuses
 * a symbolic link put in its place; O_NONBLOCK keeps a FIFO from blocking the open. Undefined: skipped.
 */
export async function readDirFile(f: DirFile, limits: SourceLimits): Promise<DirText | undefined> {
  let handle
  try {
    handle = await open(f.path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch {
    return undefined
  }
  try {
    const s = await handle.stat()
    if (!s.isFile() || s.size > limits.maxFileSize) return undefined
    const bytes = await readAtMost(handle, limits.maxFileSize, s.size)
    if (bytes === undefined || isBinary(bytes)) return undefined
    return { item: { text: bytes.toString('utf8'), origin: { source: 'dir', file: f.file } }, bytes: bytes.length }
  } catch {
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

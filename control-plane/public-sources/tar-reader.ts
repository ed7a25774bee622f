/**
 * A minimal reader of tar archives (ustar, with the pax and GNU long-name records npm's and Python's
 * tools write), enough to read the regular files of a package's tarball. Nothing is written to disk:
 * the archive is read from memory, and an archive that ends before its records say it does is refused
 * whole, so a cut-off download is never taken for a smaller package.
 */
import { gunzipSync } from 'node:zlib'

/** A regular file of an archive. */
export interface TarFile {
  /** Its path in the archive, as written (`package/index.js`). */
  path: string
  /** Its bytes, or undefined when it is larger than the reader's cap (its size is still given). */
  data: Buffer | undefined
  size: number
}

/** Thrown when an archive cannot be read: cut off, a header whose checksum fails, a size that is not a number. */
export class TarError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'TarError'
  }
}

const BLOCK = 512

/**
 * The regular files of a gzip'd tar archive. `maxBytes` caps the decompressed archive (a RangeError
 * from zlib is turned into a TarError), `maxFileBytes` each file kept.
 */
export function gzipTarFiles(gz: Buffer, options: { maxBytes?: number; maxFileBytes?: number } = {}): TarFile[] {
  let tar: Buffer
  try {
    tar = gunzipSync(gz, { maxOutputLength: options.maxBytes ?? 256 * 1024 * 1024 })
  } catch (err) {
    throw new TarError(`the archive does not decompress: ${(err as Error).message}`)
  }
  return tarFiles(tar, options.maxFileBytes)
}

/** The regular files of a tar archive. */
export function tarFiles(tar: Buffer, maxFileBytes = 1024 * 1024): TarFile[] {
  const files: TarFile[] = []
  let offset = 0
  let longName: string | undefined
  let paxPath: string | undefined
  for (;;) {
    if (offset === tar.length) {
      // Two zero blocks end an archive; some writers stop at a block boundary without them.
      return files
    }
    if (offset + BLOCK > tar.length) throw new TarError(`the archive is cut off inside a header (at byte ${offset})`)
    const header = tar.subarray(offset, offset + BLOCK)
    if (header.every((b) => b === 0)) return files
    if (checksumOf(header) !== octal(header, 148, 8)) throw new TarError(`a header's checksum fails (at byte ${offset}): not a tar archive, or damaged`)
    const size = octal(header, 124, 12)
    if (size === undefined) throw new TarError(`a header's size is not a number (at byte ${offset})`)
    const type = String.fromCharCode(header[156]!)
    const start = offset + BLOCK
    const end = start + size
    if (end > tar.length) throw new TarError(`the archive is cut off inside ${JSON.stringify(field(header, 0, 100))}`)
    const data = tar.subarray(start, end)
    offset = start + Math.ceil(size / BLOCK) * BLOCK
    if (type === 'L') {
      longName = data.toString('utf8').replace(/\0+$/, '')
      continue
    }
    if (type === 'x') {
      paxPath = paxPathOf(data) ?? paxPath
      continue
    }
    const prefix = field(header, 345, 155)
    const name = field(header, 0, 100)
    const path = paxPath ?? longName ?? (prefix === '' ? name : `${prefix}/${name}`)
    longName = undefined
    paxPath = undefined
    // Regular files only: directories, links, devices and global pax records are not content.
    if (type !== '0' && type !== '\0' && type !== '7') continue
    files.push({ path, size, data: size > maxFileBytes ? undefined : Buffer.from(data) })
  }
}

/** The `path` of a pax extended header's records (`{len} path={value}\n`). */
function paxPathOf(data: Buffer): string | undefined {
  let path: string | undefined
  let at = 0
  while (at < data.length) {
    const space = data.indexOf(0x20, at)
    const len = Number(data.subarray(at, space).toString('ascii'))
    if (space < 0 || !Number.isInteger(len) || len <= 0 || at + len > data.length) break
    const record = data.subarray(space + 1, at + len - 1).toString('utf8')
    if (record.startsWith('path=')) path = record.slice(5)
    at += len
  }
  return path
}

/** A NUL-ended text field. */
function field(header: Buffer, at: number, length: number): string {
  const raw = header.subarray(at, at + length)
  const nul = raw.indexOf(0)
  return raw.subarray(0, nul < 0 ? length : nul).toString('utf8')
}

/** An octal number field (spaces and NULs around it); undefined when it is not one. */
function octal(header: Buffer, at: number, length: number): number | undefined {
  const text = field(header, at, length).trim()
  return /^[0-7]{1,12}$/.test(text) ? parseInt(text, 8) : undefined
}

/** The header's checksum: the sum of its bytes, the checksum field counted as spaces. */
function checksumOf(header: Buffer): number {
  let sum = 0
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!
  return sum
}

/**
 * A tar archive of `files` (ustar; paths over 100 bytes through a pax record), gzip'd when asked: the
 * shape npm's tarballs have. Used by tests to make packages.
 */
export function makeTar(files: ReadonlyArray<{ path: string; data: Buffer | string }>): Buffer {
  const blocks: Buffer[] = []
  const entry = (name: string, type: string, data: Buffer): void => {
    const header = Buffer.alloc(BLOCK)
    header.write(name.slice(0, 100), 0, 'utf8')
    header.write('0000644\0', 100, 'ascii')
    header.write('0000000\0', 108, 'ascii')
    header.write('0000000\0', 116, 'ascii')
    header.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124, 'ascii')
    header.write(`${Math.floor(Date.now() / 1000).toString(8).padStart(11, '0')}\0`, 136, 'ascii')
    header.write(type, 156, 'ascii')
    header.write('ustar\u000000', 257, 'ascii')
    header.write(`${checksumOf(header).toString(8).padStart(6, '0')}\0 `, 148, 'ascii')
    blocks.push(header, data, Buffer.alloc((BLOCK - (data.length % BLOCK)) % BLOCK))
  }
  for (const f of files) {
    const data = typeof f.data === 'string' ? Buffer.from(f.data) : f.data
    if (Buffer.byteLength(f.path) > 100) {
      const body = ` path=${f.path}\n`
      let len = Buffer.byteLength(body)
      len += String(len + String(len).length).length
      entry('PaxHeader', 'x', Buffer.from(`${len}${body}`))
    }
    entry(f.path, '0', data)
  }
  blocks.push(Buffer.alloc(BLOCK * 2))
  return Buffer.concat(blocks)
}

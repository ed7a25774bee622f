/**
 * The regular files of a zip archive (a Python wheel), read from memory with fflate, bounded before
 * anything is inflated: each entry's uncompressed size is read from the central directory first, and
 * an archive whose entries (all of them, scanned or not) add up to more than `maxBytes`, or that holds more than `maxFiles` entries,
 * is refused whole (a zip bomb declares its size or lies about it: declared, it is refused here; lied
 * about, fflate inflates into a buffer of the declared size and no further). A file over `maxFileBytes`
 * is listed without its bytes, as the tar reader does. Nothing is written to disk: a path with `..` in it
 * is a name, never resolved.
 */
import { unzipSync, type UnzipFileInfo } from 'fflate'
import type { TarFile } from './tar-reader.js'

/** Thrown when a zip archive cannot be read (cut off, damaged) or is refused by its limits. */
export class ZipError extends Error {
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options)
    this.name = 'ZipError'
  }
}

/** A zip's limits. */
export interface ZipLimits {
  /** The declared uncompressed sizes of all entries, at most (default 256 MiB). */
  maxBytes?: number
  /** A file's bytes kept up to this size (default 1 MiB). */
  maxFileBytes?: number
  /** Entries, at most (default 10 000; a wheel holds tens to a few thousand). */
  maxFiles?: number
}

/** The compression methods a wheel uses: stored and deflated (others are skipped, listed without bytes). */
const STORED = 0
const DEFLATED = 8

/** The regular files of `zip` (directories left out), in the archive's order. */
export function zipFiles(zip: Uint8Array, limits: ZipLimits = {}): TarFile[] {
  const maxBytes = limits.maxBytes ?? 256 * 1024 * 1024
  const maxFileBytes = limits.maxFileBytes ?? 1024 * 1024
  const maxFiles = limits.maxFiles ?? 10_000
  const listed: Array<{ info: UnzipFileInfo; inflated: boolean }> = []
  let declared = 0
  let unpacked: Record<string, Uint8Array>
  try {
    // The filter sees each entry before fflate inflates it, in order: the limits stop it there.
    unpacked = unzipSync(zip, {
      filter: (info) => {
        if (listed.length >= maxFiles) throw new ZipError(`the archive holds more than ${maxFiles} entries`)
        if (info.name.endsWith('/')) return false
        // Every entry counts, those not inflated too: as a tar.gz's whole output does, the archive's size
        // unpacked says whether it is a bomb, whichever of its files would be scanned.
        declared += info.originalSize
        if (declared > maxBytes) throw new ZipError(`the archive unpacks to more than ${maxBytes} bytes (a zip bomb, or too large to read)`)
        const inflated = info.originalSize <= maxFileBytes && (info.compression === STORED || info.compression === DEFLATED)
        listed.push({ info, inflated })
        return inflated
      },
    })
  } catch (err) {
    if (err instanceof ZipError) throw err
    throw new ZipError(`the archive does not unzip: ${(err as Error).message}`, { cause: err })
  }
  return listed.map(({ info, inflated }) => {
    const data = inflated ? unpacked[info.name] : undefined
    return { path: info.name, size: info.originalSize, data: data === undefined ? undefined : Buffer.from(data.buffer, data.byteOffset, data.byteLength) }
  })
}

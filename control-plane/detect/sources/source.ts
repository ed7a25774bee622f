/**
 * What every source hands the scanner: texts with where they came from, and running counts.
 */
import type { TextOrigin } from '../findings.js'

/** One text to scan. */
export interface ScanItem {
  text: string
  origin: TextOrigin
}

/** Running counts, reported as a scan goes (docs/api.md `progress`). */
export interface Progress {
  files: number
  commits: number
  bytes: number
  /** Repositories done, for organisation scans. */
  repos: number
  /** Files left out: binary, too large, unreadable. */
  skipped: number
  /**
   * Matches left out because their checksum did not verify (a token of a checksummed format, such as
   * GitHub's, with a typo or made up): counted, never shown.
   */
  checksumDropped: number
}

/** A fresh progress record. */
export function newProgress(): Progress {
  return { files: 0, commits: 0, bytes: 0, repos: 0, skipped: 0, checksumDropped: 0 }
}

/** Limits shared by the sources. */
export interface SourceLimits {
  /** Files (blobs) larger than this are skipped; default 10 MiB. */
  maxFileSize: number
}

/** The default limits. */
export const DEFAULT_LIMITS: SourceLimits = { maxFileSize: 10 * 1024 * 1024 }

/** Whether bytes look binary: a NUL byte in the first 8 KiB, as git itself decides. */
export function isBinary(bytes: Uint8Array): boolean {
  const end = Math.min(bytes.length, 8000)
  for (let i = 0; i < end; i++) if (bytes[i] === 0) return true
  return false
}

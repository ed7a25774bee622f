/**
 * Errors of the node–control-plane contract and of the leak index built on it. Every refusal (corrupt
 * snapshot, bad change) leaves the index in memory as it was; callers decide whether to keep serving from it.
 */

/** Codes a caller can branch on; messages are for people. */
export type LeakdbErrorCode =
  | 'LEAKGATE_ERR_SNAPSHOT_TRUNCATED'
  | 'LEAKGATE_ERR_SNAPSHOT_MAGIC'
  | 'LEAKGATE_ERR_SNAPSHOT_VERSION'
  | 'LEAKGATE_ERR_SNAPSHOT_CHECKSUM'
  | 'LEAKGATE_ERR_SNAPSHOT_CORRUPT'
  | 'LEAKGATE_ERR_CHANGE_INVALID'
  | 'LEAKGATE_ERR_INDEX_INPUT'

/** A refusal by the snapshot codec, the change validator or the leak index, with a code and, where a library failed, its cause. */
export class LeakdbError extends Error {
  readonly code: LeakdbErrorCode
  constructor(code: LeakdbErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'LeakdbError'
    this.code = code
  }
}

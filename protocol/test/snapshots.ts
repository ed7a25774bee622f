/**
 * Snapshots for tests on both sides of the wire: the golden version-1 fixture, and damaged copies
 * of it that every reader (the codec's header check, the node's index) must refuse with one code each.
 */
import { readFileSync } from 'node:fs'

/** `protocol/fixtures/golden-v1.snapshot`: revision 42, `leaked-token-1..3` (block 1, monitor 2, block 300). */
export const golden = readFileSync(new URL('../fixtures/golden-v1.snapshot', import.meta.url))

function patch(buf: Buffer, at: number, value: number): Buffer {
  const copy = Buffer.from(buf)
  copy[at] = value
  return copy
}

/** Truncated, corrupt or unknown snapshots: a name, the bytes, and the error code a reader must throw. */
export const damagedSnapshots: ReadonlyArray<readonly [name: string, bytes: Buffer, code: string]> = [
  ['empty', Buffer.alloc(0), 'LEAKGATE_ERR_SNAPSHOT_TRUNCATED'],
  ['header only', golden.subarray(0, 32), 'LEAKGATE_ERR_SNAPSHOT_TRUNCATED'],
  ['cut in an entry', golden.subarray(0, golden.length - 40), 'LEAKGATE_ERR_SNAPSHOT_TRUNCATED'],
  ['last byte missing', golden.subarray(0, golden.length - 1), 'LEAKGATE_ERR_SNAPSHOT_TRUNCATED'],
  ['trailing garbage', Buffer.concat([golden, Buffer.from([0])]), 'LEAKGATE_ERR_SNAPSHOT_CORRUPT'],
  ['bad magic', patch(golden, 0, 0x4d), 'LEAKGATE_ERR_SNAPSHOT_MAGIC'],
  ['future version', patch(golden, 9, 2), 'LEAKGATE_ERR_SNAPSHOT_VERSION'],
  ['flipped bit in an entry', patch(golden, 40, golden[40]! ^ 1), 'LEAKGATE_ERR_SNAPSHOT_CHECKSUM'],
  ['flipped bit in the checksum', patch(golden, golden.length - 1, golden[golden.length - 1]! ^ 1), 'LEAKGATE_ERR_SNAPSHOT_CHECKSUM'],
  ['text, not a snapshot', Buffer.from('{"entries": []}'.padEnd(80, ' ')), 'LEAKGATE_ERR_SNAPSHOT_MAGIC'],
]

/**
 * Snapshots for tests on both sides of the wire: the golden version-2 fixture, the version-1 one (a
 * format nodes now refuse), and damaged copies of the golden one that every reader (the codec's header
 * check, the node's index, its cache) must refuse with one code each.
 */
import { readFileSync } from 'node:fs'

/** `protocol/fixtures/golden-v2.snapshot`: revision 42, `leaked-token-1..3` (block 1, monitor 2, block 300). */
export const golden = readFileSync(new URL('../fixtures/golden-v2.snapshot', import.meta.url))

/** `protocol/fixtures/golden-v1.snapshot`: the same entries in format version 1 (36-byte entries, big-endian). */
export const goldenV1 = readFileSync(new URL('../fixtures/golden-v1.snapshot', import.meta.url))

function patch(buf: Buffer, at: number, value: number): Buffer {
  const copy = Buffer.from(buf)
  copy[at] = value
  return copy
}

/** Truncated, corrupt or unknown snapshots: a name, the bytes, and the error code a reader must throw. */
export const damagedSnapshots: ReadonlyArray<readonly [name: string, bytes: Buffer, code: string]> = [
  ['empty', Buffer.alloc(0), 'LEAKGATE_ERR_SNAPSHOT_TRUNCATED'],
  ['header only', golden.subarray(0, 40), 'LEAKGATE_ERR_SNAPSHOT_TRUNCATED'],
  ['cut in the entries', golden.subarray(0, golden.length - 40), 'LEAKGATE_ERR_SNAPSHOT_TRUNCATED'],
  ['last byte missing', golden.subarray(0, golden.length - 1), 'LEAKGATE_ERR_SNAPSHOT_TRUNCATED'],
  ['trailing garbage', Buffer.concat([golden, Buffer.from([0])]), 'LEAKGATE_ERR_SNAPSHOT_CORRUPT'],
  ['bad magic', patch(golden, 0, 0x4d), 'LEAKGATE_ERR_SNAPSHOT_MAGIC'],
  ['future version', patch(golden, 9, 3), 'LEAKGATE_ERR_SNAPSHOT_VERSION'],
  ['format version 1', goldenV1, 'LEAKGATE_ERR_SNAPSHOT_VERSION'],
  ['flags set', patch(golden, 10, 1), 'LEAKGATE_ERR_SNAPSHOT_CORRUPT'],
  ['reserved header byte set', patch(golden, 35, 1), 'LEAKGATE_ERR_SNAPSHOT_CORRUPT'],
  ['bucket bits out of range', patch(golden, 32, 30), 'LEAKGATE_ERR_SNAPSHOT_CORRUPT'],
  ['counts disagree', patch(golden, 24, 3), 'LEAKGATE_ERR_SNAPSHOT_CORRUPT'],
  ['flipped bit in an entry', patch(golden, 120, golden[120]! ^ 1), 'LEAKGATE_ERR_SNAPSHOT_CHECKSUM'],
  ['flipped bit in the checksum', patch(golden, golden.length - 1, golden[golden.length - 1]! ^ 1), 'LEAKGATE_ERR_SNAPSHOT_CHECKSUM'],
  ['text, not a snapshot', Buffer.from('{"entries": []}'.padEnd(80, ' ')), 'LEAKGATE_ERR_SNAPSHOT_MAGIC'],
  ['text shorter than a header', Buffer.from('{}'), 'LEAKGATE_ERR_SNAPSHOT_MAGIC'],
]

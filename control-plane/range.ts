/**
 * The range check's answer: the leaked hashes that share a 5-hex-character prefix, padded with decoys
 * so that its size does not tell how many there are.
 *
 * A client hashes its token, sends the first 5 characters of the hash, and looks for the whole hash in
 * the answer; the control plane never sees more than the prefix, which about one in a million of all
 * hashes share. The answer holds `RANGE_BUCKET` hashes when the prefix has at most that many leaked
 * ones, else the next multiple of it. Decoys have the prefix and the shape of real hashes (64 lowercase
 * hex characters) and the answer is sorted by value, so neither place nor form marks a real one.
 *
 * Decoys are not drawn anew for each request: then asking twice and keeping what stayed would single
 * out the real hashes. Each is HMAC-SHA256(the store's decoy secret, prefix and its number), the same
 * on every replica and after restarts; a prefix's answer changes only when its leaked hashes do.
 */
import { createHmac } from 'node:crypto'

/** Hashes in an answer: at least this many, and always a multiple of it. */
export const RANGE_BUCKET = 32

/** Length of a range prefix, in hex characters (20 bits: about a millionth of all hashes). */
export const RANGE_PREFIX_LENGTH = 5

/** A range prefix as the route accepts it: exactly 5 hex characters, either case. */
export const RANGE_PREFIX_PATTERN = /^[0-9a-fA-F]{5}$/

/** How many hashes an answer with `real` leaked hashes holds. */
export function bucketSize(real: number): number {
  return Math.max(1, Math.ceil(real / RANGE_BUCKET)) * RANGE_BUCKET
}

/**
 * The answer for `prefix` (lowercase hex): `real` (hashes with that prefix) and decoys made with
 * `secret`, sorted. `scope` separates the decoys of keyed and unkeyed hashes (the hash key's id).
 */
export function paddedRange(prefix: string, real: readonly string[], secret: Buffer, scope = ''): string[] {
  const out = new Set(real)
  const size = bucketSize(out.size)
  for (let i = 0; out.size < size; i++) {
    const tail = createHmac('sha256', secret).update(`range decoy\0${scope}\0${prefix}\0${i}`).digest('hex')
    // A decoy equal to a real hash (one chance in 2^236) is skipped by the Set; the next number fills in.
    out.add(prefix + tail.slice(0, 64 - prefix.length))
  }
  return [...out].sort()
}

/**
 * How a token becomes what Leakgate stores and sends: its SHA-256 (lowercase hex of the digest of its
 * UTF-8 bytes) and a preview short enough to recognise it by, never enough to use it.
 */
import * as crypto from 'node:crypto'
import { Type } from '@sinclair/typebox'

const HEX64 = /^[0-9a-f]{64}$/

/** A token's SHA-256 in Leakgate's form (64 lowercase hex characters), as the sync stream carries it. */
export const TokenHash = Type.String({ pattern: '^[0-9a-f]{64}$' })

/** A SHA-256 as the control plane accepts it from clients: 64 hex characters of either case, lowercased on receipt. */
export const TokenHashAnyCase = Type.String({ pattern: '^[0-9a-fA-F]{64}$' })

// crypto.hash (Node >= 20.12) is a one-shot digest without the Hash object's allocation and
// method calls; it halves the cost of hashing a short credential on the node's hot path.
const oneShot = (crypto as unknown as { hash?: (alg: string, data: string, enc: 'buffer' | 'hex' | 'base64') => Buffer | string }).hash

/** SHA-256 digest (32 bytes) of the UTF-8 bytes of `value`. */
export function sha256Digest(value: string): Buffer {
  if (oneShot !== undefined) return oneShot('sha256', value, 'buffer') as Buffer
  return crypto.createHash('sha256').update(value, 'utf8').digest()
}

/**
 * Base64 (standard alphabet) SHA-256 of the UTF-8 bytes of `value`. The node's hot path uses this form:
 * on Node 20, crypto.hash to a string costs about 0.3 µs and to a Buffer about 1.6 µs (bench/RESULTS.md).
 */
export function sha256Base64(value: string): string {
  if (oneShot !== undefined) return oneShot('sha256', value, 'base64') as string
  return crypto.createHash('sha256').update(value, 'utf8').digest('base64')
}

/** Lowercase hex SHA-256 of the UTF-8 bytes of `value`. */
export function sha256Hex(value: string): string {
  if (oneShot !== undefined) return oneShot('sha256', value, 'hex') as string
  return crypto.createHash('sha256').update(value, 'utf8').digest('hex')
}

/** Whether `s` is a SHA-256 in Leakgate's form: 64 lowercase hex characters. */
export function isSha256Hex(s: string): boolean {
  return HEX64.test(s)
}

/**
 * A recognisable, unusable preview of a token: at most its first 4 and last 4 characters, and never more
 * than a third of it in all (so a 12-character token shows 2 + 2). Tokens shorter than 6 show nothing.
 */
export function makePreview(token: string): string {
  const chars = Array.from(token) // by code point, so a preview never splits a surrogate pair
  const side = Math.min(4, Math.floor(chars.length / 6))
  if (side === 0) return '…'
  return `${chars.slice(0, side).join('')}…${chars.slice(chars.length - side).join('')}`
}

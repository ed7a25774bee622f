/**
 * How a token becomes what Leakgate stores and sends: its SHA-256 (lowercase hex of the digest of its
 * UTF-8 bytes) and a preview short enough to recognise it by, never enough to use it.
 *
 * With a hash key (the deployment's secret, `hashKey` option), what is stored and synced is instead
 * the token's keyed hash: HMAC-SHA256(key, SHA-256 of the token as 32 raw bytes), lowercase hex. A
 * plain SHA-256 of a weak password is found again by hashing a word list; a keyed one is not, without
 * the key. It is computed from the SHA-256, not from the token, so whatever only has a token's SHA-256
 * (the scanner's findings, a hash added in the console) can still be keyed by the control plane.
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
const oneShot = (crypto as unknown as { hash?: (alg: string, data: string | Buffer, enc: 'buffer' | 'hex' | 'base64' | 'binary') => Buffer | string }).hash

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

/** The fewest bytes a hash key may have: a key is as strong as a 256-bit secret or it is no key. */
export const HASH_KEY_MIN_BYTES = 32

/** The most bytes a hash key may have (HMAC hashes longer keys first; nothing is gained past this). */
export const HASH_KEY_MAX_BYTES = 128

/**
 * Reads a hash key written as hex (64 to 256 characters, 32 to 128 bytes; `openssl rand -hex 32`).
 * Returns a reason instead of a key when `text` cannot be one; the reason never quotes the text.
 */
export function parseHashKey(text: string): { key: Buffer } | { reason: string } {
  const hex = text.trim()
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex)) return { reason: 'must be written as hex (an even number of 0-9, a-f characters)' }
  const key = Buffer.from(hex, 'hex')
  if (key.length < HASH_KEY_MIN_BYTES) return { reason: `must be at least ${HASH_KEY_MIN_BYTES} bytes (${HASH_KEY_MIN_BYTES * 2} hex characters), got ${key.length}` }
  if (key.length > HASH_KEY_MAX_BYTES) return { reason: `must be at most ${HASH_KEY_MAX_BYTES} bytes (${HASH_KEY_MAX_BYTES * 2} hex characters), got ${key.length}` }
  // A random 32-byte key has about 30 distinct byte values; fewer than 16 is a typed or repeated pattern.
  if (new Set(key).size < 16) return { reason: 'looks like a pattern, not random bytes' }
  return { key }
}

/**
 * HMAC-SHA256 with one key, as three one-shot SHA-256s over buffers prepared once (RFC 2104: the key's
 * inner and outer pads are fixed, only the message changes). `createHmac` for each credential cost
 * about nine times a plain SHA-256 on the node's hot path, most of it making the Hmac object and
 * importing the key each time; crypto.hash to a Buffer costs three times crypto.hash to a string, so
 * the digests in between travel as latin1 strings (bench/RESULTS.md "Hash key"). Not reentrant, which
 * a synchronous call is not.
 */
class KeyedSha256 {
  readonly #inner = Buffer.alloc(64 + 32)
  readonly #outer = Buffer.alloc(64 + 32)

  constructor(key: Uint8Array) {
    const k = key.length > 64 ? crypto.createHash('sha256').update(key).digest() : key
    for (let i = 0; i < 64; i++) {
      const b = k[i] ?? 0
      this.#inner[i] = b ^ 0x36
      this.#outer[i] = b ^ 0x5c
    }
  }

  /** HMAC-SHA256(key, digest) of a 32-byte digest. */
  of(digest: Uint8Array, enc: 'hex' | 'base64'): string {
    this.#inner.set(digest, 64)
    return this.#finish(enc)
  }

  /** HMAC-SHA256(key, SHA-256 of the UTF-8 bytes of `token`). */
  ofToken(token: string, enc: 'hex' | 'base64'): string {
    if (oneShot === undefined) return this.of(sha256Digest(token), enc)
    this.#inner.write(oneShot('sha256', token, 'binary') as string, 64, 'latin1')
    return this.#finish(enc)
  }

  #finish(enc: 'hex' | 'base64'): string {
    if (oneShot === undefined) {
      this.#outer.set(crypto.createHash('sha256').update(this.#inner).digest(), 64)
      return crypto.createHash('sha256').update(this.#outer).digest(enc)
    }
    this.#outer.write(oneShot('sha256', this.#inner, 'binary') as string, 64, 'latin1')
    return oneShot('sha256', this.#outer, enc) as string
  }
}

// One prepared HMAC a key: a node and a control plane each have one key, so this holds one entry.
const prepared = new WeakMap<Uint8Array, KeyedSha256>()
function keyed(key: Uint8Array): KeyedSha256 {
  let k = prepared.get(key)
  if (k === undefined) {
    k = new KeyedSha256(key)
    prepared.set(key, k)
  }
  return k
}

/**
 * A token's keyed hash, from its SHA-256 (32 raw bytes, or 64 hex characters of either case):
 * HMAC-SHA256(key, digest) in lowercase hex. The one definition both the control plane (keying the
 * SHA-256s it receives) and the node (keying each candidate credential) use.
 */
export function keyedHash(key: Uint8Array, sha256: Uint8Array | string): string {
  const digest = typeof sha256 === 'string' ? Buffer.from(sha256, 'hex') : sha256
  if (digest.length !== 32) throw new TypeError(`keyedHash takes a SHA-256 (32 bytes), got ${digest.length} bytes`)
  return keyed(key).of(digest, 'hex')
}

/** A token's keyed hash in base64, the form the node's index looks up (as `sha256Base64` without a key). */
export function keyedTokenBase64(key: Uint8Array, token: string): string {
  return keyed(key).ofToken(token, 'base64')
}

/** A token's keyed hash in hex (`keyedHash` of its SHA-256). */
export function keyedTokenHex(key: Uint8Array, token: string): string {
  return keyed(key).ofToken(token, 'hex')
}

/**
 * What names a hash key without revealing it: the first 16 hex characters of HMAC-SHA256(key,
 * "leakgate hash key id"). The store records it, and nodes send it when they sync, so a mismatch is
 * seen at once instead of every lookup silently missing.
 */
export function hashKeyId(key: Uint8Array): string {
  return crypto.createHmac('sha256', key).update('leakgate hash key id').digest('hex').slice(0, 16)
}

/**
 * The request header a node sends its hash key id in when it syncs (`/v1/sync/snapshot`,
 * `/v1/sync/changes`); absent when it has no key. Lowercase, as Node's headers objects are keyed.
 */
export const HASH_KEY_ID_HEADER = 'leakgate-hash-key-id'

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

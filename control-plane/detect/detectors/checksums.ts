/**
 * Checksums carried inside provider tokens. A token whose checksum fails is a typo, a
 * documentation example or a made-up placeholder, not a live credential: reporting it would
 * only cost precision.
 */
import { crc32 } from 'node:zlib'

/** GitHub's base62 alphabet (digits, upper, lower). */
const BASE62_UPPER_FIRST = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
/** The other common ordering; some generators of GitHub-format tokens use it. */
const BASE62_LOWER_FIRST = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'

/** `n` in base62 with the given alphabet, left-padded with '0' to `width`. */
export function base62(n: number, width: number, alphabet: string = BASE62_UPPER_FIRST): string {
  let out = ''
  let v = n
  while (v > 0) {
    out = alphabet[v % 62] + out
    v = Math.floor(v / 62)
  }
  return out.padStart(width, alphabet[0])
}

/** The 6-character checksum GitHub (and npm) append: base62 of CRC32 of the 30 random characters. */
export function crc32Base62(random: string): string {
  return base62(crc32(random) >>> 0, 6)
}

/**
 * Whether a GitHub classic token (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`) or an npm token (`npm_`)
 * carries a valid checksum: prefix, 30 random base62 characters, 6 checksum characters.
 * Both base62 orderings, either digit order, and a CRC over the prefixed string too are accepted,
 * because token generators differ on these details; a random string passes one of these 8 with odds
 * of about 8 × 62^-6 (1.4e-10).
 */
export function hasValidCrc32Checksum(token: string): boolean {
  const underscore = token.indexOf('_')
  if (underscore < 0) return false
  const prefix = token.slice(0, underscore + 1)
  const body = token.slice(underscore + 1)
  if (body.length !== 36) return false
  const random = body.slice(0, 30)
  const check = body.slice(30)
  const reversed = [...check].reverse().join('')
  for (const input of [random, prefix + random]) {
    const crc = crc32(input) >>> 0
    for (const alphabet of [BASE62_UPPER_FIRST, BASE62_LOWER_FIRST]) {
      const expected = base62(crc, 6, alphabet)
      // Some encoders write base62 least significant digit first.
      if (expected === check || expected === reversed) return true
    }
  }
  return false
}

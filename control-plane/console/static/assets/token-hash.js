// @ts-check
// Hashing of raw token values in the browser, so that a raw secret never leaves the operator's
// machine: only `{ sha256, preview }` is sent to the control plane.

const encoder = new TextEncoder()

/** True when Web Crypto's digest is available (it needs a secure context: https or localhost). */
export function canHash() {
  return Boolean(globalThis.crypto?.subtle?.digest)
}

/**
 * Lowercase hex SHA-256 of the token's UTF-8 bytes.
 * @param {string} value
 */
export async function sha256Hex(value) {
  const digest = await crypto.subtle.digest('SHA-256', encoder.encode(value))
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('')
}

/**
 * The preview: at most the first 4 and last 4 characters, and never more than a third of the
 * token in all (so short tokens show fewer characters, and very short ones none).
 * @param {string} value
 */
export function preview(value) {
  const chars = Array.from(value)
  const side = Math.min(4, Math.floor(chars.length / 6))
  if (side === 0) return '…'
  return `${chars.slice(0, side).join('')}…${chars.slice(-side).join('')}`
}

/**
 * `{ sha256, preview }` for one raw token value.
 * @param {string} value
 * @returns {Promise<{ sha256: string, preview: string }>}
 */
export async function hashToken(value) {
  return { sha256: await sha256Hex(value), preview: preview(value) }
}

export const SHA256_HEX = /^[0-9a-f]{64}$/

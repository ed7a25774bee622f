/**
 * The `Leakgate-Signature` header of webhook deliveries: `t=<unix seconds>,v1=<hex>`, where the hex is
 * HMAC-SHA256, keyed with the endpoint's secret (its UTF-8 text), of `<t>.<body>`. While a rotated
 * secret overlaps the new one, the header carries one `v1=` a secret (new first), so a receiver that
 * knows either accepts it. The timestamp lets a receiver refuse a replayed delivery (docs/webhooks.md).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/** The header's name. */
export const SIGNATURE_HEADER = 'leakgate-signature'

/** A new endpoint secret: `whsec_` and 32 random bytes in base64url. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`
}

/** The hex HMAC of one secret over `<timestamp>.<body>`. */
export function signatureOf(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')
}

/** The header value for `body` signed at `timestamp` (unix seconds) with each of `secrets`. */
export function signatureHeader(secrets: readonly string[], timestamp: number, body: string): string {
  return [`t=${timestamp}`, ...secrets.map((s) => `v1=${signatureOf(s, timestamp, body)}`)].join(',')
}

/**
 * Whether `header` signs `body` with `secret` at a time within `toleranceSeconds` of `now` (unix
 * seconds): what a receiver checks, in constant time a signature.
 */
export function verifySignature(header: string, body: string, secret: string, toleranceSeconds = 300, now = Math.floor(Date.now() / 1000)): boolean {
  const parts = header.split(',').map((p) => p.trim().split('='))
  const t = Number(parts.find(([k]) => k === 't')?.[1])
  if (!Number.isInteger(t) || Math.abs(now - t) > toleranceSeconds) return false
  const expected = Buffer.from(signatureOf(secret, t, body), 'hex')
  return parts.some(([k, v]) => {
    if (k !== 'v1' || v === undefined || !/^[0-9a-f]{64}$/.test(v)) return false
    return timingSafeEqual(Buffer.from(v, 'hex'), expected)
  })
}

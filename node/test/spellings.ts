/**
 * For the regressions where a leaked token hid in a spelling that a mainstream server stack still
 * reads as the credential: the real node, holding one blocked and one monitored token, in front of a
 * recording upstream. Each case is a request head made from a token; it is sent once with the blocked
 * token (403, and the upstream records nothing) and once with the monitored one (forwarded, with
 * `Leakgate-Verdict: monitor` and the leak's id).
 */
import { connect } from 'node:net'
import type { Test } from 'tap'
import { indexOf, startNode, startUpstream, type RawAnswer } from './helpers.js'

export const BLOCKED = 'ghp_ReviewBypassToken00000000000000000001'
export const MONITORED = 'sk_live_MonitoredBypassToken000000000002'

/** A case: its name, and the request head (request line and header lines, no final CRLF) for a token. */
export type Spelling = readonly [name: string, head: (token: string) => string]

/** Base64 of a string's UTF-8 bytes. */
export const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64')

/** The UTF-8 bytes of `s` as latin1 characters: sent as they are by `sendLatin1`. */
export const utf8Bytes = (s: string): string => Buffer.from(s, 'utf8').toString('latin1')

/** Sends `head` as latin1 (each character one byte, so a test controls every byte), adding Host and `Connection: close`. */
export function sendLatin1(url: string, head: string): Promise<RawAnswer> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    // write, not end: a client that half-closes may be taken as gone before the upstream answers.
    const socket = connect(Number(port), hostname, () => socket.write(Buffer.from(`${head}\r\nHost: api.test\r\nConnection: close\r\n\r\n`, 'latin1')))
    let raw = ''
    socket.on('data', (c: Buffer) => (raw += c.toString('latin1')))
    socket.on('end', () => resolve({ status: Number(raw.slice(9, 12)), body: raw.slice(raw.indexOf('\r\n\r\n') + 4), raw }))
    socket.on('error', reject)
  })
}

/** Runs every case with both tokens; `env` configures the node (credential places). */
export async function spellingsCaught(t: Test, cases: readonly Spelling[], env: Record<string, string> = {}): Promise<void> {
  const upstream = await startUpstream(t)
  const index = indexOf([{ token: BLOCKED, action: 'block', leakId: 7 }, { token: MONITORED, action: 'monitor', leakId: 9 }])
  const { url } = await startNode(t, { upstream: upstream.url, env, deps: { index } })
  for (const [name, head] of cases) {
    const answer = await sendLatin1(url, head(BLOCKED))
    t.match(answer.raw, /^HTTP\/1\.1 403 /, `blocked: ${name}`)
  }
  t.equal(upstream.seen.length, 0, 'the upstream never saw a blocked token')
  for (const [name, head] of cases) {
    const before = upstream.seen.length
    const answer = await sendLatin1(url, head(MONITORED))
    t.equal(answer.status, 200, `monitored, forwarded: ${name}`)
    const seen = upstream.seen[before]
    t.equal(seen?.headers['leakgate-verdict'], 'monitor', `monitored, flagged: ${name}`)
    t.equal(seen?.headers['leakgate-leak-id'], '9', `monitored, with its leak id: ${name}`)
  }
}

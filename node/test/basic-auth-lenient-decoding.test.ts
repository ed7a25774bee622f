/**
 * Security regression: Basic credentials that a lenient base64 decoder still reads (extra `=`
 * padding, a stray character the decoder skips) were not decoded by the node, and a leaked token
 * sent as the Basic user name (not the password) was not checked, so the credential reached the
 * upstream unchecked. Raw sockets, so the bytes are exactly these; the real node in front of a small
 * upstream, on port 0.
 */
import t from 'tap'
import { rawRequestsBlocked } from './helpers.js'

const TOKEN = 'ghp_ReviewBypassToken00000000000000000001'
const PASSWORD = 'hunter2-review-bypass-password-000002'
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64')

t.test('leaked Basic credentials in forms lenient decoders accept are blocked, and the upstream sees none', async (t) => {
  const pair = b64(`alice:${PASSWORD}`)
  await rawRequestsBlocked(t, [{ token: TOKEN, action: 'block', leakId: 7 }, { token: PASSWORD, action: 'block', leakId: 11 }], [
    ['Basic with extra padding', `GET /x HTTP/1.1\r\nAuthorization: Basic ${pair}===`],
    ['Basic with a stray dot', `GET /x HTTP/1.1\r\nAuthorization: Basic ${pair.slice(0, 4)}.${pair.slice(4)}`],
    ['the token as the Basic user', `GET /x HTTP/1.1\r\nAuthorization: Basic ${b64(`${TOKEN}:x`)}`],
  ])
})

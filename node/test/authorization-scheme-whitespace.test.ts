/**
 * Security regression: an Authorization header whose scheme is followed by a tab instead of a space
 * (`Bearer<TAB>token`, `Basic<TAB>pair`) slipped past the node's credential extraction, while lenient
 * upstreams still accept it, so a leaked token reached them unchecked. Raw sockets, so the bytes are
 * exactly these; the real node in front of a small upstream, on port 0.
 */
import t from 'tap'
import { rawRequestsBlocked } from './helpers.js'

const TOKEN = 'ghp_ReviewBypassToken00000000000000000001'
const PASSWORD = 'hunter2-review-bypass-password-000002'
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64')

t.test('a leaked token after a tab in the Authorization scheme is blocked, and the upstream sees none', async (t) => {
  await rawRequestsBlocked(t, [{ token: TOKEN, action: 'block', leakId: 7 }, { token: PASSWORD, action: 'block', leakId: 11 }], [
    ['a tab after Bearer', `GET /x HTTP/1.1\r\nAuthorization: Bearer\t${TOKEN}`],
    ['a tab after Basic', `GET /x HTTP/1.1\r\nAuthorization: Basic\t${b64(`alice:${PASSWORD}`)}`],
  ])
})

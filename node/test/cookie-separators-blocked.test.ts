/**
 * Security regression: with a cookie configured as a credential place, `,` as a separator (Python's
 * SimpleCookie), spaces between cookies, PHP's mangling of cookie names (`.` and space to `_`), quoted
 * and percent-encoded values got a leaked token past the node.
 */
import t from 'tap'
import { spellingsCaught, type Spelling } from './spellings.js'

const places = JSON.stringify([{ in: 'header', name: 'authorization' }, { in: 'cookie', name: 'session_id' }])
const cookie = (c: string): Spelling => [c.replace('%s', 'T'), (T) => `GET /x HTTP/1.1\r\nCookie: ${c.replace('%s', T)}`]
const cases: Spelling[] = ['a=1, session_id=%s', 'a=1 session_id=%s', 'session.id=%s', 'session id=%s', 'session_id="%s"', 'a=1;  session_id = %s ; b=2', 'session_id=%s%3B', 'SESSION_ID=%s'].map(cookie)

t.test('a leaked token in a cookie as stacks separate and name cookies is blocked, a monitored one flagged', async (t) => {
  await spellingsCaught(t, cases, { LEAKGATE_CREDENTIAL_PLACES: places })
})

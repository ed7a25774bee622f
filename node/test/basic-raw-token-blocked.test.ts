/**
 * Security regression: `Authorization: Basic <token>` with the raw token (APIs that take it so) was only
 * checked decoded when it looked like Base64, and most tokens do: the raw token reached the upstream.
 */
import t from 'tap'
import { spellingsCaught, type Spelling } from './spellings.js'

const cases: Spelling[] = [
  ['Basic T', (T) => `GET /x HTTP/1.1\r\nAuthorization: Basic ${T}`],
  ['basic T, another case', (T) => `GET /x HTTP/1.1\r\nAuthorization: basic ${T}`],
  ['Basic T with a tab', (T) => `GET /x HTTP/1.1\r\nAuthorization: Basic\t${T}`],
]

t.test('a leaked token sent raw after Basic is blocked, a monitored one flagged', async (t) => {
  await spellingsCaught(t, cases)
})

/**
 * Security regression: a leaked token in an Authorization header with more after it (`Bearer T extra`,
 * which Express code reads with `split(' ')[1]`; `Bearer T;x`; `Bearer T, realm=x`; `Bearer "T"`; Rails'
 * `Token token="T"`), or separated by what Python's `str.split()` and `strip()` treat as space (U+00A0,
 * U+0085), reached the upstream; a monitored one hidden so went without the verdict headers.
 */
import t from 'tap'
import { spellingsCaught, utf8Bytes, type Spelling } from './spellings.js'

const cases: Spelling[] = [
  ['Bearer T extra', (T) => `GET /x HTTP/1.1\r\nAuthorization: Bearer ${T} extra`],
  ['Bearer T;x', (T) => `GET /x HTTP/1.1\r\nAuthorization: Bearer ${T};x`],
  ['Bearer T, realm=x', (T) => `GET /x HTTP/1.1\r\nAuthorization: Bearer ${T}, realm=x`],
  ['Bearer "T"', (T) => `GET /x HTTP/1.1\r\nAuthorization: Bearer "${T}"`],
  ['Token token="T"', (T) => `GET /x HTTP/1.1\r\nAuthorization: Token token="${T}"`],
  ['U+00A0 (one byte) between scheme and token', (T) => `GET /x HTTP/1.1\r\nAuthorization: Bearer\xa0${T}`],
  ['U+00A0 (UTF-8) between scheme and token', (T) => `GET /x HTTP/1.1\r\nAuthorization: Bearer${utf8Bytes('\u00a0')}${T}`],
  ['U+0085 after the token', (T) => `GET /x HTTP/1.1\r\nAuthorization: Bearer ${T}\x85`],
  ['U+3000 after the token (UTF-8)', (T) => `GET /x HTTP/1.1\r\nAuthorization: Bearer ${T}${utf8Bytes('\u3000')}`],
  ['Proxy-Authorization: Bearer T extra', (T) => `GET /x HTTP/1.1\r\nProxy-Authorization: Bearer ${T} extra`],
]

t.test('a leaked token with text after it in Authorization is blocked, a monitored one flagged', async (t) => {
  await spellingsCaught(t, cases)
})

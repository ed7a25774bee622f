/**
 * With path segments as a credential place (`{ in: 'path' }`), a leaked token in the path is caught:
 * Telegram-style `/bot<id>:<secret>/sendMessage`, webhook URLs, matrix parameters, percent-encoding.
 */
import t from 'tap'
import { spellingsCaught, type Spelling } from './spellings.js'

const places = JSON.stringify([{ in: 'header', name: 'authorization' }, { in: 'path' }])
const cases: Spelling[] = [
  ['/hooks/T', (T) => `POST /hooks/${T} HTTP/1.1\r\nContent-Length: 0`],
  ['/bot<T>/sendMessage', (T) => `GET /bot${T}/sendMessage HTTP/1.1`],
  ['/hooks/x;key=T', (T) => `GET /hooks/x;key=${T} HTTP/1.1`],
  ['/hooks/T%2Cx', (T) => `GET /hooks/${T}%2Cx?a=1 HTTP/1.1`],
]

t.test('a leaked token in a path segment is blocked, a monitored one flagged', async (t) => {
  await spellingsCaught(t, cases, { LEAKGATE_CREDENTIAL_PLACES: places })
})

/**
 * Security regression: Basic credentials decoded as real decoders decode them got past the node. Node's
 * and Python's Base64 decoders stop at the first padding and ignore what follows (`<b64>==AAAA`,
 * `<b64>=<more>`), a server may split `<b64> more` at the space; a naive `split(':')` reads `user:T:x`,
 * Tomcat trims `user:T `, and reads the pair as latin1 by default.
 */
import t from 'tap'
import { b64, spellingsCaught, type Spelling } from './spellings.js'

const cases: Spelling[] = [
  ['<b64>==AAAA', (T) => `GET /x HTTP/1.1\r\nAuthorization: Basic ${b64(`alice:${T}`)}==AAAA`],
  ['<b64>=<more> (no padding of its own)', (T) => `GET /x HTTP/1.1\r\nAuthorization: Basic ${b64(`alice:${T}`).replace(/=+$/, '')}=QUFB`],
  ['<b64> more', (T) => `GET /x HTTP/1.1\r\nAuthorization: Basic ${b64(`alice:${T}`)} more`],
  ['user:T:x', (T) => `GET /x HTTP/1.1\r\nAuthorization: Basic ${b64(`alice:${T}:x`)}`],
  ['user:T<space>', (T) => `GET /x HTTP/1.1\r\nAuthorization: Basic ${b64(`alice:${T} `)}`],
  ['T:<space>user', (T) => `GET /x HTTP/1.1\r\nAuthorization: Basic ${b64(`${T} : alice`)}`],
  ['latin1 user name', (T) => `GET /x HTTP/1.1\r\nAuthorization: Basic ${Buffer.from(`\xe9l\xe8ve:${T}`, 'latin1').toString('base64')}`],
  ['url-safe alphabet', (T) => `GET /x HTTP/1.1\r\nAuthorization: Basic ${Buffer.from(`alice>>?:${T}`).toString('base64url')}`],
]

t.test('leaked Basic credentials as real decoders read them are blocked, monitored ones flagged', async (t) => {
  await spellingsCaught(t, cases)
})

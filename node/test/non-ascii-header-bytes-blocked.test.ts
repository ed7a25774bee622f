/**
 * Security regression: a header value carrying bytes >= 0x80 reached node:http as latin1 characters and
 * the node hashed their UTF-8 re-encoding, while Go and other stacks compare the raw UTF-8 bytes: a
 * leaked token holding non-ASCII characters, or set off by them, got through.
 */
import t from 'tap'
import { BLOCKED, MONITORED, sendLatin1, spellingsCaught, utf8Bytes, type Spelling } from './spellings.js'
import { indexOf, startNode, startUpstream } from './helpers.js'

const cases: Spelling[] = [
  ['X-API-Key: T, a non-breaking space (UTF-8), more', (T) => `GET /x HTTP/1.1\r\nX-API-Key: ${T}${utf8Bytes('\u00a0')}more`],
  ['X-API-Key: T and the byte 0x85 (U+0085 to Python, which strips it)', (T) => `GET /x HTTP/1.1\r\nX-API-Key: ${T}\x85`],
  ['Authorization: Bearer T, an ideographic space, more', (T) => `GET /x HTTP/1.1\r\nAuthorization: Bearer ${T}${utf8Bytes('\u3000')}more`],
]

t.test('a token set off by non-ASCII bytes is blocked, a monitored one flagged', async (t) => {
  await spellingsCaught(t, cases)
})

t.test('a token holding non-ASCII characters is read as its UTF-8 bytes', async (t) => {
  const token = `${BLOCKED}é€`
  const monitored = `${MONITORED}ü`
  const upstream = await startUpstream(t)
  const index = indexOf([{ token, action: 'block', leakId: 7 }, { token: monitored, action: 'monitor', leakId: 9 }])
  const { url } = await startNode(t, { upstream: upstream.url, deps: { index } })
  t.match((await sendLatin1(url, `GET /x HTTP/1.1\r\nX-API-Key: ${utf8Bytes(token)}`)).raw, /^HTTP\/1\.1 403 /, 'X-API-Key')
  t.match((await sendLatin1(url, `GET /x HTTP/1.1\r\nAuthorization: Bearer ${utf8Bytes(token)}`)).raw, /^HTTP\/1\.1 403 /, 'Authorization')
  t.equal(upstream.seen.length, 0, 'the upstream never saw the blocked token')
  t.equal((await sendLatin1(url, `GET /x HTTP/1.1\r\nX-API-Key: ${utf8Bytes(monitored)}`)).status, 200)
  t.equal(upstream.seen[0]?.headers['leakgate-verdict'], 'monitor', 'the monitored token is flagged')
})

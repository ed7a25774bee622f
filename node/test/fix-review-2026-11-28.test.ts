/**
 * Regressions for bypasses a review of the node found on 2026-11-28 (STYLE.md: one test per security
 * bug): each request carries a leaked token in a form that lenient upstreams accept. Raw sockets, so
 * the bytes are exactly these; the real node in front of a small upstream, on port 0.
 */
import { connect } from 'node:net'
import t from 'tap'
import { startNode, startUpstream, indexOf } from './helpers.js'

const TOKEN = 'ghp_ReviewBypassToken00000000000000000001'
const PASSWORD = 'hunter2-review-bypass-password-000002'
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64')

function rawRequest(url: string, head: string): Promise<string> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(`${head}\r\nHost: api.test\r\nConnection: close\r\n\r\n`))
    let data = ''
    socket.on('data', (c: Buffer) => (data += c.toString('latin1')))
    socket.on('end', () => resolve(data))
    socket.on('error', reject)
  })
}

t.test('leaked tokens in forms lenient upstreams accept are blocked, and the upstream sees none', async (t) => {
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  const { url } = await startNode(t, {
    upstream: upstream.url,
    deps: { index: indexOf([{ token: TOKEN, action: 'block', leakId: 7 }, { token: PASSWORD, action: 'block', leakId: 11 }]) },
  })
  const pair = b64(`alice:${PASSWORD}`)
  const cases: Array<[string, string]> = [
    ['a tab after Bearer', `GET /x HTTP/1.1\r\nAuthorization: Bearer\t${TOKEN}`],
    ['a tab after Basic', `GET /x HTTP/1.1\r\nAuthorization: Basic\t${pair}`],
    ['Basic with extra padding', `GET /x HTTP/1.1\r\nAuthorization: Basic ${pair}===`],
    ['Basic with a stray dot', `GET /x HTTP/1.1\r\nAuthorization: Basic ${pair.slice(0, 4)}.${pair.slice(4)}`],
    ['the token as the Basic user', `GET /x HTTP/1.1\r\nAuthorization: Basic ${b64(`${TOKEN}:x`)}`],
    ['X_API_KEY', `GET /x HTTP/1.1\r\nX_API_KEY: ${TOKEN}`],
    ['a parameter after #', `GET /x?a=1#&api_key=${TOKEN} HTTP/1.1`],
  ]
  for (const [name, head] of cases) {
    const answer = await rawRequest(url, head)
    t.match(answer, /^HTTP\/1\.1 403 /, name)
  }
  t.equal(upstream.seen.length, 0, 'the upstream was never contacted')
})

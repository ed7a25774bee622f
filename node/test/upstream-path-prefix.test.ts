/**
 * An upstream URL with a path prefix (`http://api:8080/v2`): every request, upgrades included, goes to
 * the prefix followed by its own path and query, with one `/` between them whether the prefix ends with
 * one or not.
 */
import t from 'tap'
import { loadNodeConfig } from '../config.js'
import { indexOf, pooledGet, rawRequest, startNode, startUpstream } from './helpers.js'

t.test('the configuration takes a prefix, and no query or fragment', async (t) => {
  t.equal(loadNodeConfig({ env: { LEAKGATE_UPSTREAM: 'http://api:8080/v2' } }).upstream, 'http://api:8080/v2')
  t.equal(loadNodeConfig({ env: { LEAKGATE_UPSTREAM: 'https://api.example/a/b/' } }).upstream, 'https://api.example/a/b/')
  t.throws(() => loadNodeConfig({ env: { LEAKGATE_UPSTREAM: 'http://api:8080/v2?x=1' } }), { message: /LEAKGATE_UPSTREAM/ })
  t.throws(() => loadNodeConfig({ env: { LEAKGATE_UPSTREAM: 'http://api:8080/#x' } }), { message: /LEAKGATE_UPSTREAM/ })
})

for (const prefix of ['/v2', '/v2/']) {
  t.test(`requests go to the prefix and their path (prefix ${prefix})`, async (t) => {
    const upstream = await startUpstream(t)
    const { url } = await startNode(t, { upstream: upstream.url + prefix, deps: { index: indexOf([]) } })
    const get = pooledGet(t)
    const cases: [string, string][] = [
      ['/users/7', '/v2/users/7'],
      ['/users?x=1&y=%2F', '/v2/users?x=1&y=%2F'],
      ['/', '/v2/'],
      ['/?q=1', '/v2/?q=1'],
      ['/a//b', '/v2/a//b'],
    ]
    for (const [path, expected] of cases) {
      t.equal((await get(url + path)).status, 200, path)
      t.equal(upstream.seen.at(-1)?.url, expected, `${path} reaches ${expected}`)
    }
    // An upgrade the upstream does not take is answered as a request there: at the prefixed path too.
    const ws = await rawRequest(url, 'GET /socket?room=1 HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==')
    t.equal(ws.status, 200)
    t.equal(upstream.seen.at(-1)?.url, '/v2/socket?room=1', 'an upgrade goes to the prefixed path')
  })
}

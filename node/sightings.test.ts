import t from 'tap'
import { routeTemplate, SightingBuffer, sightingClient, sightingHost, type Sighting } from './sightings.js'
import { NodeCounters } from './metrics.js'

t.test('route templates keep only plain words, hide ids and everything else, and never keep the query', async (t) => {
  const cases: [string, string][] = [
    ['/', '/'],
    ['', '/'],
    ['/v1/users', '/v1/users'],
    ['/v1/users/42', '/v1/users/:id'],
    ['/v1/users/42/keys?api_key=secret', '/v1/users/:id/keys'],
    ['/orders/3fa85f64-5717-4562-b3fc-2c963f66afa6/items/7', '/orders/:id/items/:id'],
    ['/blobs/9f86d081884c7d65', '/blobs/:id'],
    ['/bot123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/getMe', '/:param/getMe'],
    ['/v2/health-check/', '/v2/health-check/'],
    ['/files/readme', '/files/readme'],
    ['/api/v1/sendMessage/user_profile', '/api/v1/sendMessage/user_profile'],
    [`/${'x'.repeat(100)}`, '/:param'],
    [`/${'x'.repeat(33)}`, '/:param'],
    ['/hooks/deadbeef01', '/hooks/:id'],
    ['/hooks/AbCdEfGhIjKlMn', '/hooks/:param'],
    ['/a;secret/b', '/:param/b'],
    ['/a,secret', '/:param'],
    ['/key=secret', '/:param'],
    ['/a:b', '/:param'],
    ['/a%20b', '/:param'],
    ['/secret.json', '/:param'],
    ['/v1x2', '/:param'],
  ]
  for (const [input, want] of cases) t.equal(routeTemplate(input), want, input)
  t.ok(routeTemplate('/a'.repeat(100)).length < 100, 'bounded length')
})

const sighting = (leakId: number): Sighting => ({ leakId, sha256: 'a'.repeat(64), at: new Date(0).toISOString(), host: 'h', method: 'GET', route: '/', client: '::1', verdict: 'block' })

t.test('the buffer is bounded and counts what it drops', async (t) => {
  const counters = new NodeCounters()
  const buffer = new SightingBuffer(3, counters)
  t.ok(buffer.push(sighting(1)))
  t.ok(buffer.push(sighting(2)))
  t.ok(buffer.push(sighting(3)))
  t.notOk(buffer.push(sighting(4)), 'full')
  t.equal(counters.sightingsDropped, 1)
  const batch = buffer.take(2)
  t.same(batch.map((s) => s.leakId), [1, 2], 'oldest first')
  buffer.push(sighting(5))
  buffer.giveBack(batch)
  t.equal(buffer.size, 3)
  t.equal(counters.sightingsDropped, 2, 'what does not fit back is dropped and counted')
  t.same(buffer.take(10).map((s) => s.leakId), [1, 3, 5], 'a batch given back goes in front')
  t.throws(() => new SightingBuffer(0, counters), TypeError)
})

t.test('a sighting keeps the Host header only when it reads as a host name or address', async (t) => {
  t.equal(sightingHost('api.example.com'), 'api.example.com')
  t.equal(sightingHost('api.example.com:8443'), 'api.example.com:8443')
  t.equal(sightingHost('127.0.0.1:8000'), '127.0.0.1:8000')
  t.equal(sightingHost('[::1]:8000'), '[::1]:8000')
  t.equal(sightingHost(undefined), '')
  t.equal(sightingHost('ghp_abcdefghijklmnop0123456789.example'), ':host', 'an underscore is no host name')
  t.equal(sightingHost(`${'a1b2c3d4'.repeat(5)}.example`), ':host', 'a long label mixing in digits is an id or a token')
  t.equal(sightingHost('api.example.com:8443:1'), ':host')
  t.equal(sightingHost('a b'), ':host')
})

t.test('a sighting takes X-Forwarded-For only behind a trusted proxy, and only an address', async (t) => {
  t.equal(sightingClient('10.0.0.1', '203.0.113.9, 10.0.0.2', true), '203.0.113.9')
  t.equal(sightingClient('10.0.0.1', '203.0.113.9', false), '10.0.0.1', 'not trusted: the socket')
  t.equal(sightingClient('10.0.0.1', 'ghp_token0123456789', true), '10.0.0.1', 'not an address: the socket')
  t.equal(sightingClient('10.0.0.1', undefined, true), '10.0.0.1')
})

import { randomBytes } from 'node:crypto'
import t from 'tap'
import { loadNodeConfig, DEFAULT_CREDENTIAL_PLACES } from './config.js'

t.test('defaults, and flags over env over file', async (t) => {
  const c = loadNodeConfig({ env: { LEAKGATE_UPSTREAM: 'http://127.0.0.1:3000' } })
  t.equal(c.port, 8000)
  t.equal(c.adminPort, 9100)
  t.equal(c.controlPlane, 'http://127.0.0.1:8080')
  t.equal(c.cacheDir, './data/node')
  t.equal(c.noIndex, 'open')
  t.same(c.credentialPlaces, DEFAULT_CREDENTIAL_PLACES)
  t.ok(Object.isFrozen(c))
  const f = loadNodeConfig({ env: { LEAKGATE_UPSTREAM: 'http://a:1', LEAKGATE_PORT: '81' }, flags: { port: '82' } })
  t.equal(f.port, 82)
})

t.test('errors name the option, its env variable and flag', async (t) => {
  t.throws(() => loadNodeConfig({ env: {} }), { code: 'LEAKGATE_ERR_CONFIG', message: /upstream option \(LEAKGATE_UPSTREAM, --upstream\) is required/ })
  t.throws(() => loadNodeConfig({ env: { LEAKGATE_UPSTREAM: 'ftp://x' } }), { code: 'LEAKGATE_ERR_CONFIG', message: /LEAKGATE_UPSTREAM/ })
  t.throws(() => loadNodeConfig({ env: { LEAKGATE_UPSTREAM: 'http://x', LEAKGATE_NO_INDEX: 'maybe' } }), { message: /LEAKGATE_NO_INDEX/ })
  t.throws(() => loadNodeConfig({ env: { LEAKGATE_UPSTREAM: 'http://x', LEAKGATE_CREDENTIAL_PLACES: '[{"in":"body","name":"x"}]' } }), { message: /LEAKGATE_CREDENTIAL_PLACES/ })
  t.throws(() => loadNodeConfig({ env: { LEAKGATE_UPSTREAM: 'http://x', LEAKGATE_NODE_KEY: '' }, flags: { 'admin-port': 'x' } }), { message: /--admin-port/ })
})

t.test('config/node.yaml holds every option with its default', async (t) => {
  const c = loadNodeConfig({ file: new URL('../config/node.yaml', import.meta.url).pathname, env: { LEAKGATE_UPSTREAM: 'http://127.0.0.1:3000' } })
  const d = loadNodeConfig({ env: { LEAKGATE_UPSTREAM: 'http://127.0.0.1:3000' } })
  const { nodeId: _a, ...fromFile } = c
  const { nodeId: _b, ...defaults } = d
  t.same(fromFile, defaults, 'the file states the defaults')
})

t.test('credential places: a path place has no name, every other place one', async (t) => {
  const env = (places: string): Record<string, string> => ({ LEAKGATE_UPSTREAM: 'http://x', LEAKGATE_CREDENTIAL_PLACES: places })
  t.same(loadNodeConfig({ env: env('[{"in":"path"},{"in":"cookie","name":"sid"}]') }).credentialPlaces, [{ in: 'path' }, { in: 'cookie', name: 'sid' }])
  t.throws(() => loadNodeConfig({ env: env('[{"in":"query"}]') }), { message: /LEAKGATE_CREDENTIAL_PLACES/ })
  t.throws(() => loadNodeConfig({ env: env('[{"in":"path","name":"x"}]') }), { message: /LEAKGATE_CREDENTIAL_PLACES/ })
  t.equal(loadNodeConfig({ env: { LEAKGATE_UPSTREAM: 'http://x', LEAKGATE_MIN_CANDIDATE_LENGTH: '12' } }).minCandidateLength, 12)
})

t.test('a hash key shorter than 32 bytes is refused, naming the option', async (t) => {
  const key = randomBytes(32).toString('hex')
  t.equal(loadNodeConfig({ env: { LEAKGATE_UPSTREAM: 'http://x', LEAKGATE_HASH_KEY: key } }).hashKey, key)
  const short = randomBytes(16).toString('hex')
  const thrown = t.throws(() => loadNodeConfig({ env: { LEAKGATE_UPSTREAM: 'http://x', LEAKGATE_HASH_KEY: short } }), { code: 'LEAKGATE_ERR_CONFIG' }) as Error
  t.match(thrown.message, /hashKey option \(LEAKGATE_HASH_KEY\)/)
  t.notMatch(thrown.message, short, 'the key is not echoed')
})

t.test('mode: proxy by default and needs an upstream; check needs none and takes no checkPort', async (t) => {
  t.equal(loadNodeConfig({ env: { LEAKGATE_UPSTREAM: 'http://x' } }).mode, 'proxy')
  const check = loadNodeConfig({ env: { LEAKGATE_MODE: 'check' } })
  t.equal(check.mode, 'check')
  t.equal(check.upstream, undefined)
  t.equal(loadNodeConfig({ flags: { mode: 'check' } }).mode, 'check', 'the --mode flag')
  t.throws(() => loadNodeConfig({ env: {} }), { code: 'LEAKGATE_ERR_CONFIG', message: /mode option \(LEAKGATE_MODE, --mode\) check/ }, 'proxy without upstream names check mode as the alternative')
  t.throws(() => loadNodeConfig({ env: { LEAKGATE_MODE: 'gateway' } }), { message: /LEAKGATE_MODE/ })
  t.equal(loadNodeConfig({ env: { LEAKGATE_UPSTREAM: 'http://x', LEAKGATE_CHECK_PORT: '8001' } }).checkPort, 8001)
  t.equal(loadNodeConfig({ env: { LEAKGATE_UPSTREAM: 'http://x' }, flags: { 'check-port': '8002' } }).checkPort, 8002)
  t.throws(() => loadNodeConfig({ env: { LEAKGATE_MODE: 'check', LEAKGATE_CHECK_PORT: '8001' } }), { code: 'LEAKGATE_ERR_CONFIG', message: /checkPort option \(LEAKGATE_CHECK_PORT, --check-port\) is for proxy mode/ })
})

import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import t from 'tap'
import { parse } from 'yaml'
import { controlPlaneSchema, defaultControlPlaneConfig, loadControlPlaneConfig } from './config.js'

t.test('defaults, env over file, flags over env', async (t) => {
  const d = defaultControlPlaneConfig()
  t.equal(d.port, 8080)
  t.equal(d.dataDir, './data')
  t.equal(d.defaultAction, 'monitor')
  t.equal(d.autoBlockRisk, 'off')
  t.same(d.limits, { tokensPerLeak: 100, sightingsPerBatch: 1000, changesPerResponse: 10_000, sightingsKeptPerLeak: 1000 })
  t.ok(Object.isFrozen(d))
  const c = loadControlPlaneConfig({ env: { LEAKGATE_CP_PORT: '9000', LEAKGATE_AUTO_BLOCK_RISK: 'high' }, flags: { port: '9001' } })
  t.equal(c.port, 9001)
  t.equal(c.autoBlockRisk, 'high')
})

t.test('bad values name the option, env variable and flag; secrets are not echoed', async (t) => {
  t.throws(() => loadControlPlaneConfig({ env: { LEAKGATE_DEFAULT_ACTION: 'allow' } }), { code: 'LEAKGATE_ERR_CONFIG', message: /defaultAction option \(LEAKGATE_DEFAULT_ACTION, --default-action\)/ })
  const err = (() => {
    try {
      loadControlPlaneConfig({ env: { LEAKGATE_ADMIN_KEY: 'short secret value' } })
    } catch (e) {
      return e as Error
    }
    return undefined
  })()
  t.match(err?.message, /adminKey option \(LEAKGATE_ADMIN_KEY\)/)
  t.notOk(err?.message.includes('short secret value'))
  const same = 'lgk_0123456789012345678901234567890123456789'
  t.throws(() => loadControlPlaneConfig({ env: { LEAKGATE_ADMIN_KEY: same, LEAKGATE_NODE_KEY: same } }), /must differ/)
})

t.test('config/control-plane.yaml documents every option with its default, and loads', async (t) => {
  const file = new URL('../config/control-plane.yaml', import.meta.url)
  const text = readFileSync(file, 'utf8')
  const doc = parse(text) as Record<string, unknown>
  for (const [key, prop] of Object.entries(controlPlaneSchema.properties)) {
    if (prop['x-secret'] === true) {
      t.notOk(key in doc, `${key} is a secret: env only, not in the file`)
      t.match(text, new RegExp(`${prop['x-env'] ?? ''}`), `${key}'s env variable is mentioned`)
      continue
    }
    t.ok(key in doc, `${key} is in the file`)
    t.same(doc[key], prop.default, `${key} has its default`)
  }
  t.same(loadControlPlaneConfig({ file: file.pathname }), defaultControlPlaneConfig())
})

t.test('a headers timeout longer than the request timeout is refused', async (t) => {
  t.throws(() => loadControlPlaneConfig({ env: { LEAKGATE_REQUEST_TIMEOUT: '5', LEAKGATE_HEADERS_TIMEOUT: '6' } }), /headersTimeoutSeconds.*must not exceed requestTimeoutSeconds/)
  t.equal(loadControlPlaneConfig({ env: { LEAKGATE_REQUEST_TIMEOUT: '5', LEAKGATE_HEADERS_TIMEOUT: '5' } }).headersTimeoutSeconds, 5)
})

t.test('a hash key shorter than 32 bytes, not hex, or a pattern is refused, naming the option', async (t) => {
  const key = randomBytes(32).toString('hex')
  t.equal(loadControlPlaneConfig({ env: { LEAKGATE_HASH_KEY: key } }).hashKey, key)
  for (const bad of [randomBytes(31).toString('hex'), `${key.slice(0, 63)}z`, 'ab'.repeat(32), `${key}0`]) {
    const thrown = t.throws(() => loadControlPlaneConfig({ env: { LEAKGATE_HASH_KEY: bad } }), { code: 'LEAKGATE_ERR_CONFIG' }) as Error
    t.match(thrown.message, /hashKey option \(LEAKGATE_HASH_KEY\)/)
    t.notMatch(thrown.message, bad, 'the key is not echoed')
  }
  t.throws(() => defaultControlPlaneConfig({ hashKey: 'ab'.repeat(16) }), { code: 'LEAKGATE_ERR_CONFIG' })
})

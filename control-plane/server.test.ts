import t from 'tap'
import { main } from './server.js'
import { generateKey, keyIdOf } from './store/keys.js'
import { runMain, tempDir, waitFor } from './test/harness.js'
import { request, spawnPlane } from './test/process.js'

const run = (argv: string[]) => runMain(main, argv)

t.test('--help lists every option with its env variable and default', async (t) => {
  const res = await run(['--help'])
  t.equal(res.code, 0)
  t.match(res.out, /usage: leakgate control-plane/)
  t.match(res.out, /--port\s+LEAKGATE_CP_PORT/)
  t.match(res.out, /LEAKGATE_DATA_DIR/)
  t.match(res.out, /LEAKGATE_ADMIN_KEY/)
})

t.test('an unknown flag exits 2; a bad value is a config error naming the option', async (t) => {
  const res = await run(['--nope'])
  t.equal(res.code, 2)
  t.match(res.err, /Unknown option '--nope'/)
  await t.rejects(main(['--port', 'eighty']), { code: 'LEAKGATE_ERR_CONFIG', message: /port option from flag --port must be a number/ })
  await t.rejects(main(['--auto-block-risk', 'sometimes']), { code: 'LEAKGATE_ERR_CONFIG', message: /autoBlockRisk option \(LEAKGATE_AUTO_BLOCK_RISK, --auto-block-risk\)/ })
})

t.test('a seeded admin key a person revoked is said to be unusable at the next start, not met with 401s alone', async (t) => {
  const dataDir = tempDir(t)
  const seededKey = generateKey()
  const env = { LEAKGATE_DATA_DIR: dataDir, LEAKGATE_ADMIN_KEY: seededKey }
  const first = await spawnPlane(t, env)
  const other = await request(`${first.url}/v1/keys`, seededKey, 'POST', { role: 'admin', name: 'second admin' })
  t.equal(other.status, 201)
  const otherKey = (other.json() as { key: string }).key
  const revoked = await request(`${first.url}/v1/keys/${keyIdOf(seededKey)}/revoke`, otherKey, 'POST', {})
  t.equal(revoked.status, 200)
  await first.kill('SIGTERM')

  const second = await spawnPlane(t, env)
  await waitFor('the warning', () => second.output().includes('LEAKGATE_ADMIN_KEY is not usable'), 10_000)
  t.match(second.output(), /LEAKGATE_ADMIN_KEY is not usable \(this API key \(key_[0-9a-f]{8}\) was revoked at [^)]+\): set a new key in it/)
  t.notOk(second.output().includes(seededKey), 'the key itself is not logged')
  t.equal((await request(`${second.url}/v1/leaks`, seededKey)).status, 401, 'and it stays revoked')
})

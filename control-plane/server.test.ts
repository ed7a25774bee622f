import t from 'tap'
import { main } from './server.js'
import { runMain } from './test/harness.js'

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

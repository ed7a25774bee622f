import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { main } from './keys-cli.js'
import { Store } from './store/store.js'
import { runMain, tempDir } from './test/harness.js'

const run = (argv: string[]) => runMain(main, argv)

t.test('keys create prints the key once and stores only its hash', async (t) => {
  const dir = tempDir(t)
  const res = await run(['create', '--role', 'analyst', '--data-dir', dir])
  t.equal(res.code, 0)
  const key = res.out.trim()
  t.match(key, /^lgk_[0-9A-Za-z]{40}$/)
  t.match(res.err, /created analyst key key_[0-9a-f]{8}/)
  const store = await Store.open(dir)
  t.same((await store.keys.verify(key))?.role, 'analyst')
  await store.close()
  for (const f of readdirSync(dir)) t.notOk(readFileSync(join(dir, f)).includes(key), `the key is not in ${f}`)
})

t.test('bad usage exits 2 with a clear message', async (t) => {
  const dir = tempDir(t)
  t.match(await run(['create', '--data-dir', dir]), { code: 2, err: /--role must be one of admin, analyst, node/ })
  t.match(await run(['create', '--role', 'root', '--data-dir', dir]), { code: 2, err: /got "root"/ })
  t.match(await run(['delete', '--role', 'admin']), { code: 2, err: /expected the command "create"/ })
  t.match(await run(['create', '--nope']), { code: 2 })
  t.match(await run(['--help']), { code: 0, out: /usage: leakgate keys create/ })
})

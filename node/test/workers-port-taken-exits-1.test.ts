/**
 * A node on two processes whose proxy port is taken exits 1 with one fatal line naming the port and its
 * option, as a single process does: a worker that cannot listen is a node that cannot start.
 */
import { createServer, type AddressInfo } from 'node:net'
import t from 'tap'
import { spawnNode } from './cli-process.js'
import { tempDir } from './helpers.js'

// Three processes each compile the TypeScript sources at start: minutes on a loaded machine, past the default file timeout.
t.setTimeout(360_000)

t.test('two workers, the proxy port taken: exit 1, one line naming the port and its option', async (t) => {
  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => taken.close(() => resolve())))
  const port = (taken.address() as AddressInfo).port
  const p = spawnNode(t, ['--upstream', 'http://127.0.0.1:9', '--host', '127.0.0.1', '--admin-host', '127.0.0.1', '--port', String(port), '--admin-port', '0'], {
    LEAKGATE_WORKERS: '2', LEAKGATE_CACHE_DIR: tempDir(t), LEAKGATE_CONTROL_PLANE: 'http://127.0.0.1:9',
  })
  t.equal(await p.exit, 1, 'the process ends with exit code 1')
  const fatal = p.logs().filter((l) => l.level === 60)
  t.equal(fatal.length, 1, 'one fatal line')
  t.match(String(fatal[0]?.msg), `cannot listen on 127.0.0.1:${port}: the port is already in use`)
  t.match(String(fatal[0]?.msg), 'LEAKGATE_PORT')
  t.notMatch(p.stdout, 'leakgate node listening')
})

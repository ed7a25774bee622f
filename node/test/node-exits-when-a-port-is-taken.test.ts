/**
 * A node whose proxy port or admin port is taken exits non-zero with one line naming the port and its
 * option, instead of running on with /healthz answering 200 and no proxy behind it.
 */
import t from 'tap'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { spawnNode } from './cli-process.js'
import type { Teardown } from './helpers.js'

/** A plain TCP server on 127.0.0.1, standing on a port the node will be told to use. */
async function takePort(t: Teardown): Promise<number> {
  const server: Server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return (server.address() as AddressInfo).port
}

const BASE = ['--upstream', 'http://127.0.0.1:9', '--host', '127.0.0.1', '--admin-host', '127.0.0.1']

for (const [which, flag, other, env] of [
  ['proxy', '--port', '--admin-port', 'LEAKGATE_PORT'],
  ['admin', '--admin-port', '--port', 'LEAKGATE_ADMIN_PORT'],
] as const) {
  t.test(`the ${which} port taken: exit 1, one line naming the port and its option`, async (t) => {
    const port = await takePort(t)
    const p = spawnNode(t, [...BASE, flag, String(port), other, '0'], { LEAKGATE_CACHE_DIR: '/nonexistent/leakgate-test-cache', LEAKGATE_CONTROL_PLANE: 'http://127.0.0.1:9' })
    t.equal(await p.exit, 1, 'the process ends with exit code 1')
    const fatal = p.logs().filter((l) => l.level === 60)
    t.equal(fatal.length, 1, 'one fatal line')
    const msg = String(fatal[0]?.msg)
    t.match(msg, `cannot listen on 127.0.0.1:${port}`)
    t.match(msg, 'already in use')
    t.match(msg, env, 'the line names the option by its env variable')
    t.match(msg, flag, 'and by its flag')
    t.notMatch(p.stdout, 'leakgate node listening', 'the node never said it was listening')
  })
}

/**
 * A node on two processes on an index file: SIGHUP reloads the primary and every worker (each logs its
 * config file reload), a changed index file reaches both workers, and the files written for the workers
 * are removed at exit.
 */
import { readdirSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { encodeSnapshot } from '../../protocol/snapshot.js'
import { sha256Hex } from '../../protocol/token-hash.js'
import { writeFileAtomic } from '../leakdb/write-file-atomic.js'
import { spawnNode } from './cli-process.js'
import { startUpstream, tempDir, waitFor } from './helpers.js'
import { blockers, first, get, readyz, REQUESTS, second, listeningWorkers } from './workers-helpers.js'

// Three processes each compile the TypeScript sources at start: minutes on a loaded machine, past the default file timeout.
t.setTimeout(360_000)

t.test('two workers on an index file: SIGHUP reloads the primary and every worker; a changed file reaches both', async (t) => {
  const upstream = await startUpstream(t)
  const dir = tempDir(t)
  const index = join(dir, 'leaks.snapshot')
  await writeFileAtomic(index, encodeSnapshot([{ sha256: sha256Hex(first), action: 'block', leakId: 7 }], 1))
  const config = join(dir, 'node.json')
  await writeFile(config, JSON.stringify({ upstream: upstream.url, logLevel: 'info', workers: '2' }))
  const p = spawnNode(t, ['--config', config, '--index', index, '--port', '0', '--admin-port', '0', '--host', '127.0.0.1', '--admin-host', '127.0.0.1'], { LEAKGATE_CACHE_DIR: join(dir, 'cache') })
  const { url, adminUrl } = await listeningWorkers(p)
  t.equal(await get(`${url}/x`, first), 403)
  t.equal(await get(`${url}/x`, second), 200, 'the second token is not in the file yet')

  await writeFile(config, JSON.stringify({ upstream: upstream.url, logLevel: 'debug', workers: '2' }))
  p.child.kill('SIGHUP')
  await p.waitForLog('reloaded the workers')
  const configLines = p.logs().filter((l) => l.msg === 'reloaded the config file')
  t.equal(configLines.length, 3, 'the primary and both workers reloaded the config file')
  t.same(new Set(configLines.map((l) => l.logLevel)), new Set(['debug']))

  // The file replaced: the primary's watch loads it, and both workers get it.
  await writeFileAtomic(index, encodeSnapshot([{ sha256: sha256Hex(first), action: 'block', leakId: 7 }, { sha256: sha256Hex(second), action: 'block', leakId: 8 }], 2))
  await waitFor('both workers at revision 2', async () => {
    const r = await readyz(adminUrl)
    return r.status === 'ready' && r.workers?.each.length === 2 && r.workers.each.every((w) => w.revision === 2)
  }, 30_000)
  const statuses: number[] = []
  for (let i = 0; i < REQUESTS; i++) statuses.push(await get(`${url}/x`, second))
  t.same(new Set(statuses), new Set([403]), 'the new entry refused by every worker')
  t.equal(blockers(p, 8).size, 2, 'both workers refused it')
  p.child.kill('SIGTERM')
  t.equal(await p.exit, 0)
  t.same(readdirSync(join(dir, 'cache', 'workers')), [], 'the index files written for the workers are removed at exit')
})

/**
 * SIGHUP reloads a running `leakgate node` in place and never kills it: the index file (even unchanged),
 * the config file's log level (other changed options are named as needing a restart), and a config file
 * that no longer loads is refused with an error line, the old settings kept.
 */
import t from 'tap'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { request } from 'undici'
import { Rng, ALPHA } from '../../control-plane/detect/corpus/random.js'
import { encodeSnapshot } from '../../protocol/snapshot.js'
import { sha256Hex } from '../../protocol/token-hash.js'
import { writeFileAtomic } from '../leakdb/write-file-atomic.js'
import { listening, spawnNode } from './cli-process.js'
import { startUpstream, tempDir, waitFor } from './helpers.js'

const rng = new Rng(0x5164)
const leaked = `lgtest_${rng.chars(36, ALPHA.base62)}`

t.test('SIGHUP reloads the index file and the log level; the node stays up', async (t) => {
  const upstream = await startUpstream(t)
  const dir = tempDir(t)
  const index = join(dir, 'leaks.snapshot')
  await writeFileAtomic(index, encodeSnapshot([{ sha256: sha256Hex(leaked), action: 'block', leakId: 7 }], 1))
  const config = join(dir, 'node.json')
  const settings = { upstream: upstream.url, logLevel: 'info' }
  await writeFile(config, JSON.stringify(settings))
  const p = spawnNode(t, ['--config', config, '--index', index, '--port', '0', '--admin-port', '0', '--host', '127.0.0.1', '--admin-host', '127.0.0.1'])
  const { url } = await listening(p)
  const status = async (): Promise<number> => {
    const res = await request(`${url}/x`, { headers: { authorization: `Bearer ${leaked}` } })
    await res.body.dump()
    return res.statusCode
  }
  t.equal(await status(), 403)
  t.notOk(p.logs().some((l) => l.msg === 'request completed'), 'at info, requests are not logged')

  await writeFile(config, JSON.stringify({ ...settings, logLevel: 'debug', maxConnections: 5 }))
  p.child.kill('SIGHUP')
  const indexLine = await p.waitForLog('reloaded the index file', (l) => l.trigger === 'SIGHUP')
  t.equal(indexLine.revision, 1, 'the index file is read again even unchanged')
  const configLine = await p.waitForLog('reloaded the config file')
  t.equal(configLine.logLevel, 'debug')
  const restart = await p.waitForLog('applied only at a restart')
  t.same(restart.restartNeeded, ['maxConnections'], 'the changed option that needs a restart is named')
  t.equal(await status(), 403, 'still blocking')
  await p.waitForLog('request completed', () => true, 10_000)
  t.pass('the new log level is in force: requests are logged at debug')

  await writeFile(config, JSON.stringify({ ...settings, logLevel: 'loud' }))
  p.child.kill('SIGHUP')
  const refused = await p.waitForLog('could not reload the config file')
  t.equal(refused.level, 50, 'logged as an error')
  t.equal((refused.err as { code: string }).code, 'LEAKGATE_ERR_CONFIG')
  t.match((refused.err as { message: string }).message, 'LEAKGATE_LOG_LEVEL', 'naming the option')
  await p.waitForLog('reloaded the index file', (l) => l.trigger === 'SIGHUP' && p.logs().filter((x) => x.msg === 'reloaded the index file').length === 2)
  t.equal(await status(), 403)
  await waitFor('the second request logged', () => p.logs().filter((l) => l.msg === 'request completed').length >= 2, 10_000)
  t.pass('the log level in force stays debug')
  t.equal(p.child.exitCode, null, 'the node is still running')
  t.equal(p.child.signalCode, null)

  p.child.kill('SIGTERM')
  t.equal(await p.exit, 0)
  t.notMatch(p.stdout + p.stderr, leaked, 'the token is in no output')
})

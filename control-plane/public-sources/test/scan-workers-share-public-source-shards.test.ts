/**
 * Scan workers on PostgreSQL following a public source (the control plane's `publicSources`): two real
 * `leakgate scan-worker` processes split `gharchive` of two shards under the same leases as `leakgate
 * watch --shards`, each commit read once, each planted token one leak, and a SIGTERM frees their
 * shards. Skipped without a test cluster (LEAKGATE_TEST_DATABASE_URL).
 */
import { spawn } from 'node:child_process'
import t from 'tap'
import { sha256Hex } from '../../../protocol/token-hash.js'
import { Store } from '../../store/store.js'
import { tempDir, waitFor } from '../../test/harness.js'
import { freshDatabase, withPostgres } from '../../test/postgres.js'
import { checkEnd, commitReads, HOURS, makeWorld } from './shard-world.js'

const root = new URL('../../../', import.meta.url)

// Several processes each: minutes on a loaded machine, more than tap's default.
t.setTimeout(300_000)

t.test('two scan workers split a public source\'s shards: each commit read once, each token one leak', withPostgres, async (t) => {
  const world = await makeWorld(t, 1805)
  world.github.commitDelayMs = 20
  const databaseUrl = await freshDatabase(t)
  const dataDir = tempDir(t)
  const open = async (): Promise<Store> => Store.openConfigured({ dataDir, databaseUrl })
  {
    const store = await open()
    await store.issuedHashes.add(world.planted.map((p) => sha256Hex(p.token)))
    await store.close()
  }
  const env = {
    PATH: process.env.PATH ?? '', LEAKGATE_DATA_DIR: dataDir, LEAKGATE_DATABASE_URL: databaseUrl, LEAKGATE_LOG_LEVEL: 'info',
    LEAKGATE_PUBLIC_SOURCES: JSON.stringify([{ source: 'gharchive', shards: 2, from: HOURS[0], to: HOURS[1], archiveUrl: world.archive.url, apiUrl: world.github.api }]),
    LEAKGATE_PUBLIC_SOURCE_LEASE_SECONDS: '5',
  }
  const workers = [1, 2].map(() => {
    const child = spawn(process.execPath, ['--import', './scripts/register-ts.js', 'cli.ts', 'scan-worker'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (b: Buffer) => { output += b.toString() })
    child.stderr.on('data', (b: Buffer) => { output += b.toString() })
    t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
    return { child, output: () => output, exited: new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code))) }
  })
  const watcher = await open()
  t.teardown(() => watcher.close())
  await waitFor('both shards read to their end', async () => {
    const rows = (await watcher.publicSources.list()).filter((r) => r.sourceId.startsWith('gharchive#'))
    return rows.length === 2 && rows.every((r) => r.cursor === '2026-11-30-11:0')
  }, 90_000)
  for (const w of workers) w.child.kill('SIGTERM')
  for (const w of workers) t.equal(await w.exited, 0, `the worker exits 0 on SIGTERM${w.child.exitCode === 0 ? '' : `: ${w.output().slice(-2000)}`}`)
  t.same([...commitReads(world).values()].filter((n) => n !== 1), [], 'no commit was read by two shards')
  t.equal(commitReads(world).size, world.commitPaths.length, 'every pushed commit was read')
  await checkEnd(t, world, dataDir, 2, open)
})

/**
 * `leakgate watch gharchive --shards N` in several processes on one store, as an operator runs it on
 * several machines: the processes split the pushes among themselves (each commit read by one shard
 * only), every planted token is one leak with each of its places once, and the units scanned are the
 * units served; stopped workers free their shards, and the next ones resume from the cursors.
 */
import t from 'tap'
import { openTestStore, waitFor } from '../../test/harness.js'
import { checkEnd, commitReads, setUp, startWorker } from './shard-world.js'

// Several processes each: minutes on a loaded machine, more than tap's default.
t.setTimeout(300_000)

t.test('three workers with --shards 3 --once split the pushes: each commit read once, each token one leak, each place once', async (t) => {
  const { world, dataDir, env } = await setUp(t, 1801)
  // Slow enough that all three are running before one could take every shard.
  world.github.commitDelayMs = 40
  const workers = [1, 2, 3].map(() => startWorker(world, env, ['--shards', '3', '--once']))
  const ends = await Promise.all(workers.map((w) => w.exited))
  for (const end of ends) t.equal(end.code, 0, `the worker exits 0${end.code === 0 ? '' : `: ${end.output.slice(-2000)}`}`)
  const reads = commitReads(world)
  t.same([...reads.keys()].sort(), [...world.commitPaths].sort(), 'every pushed commit was read')
  t.same([...reads.values()].filter((n) => n !== 1), [], 'no commit was read by two shards')
  await checkEnd(t, world, dataDir, 3)
  const owners = new Set(ends.flatMap((e) => [...e.output.matchAll(/"owner":"([^"]+)","msg":"shard taken"/g)].map((m) => m[1])))
  t.ok(owners.size >= 2, `the shards were split among the workers (${owners.size} took some)`)
  for (const p of world.planted) t.notOk(ends.some((e) => e.output.includes(p.token)), 'no token in the output')
})

t.test('workers stopped mid-run free their shards, and the next ones resume from the cursors', async (t) => {
  const { world, dataDir, env } = await setUp(t, 1804)
  world.github.commitDelayMs = 100
  const first = [1, 2].map(() => startWorker(world, env, ['--shards', '2']))
  const watcher = await openTestStore(t, dataDir)
  t.teardown(() => watcher.close())
  await waitFor('a batch of each shard committed', async () => (await watcher.publicSources.list()).filter((r) => r.sourceId.startsWith('gharchive#') && r.version > 0).length === 2, 60_000)
  for (const w of first) w.child.kill('SIGTERM')
  for (const w of first) t.equal((await w.exited).code, 0)
  const stopped = (await watcher.publicSources.list()).filter((r) => r.sourceId.startsWith('gharchive#'))
  t.ok(stopped.every((r) => r.leaseOwner === null), 'a stopped worker frees its leases at once')
  t.ok(stopped.some((r) => r.cursor !== '2026-11-30-11:0'), 'stopped before the end')
  const readBefore = commitReads(world)
  world.github.commitDelayMs = 0
  const again = [1, 2].map(() => startWorker(world, env, ['--shards', '2', '--once']))
  for (const w of again) t.equal((await w.exited).code, 0)
  await checkEnd(t, world, dataDir, 2)
  const readAfter = commitReads(world)
  const reread = [...readBefore.keys()].filter((p) => readAfter.get(p)! > readBefore.get(p)!)
  t.ok(reread.length < readBefore.size, `the restart read on from the cursors, not from the start (${reread.length} of ${readBefore.size} commits read again)`)
})

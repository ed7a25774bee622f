/**
 * Shards of `leakgate watch gharchive --shards N` when a worker dies or the source fails: a worker
 * killed with -9 has its shard taken over once its lease runs out; answers of 500 and rate limits in
 * the middle delay the shards but lose nothing and double nothing.
 */
import t from 'tap'
import { openTestStore, waitFor } from '../../test/harness.js'
import { checkEnd, commitReads, HOURS, setUp, startWorker } from './shard-world.js'

// Several processes each: minutes on a loaded machine, more than tap's default.
t.setTimeout(300_000)

t.test('a worker killed with -9 mid-run: another takes its shard once the lease runs out, and nothing is lost or doubled', async (t) => {
  const { world, dataDir, env } = await setUp(t, 1802)
  world.github.commitDelayMs = 150
  const lease = ['--lease-seconds', '2']
  const doomed = startWorker(world, env, ['--shards', '2', ...lease])
  const survivor = startWorker(world, env, ['--shards', '2', ...lease])
  const watcher = await openTestStore(t, dataDir)
  t.teardown(() => watcher.close())
  await waitFor('both workers hold a shard and read commits', async () => {
    const held = (await watcher.publicSources.list()).filter((r) => r.leaseOwner !== null)
    return held.length === 2 && commitReads(world).size >= 4
  }, 60_000)
  doomed.child.kill('SIGKILL')
  await doomed.exited
  world.github.commitDelayMs = 0
  // Without --once, a worker exits once every shard has ended (the last hour read): the survivor ran
  // its own and, after the lease ran out, the killed worker's.
  const end = await survivor.exited
  t.equal(end.code, 0, `the worker exits 0${end.code === 0 ? '' : `: ${end.output.slice(-2000)}`}`)
  t.match(end.output, /"msg":"shard taken"[\s\S]*"msg":"shard taken"/, 'the survivor took a second shard')
  await checkEnd(t, world, dataDir, 2)
  t.same([...commitReads(world).keys()].sort(), [...world.commitPaths].sort(), 'every pushed commit was read')
})

t.test('500s and rate limits (429, 403 with Retry-After) in the middle: the cursor waits, and everything is found once', async (t) => {
  const { world, dataDir, env } = await setUp(t, 1803)
  world.archive.failures.set(`${HOURS[1]}.json.gz`, [500, 503])
  world.github.failures.set('/repos/', [
    { pass: true }, { status: 500 }, { pass: true }, { rateLimit: 429, retryAfter: 1 }, { pass: true }, { pass: true },
    { rateLimit: 403, retryAfter: 1 }, { status: 502 }, { pass: true }, { status: 500 },
  ])
  const workers = [1, 2].map(() => startWorker(world, env, ['--shards', '2', '--lease-seconds', '5']))
  const ends = await Promise.all(workers.map((w) => w.exited))
  for (const end of ends) t.equal(end.code, 0, `the worker exits 0${end.code === 0 ? '' : `: ${end.output.slice(-2000)}`}`)
  t.match(ends.map((e) => e.output).join(''), /batch failed; the cursor stays/, 'reads failed on the way')
  await checkEnd(t, world, dataDir, 2)
  const store = await openTestStore(t, dataDir)
  t.teardown(() => store.close())
  const rows = (await store.publicSources.list()).filter((r) => r.sourceId.startsWith('gharchive#'))
  t.ok(rows.reduce((n, r) => n + r.errors, 0) >= 3, 'the failures are counted on the shards\' rows')
  t.ok(rows.every((r) => r.lastError === null), 'and cleared as last error once a batch committed')
})


/**
 * `leakgate watch gharchive --shards N` in several processes on one store, as an operator runs it on
 * several machines: over a local GH Archive and GitHub API holding pushes with tokens of ours planted,
 * the processes split the pushes among themselves (each commit read by one shard only), every planted
 * token is one leak with each of its places once, and the units scanned are the units served; a
 * worker killed with -9 has its shard taken over once its lease runs out; answers of 500 and rate
 * limits in the middle delay but lose nothing; a stopped worker's shards resume where they stopped.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import t, { type Test } from 'tap'
import { sha256Hex } from '../../../protocol/token-hash.js'
import { Rng } from '../../detect/corpus/random.js'
import { openTestStore, tempDir, testDatabaseEnv, waitFor, type Teardown } from '../../test/harness.js'
import { hourFileOf, startFakeArchive, type FakeArchive } from './fake-archive.js'
import { startFakeGitHub, type FakeEvent, type FakeGitHub } from './fake-github.js'

const root = new URL('../../../', import.meta.url)
const HOURS = ['2026-11-30-9', '2026-11-30-10'] as const
const PUSHES_AN_HOUR = 24

/** A planted token: its value (in memory only) and the places it was pushed to. */
interface Planted {
  token: string
  places: Array<{ repo: string; commit: string; path: string }>
}

/** The world the workers read: GH Archive's two hours, the commits behind them, our tokens among them. */
interface World {
  github: FakeGitHub
  archive: FakeArchive
  planted: Planted[]
  /** Units the API serves (a file's added lines each, every one different). */
  units: number
  /** The commits' API paths. */
  commitPaths: string[]
}

async function makeWorld(t: Teardown, seed: number): Promise<World> {
  const rng = new Rng(seed)
  const github = await startFakeGitHub(t)
  const archive = await startFakeArchive(t)
  const sha = (): string => rng.chars(40, '0123456789abcdef')
  const planted: Planted[] = Array.from({ length: 5 }, () => ({ token: `acme_live_${rng.chars(40, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789')}`, places: [] }))
  // Where each token goes (push number of all 48): the first token twice, in both hours.
  const at = new Map<number, Planted>([[3, planted[0]!], [30, planted[0]!], [7, planted[1]!], [15, planted[2]!], [26, planted[3]!], [44, planted[4]!]])
  let units = 0
  const commitPaths: string[] = []
  for (const [h, hour] of HOURS.entries()) {
    const events: FakeEvent[] = []
    for (let i = 0; i < PUSHES_AN_HOUR; i++) {
      const n = h * PUSHES_AN_HOUR + i
      const repo = `org${n}/app${n}`
      const commit = sha()
      const files = [
        { filename: 'README.md', status: 'modified' as const, patch: `@@ -1 +1,2 @@\n # app ${n}\n+release ${n} ${rng.chars(12, 'abcdefghijklmnopqrstuvwxyz')}` },
        { filename: 'src/main.js', status: 'added' as const, patch: `@@ -0,0 +1,2 @@\n+// ${n}\n+export const v = ${n}` },
      ]
      const token = at.get(n)
      if (token !== undefined) {
        files.push({ filename: 'deploy/.env', status: 'added', patch: `@@ -0,0 +1,2 @@\n+APP=${n}\n+TOKEN=${token.token}` })
        token.places.push({ repo, commit, path: 'deploy/.env' })
      }
      units += files.length
      commitPaths.push(`/repos/${repo}/commits/${commit}`)
      const id = github.push(repo, [{ sha: commit, files }])
      events.push(github.events.find((e) => e.id === id)!)
    }
    archive.hours.set(`${hour}.json.gz`, hourFileOf(events))
  }
  return { github, archive, planted, units, commitPaths }
}

/** A `leakgate watch gharchive --shards` process; `exited` resolves with its code and output. */
function startWorker(world: World, env: Record<string, string>, extra: string[]): { child: ChildProcess; exited: Promise<{ code: number | null; output: string }> } {
  const child = spawn(process.execPath, [
    '--import', './scripts/register-ts.js', 'cli.ts', 'watch', 'gharchive', '--from', HOURS[0], '--to', HOURS[1],
    '--archive-url', world.archive.url, '--api-url', world.github.api, ...extra,
  ], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.on('data', (b: Buffer) => { output += b.toString() })
  child.stderr!.on('data', (b: Buffer) => { output += b.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
  const exited = new Promise<{ code: number | null; output: string }>((resolve) => child.once('exit', (code) => {
    clearTimeout(timer)
    resolve({ code, output })
  }))
  return { child, exited }
}

async function setUp(t: Teardown, seed: number): Promise<{ world: World; dataDir: string; env: Record<string, string> }> {
  const dataDir = tempDir(t)
  const world = await makeWorld(t, seed)
  const store = await openTestStore(t, dataDir)
  await store.issuedHashes.add(world.planted.map((p) => sha256Hex(p.token)))
  await store.close()
  const env = { PATH: process.env.PATH ?? '', LEAKGATE_DATA_DIR: dataDir, LEAKGATE_LOG_LEVEL: 'info', ...await testDatabaseEnv(t, dataDir) }
  return { world, dataDir, env }
}

/**
 * The end every run must reach: each planted token one leak, each place it was pushed to once and no
 * other, every shard's cursor past the last hour and its lease free, the units scanned the units served.
 */
async function checkEnd(t: Test, world: World, dataDir: string, shards: number): Promise<void> {
  const store = await openTestStore(t, dataDir)
  try {
    const leaks = (await store.leaks.list({ limit: 100 })).items
    t.equal(leaks.length, world.planted.length, 'each planted token is one leak')
    const placesOf = new Map<number, Array<{ sourceId: string; repo: string | undefined; commit: string | undefined; path: string | undefined }>>()
    for (const l of leaks) placesOf.set(l.id, (await store.publicSources.placesOf(l.id)).map((x) => ({ sourceId: x.sourceId, repo: x.location.repo, commit: x.location.commit, path: x.location.path })))
    for (const p of world.planted) {
      const places = [...placesOf.values()].find((list) => list.some((x) => x.commit === p.places[0]!.commit)) ?? []
      t.same(places.map(({ repo, commit, path }) => ({ repo, commit, path })).sort(byCommit), [...p.places].sort(byCommit), 'each place of the token recorded once')
      t.ok(places.every((x) => x.sourceId === 'gharchive'), 'places name the source, not the shard')
    }
    const rows = (await store.publicSources.list()).filter((r) => r.sourceId.startsWith('gharchive#'))
    t.same(rows.map((r) => r.sourceId).sort(), Array.from({ length: shards }, (_, i) => `gharchive#${i + 1}/${shards}`).sort(), 'a cursor row a shard')
    for (const r of rows) {
      t.equal(r.cursor, '2026-11-30-11:0', `${r.sourceId} read both hours`)
      t.equal(r.leaseOwner, null, `${r.sourceId}'s lease was freed`)
    }
    t.equal(rows.reduce((n, r) => n + r.units, 0), world.units, 'the units scanned are the units served: none twice, none left out')
  } finally {
    await store.close()
  }
}

function byCommit(a: { commit?: string | undefined }, b: { commit?: string | undefined }): number {
  return (a.commit ?? '') < (b.commit ?? '') ? -1 : 1
}

/** How many times each commit was read. */
function commitReads(world: World): Map<string, number> {
  const reads = new Map<string, number>()
  for (const r of world.github.seen) if (r.path.startsWith('/repos/')) reads.set(r.path, (reads.get(r.path) ?? 0) + 1)
  return reads
}

t.test('three workers with --shards 3 --once split the pushes: each commit read once, each token one leak, each place once', async (t) => {
  const { world, dataDir, env } = await setUp(t, 1801)
  // Slow enough that all three are running before one could take every shard.
  world.github.commitDelayMs = 40
  const workers = [1, 2, 3].map(() => startWorker(world, env, ['--shards', '3', '--once']))
  const ends = await Promise.all(workers.map((w) => w.exited))
  for (const end of ends) t.equal(end.code, 0, end.output.slice(-2000))
  const reads = commitReads(world)
  t.same([...reads.keys()].sort(), [...world.commitPaths].sort(), 'every pushed commit was read')
  t.same([...reads.values()].filter((n) => n !== 1), [], 'no commit was read by two shards')
  await checkEnd(t, world, dataDir, 3)
  const owners = new Set(ends.flatMap((e) => [...e.output.matchAll(/"owner":"([^"]+)","msg":"shard taken"/g)].map((m) => m[1])))
  t.ok(owners.size >= 2, `the shards were split among the workers (${owners.size} took some)`)
  for (const p of world.planted) t.notOk(ends.some((e) => e.output.includes(p.token)), 'no token in the output')
})

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
  t.equal(end.code, 0, end.output.slice(-2000))
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
  for (const end of ends) t.equal(end.code, 0, end.output.slice(-2000))
  t.match(ends.map((e) => e.output).join(''), /batch failed; the cursor stays/, 'reads failed on the way')
  await checkEnd(t, world, dataDir, 2)
  const store = await openTestStore(t, dataDir)
  t.teardown(() => store.close())
  const rows = (await store.publicSources.list()).filter((r) => r.sourceId.startsWith('gharchive#'))
  t.ok(rows.reduce((n, r) => n + r.errors, 0) >= 3, 'the failures are counted on the shards\' rows')
  t.ok(rows.every((r) => r.lastError === null), 'and cleared as last error once a batch committed')
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

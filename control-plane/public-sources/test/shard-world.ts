/**
 * The world the shard tests read: two hours of GH Archive (a local archive and GitHub API, fake-archive.ts
 * and fake-github.ts) with tokens of ours planted in some pushes, `leakgate watch gharchive --shards`
 * processes over it, and the end every run must reach.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import type { Test } from 'tap'
import { sha256Hex } from '../../../protocol/token-hash.js'
import { Rng } from '../../detect/corpus/random.js'
import type { Store } from '../../store/store.js'
import { openTestStore, tempDir, testDatabaseEnv, type Teardown } from '../../test/harness.js'
import { hourFileOf, startFakeArchive, type FakeArchive } from './fake-archive.js'
import { startFakeGitHub, type FakeEvent, type FakeGitHub } from './fake-github.js'

const root = new URL('../../../', import.meta.url)
export const HOURS = ['2026-11-30-9', '2026-11-30-10'] as const
const PUSHES_AN_HOUR = 24

/** A planted token: its value (in memory only) and the places it was pushed to. */
export interface Planted {
  token: string
  places: Array<{ repo: string; commit: string; path: string }>
}

/** The world the workers read: GH Archive's two hours, the commits behind them, our tokens among them. */
export interface World {
  github: FakeGitHub
  archive: FakeArchive
  planted: Planted[]
  /** Units the API serves (a file's added lines each, every one different). */
  units: number
  /** The commits' API paths. */
  commitPaths: string[]
}

/** Two hours of 24 pushes each (two or three files a commit), five tokens of ours planted, the first one twice. */
export async function makeWorld(t: Teardown, seed: number): Promise<World> {
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
export function startWorker(world: World, env: Record<string, string>, extra: string[]): { child: ChildProcess; exited: Promise<{ code: number | null; output: string }> } {
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

/** A world, a store (SQLite file, or PostgreSQL in that pass) knowing the planted tokens' hashes, the workers' env. */
export async function setUp(t: Teardown, seed: number): Promise<{ world: World; dataDir: string; env: Record<string, string> }> {
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
export async function checkEnd(t: Test, world: World, dataDir: string, shards: number, open: () => Promise<Store> = async () => openTestStore(t, dataDir)): Promise<void> {
  const store = await open()
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
export function commitReads(world: World): Map<string, number> {
  const reads = new Map<string, number>()
  for (const r of world.github.seen) if (r.path.startsWith('/repos/')) reads.set(r.path, (reads.get(r.path) ?? 0) + 1)
  return reads
}


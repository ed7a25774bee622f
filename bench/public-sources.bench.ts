/**
 * Public sources at internet scale: `leakgate watch gharchive` over a generated GH Archive hour served
 * locally (bench/gharchive-hour.ts: the hour's file and the commits API of its pushes), with W worker
 * processes. Per run: wall time, events a second and MB a second of diff scanned (per worker too), the
 * CPU of the workers and of the local server, and the recall of the planted tokens of ours (each one
 * leak, each planted place recorded) with no leak made of other providers' tokens.
 *
 *   node --import ./scripts/register-ts.js bench/public-sources.bench.ts [--events 250000] [--workers 1,2,4] [--rounds 2]
 *     [--database-url postgres://...] [--profile DIR]
 *
 * Runs are interleaved (W=1, W=2, W=4, then again), each on a fresh SQLite data folder (or, with
 * `--database-url URL`, a fresh database made on that PostgreSQL server and dropped after), the
 * planted tokens' SHA-256s registered as issued before it starts. W > 1 needs `--shards` in `leakgate watch gharchive`
 * (N processes, each taking a free shard of the hour's pushes); without it, only W=1 runs.
 *
 * The workers run from the sources through the TypeScript loader, as every bench here does; their
 * start (3 to 4 CPU seconds; 2 to 19 s of wall on a loaded machine) is reported apart from the time spent on the hour.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { Store } from '../control-plane/store/store.js'
import { generateHour, serveHour, type GeneratedHour, type HourServer } from './gharchive-hour.js'
import { median } from './stats.js'

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '250000' },
    planted: { type: 'string', default: '300' },
    others: { type: 'string', default: '1500' },
    workers: { type: 'string', default: '1,2,4' },
    rounds: { type: 'string', default: '2' },
    seed: { type: 'string', default: '1607' },
    profile: { type: 'string' },
    'database-url': { type: 'string' },
    help: { type: 'boolean' },
  },
})
if (values.help === true) {
  console.log('usage: node --import ./scripts/register-ts.js bench/public-sources.bench.ts [--events N] [--planted N] [--others N] [--workers 1,2,4] [--rounds N] [--seed N] [--profile DIR: the workers\' CPU profiles] [--database-url postgres://...: a fresh database on that server each run, instead of SQLite]')
  process.exit(0)
}

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const HOUR = '2026-11-30-9'
const EVENTS = positive(values.events, 'events')
const ROUNDS = positive(values.rounds, 'rounds')
const WANTED = values.workers.split(',').map((w) => positive(w, 'workers'))

function positive(s: string, name: string): number {
  const n = Number(s)
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`--${name} must be a positive integer, got ${s}`)
  return n
}

/** True when `leakgate watch gharchive` takes `--shards` (the source split between processes). */
function shardsSupported(): boolean {
  return readFileSync(join(ROOT, 'control-plane/public-sources/watch-cli.ts'), 'utf8').includes('shards')
}

/** What one run measured. */
interface Run {
  workers: number
  wallS: number
  /** From the first worker's start to the last one's exit, without the workers' own start. */
  hourS: number
  startS: number
  scannedBytes: number
  unitsScanned: number
  units: number
  batches: number
  /** Batches that failed and were read again (a store busy, a cursor moved): from the workers' logs. */
  failedBatches: number
  workerCpuS: number
  workerMaxRssMiB: number
  serverCpuS: number
  commitsServed: number
  recall: Recall
  load: number
}

/** The planted tokens found as they should be. */
interface Recall {
  planted: number
  /** Planted tokens with exactly one leak. */
  oneLeak: number
  /** Leaks that are no planted token (other providers' tokens taken for ours: must be 0). */
  strangers: number
  /** Planted places (not repeating content seen before) recorded, of those planted. */
  placesRecorded: number
  places: number
  /** Planted places whose content was recorded there or at a fork repeating it (must be all). */
  contentsRecorded: number
  /** Places in a fork's repeat of content seen before, recorded anyway (the repeat was scanned first). */
  repeatPlacesRecorded: number
  repeatPlaces: number
  /** Recorded places that were not planted anywhere. */
  wrongPlaces: number
}

/** Reads a worker's JSON log lines: when it started watching, and its batches' counts. */
function parseLog(text: string): { watchingAt: number | undefined; scanned: number; bytes: number; units: number; batches: number; errors: string[] } {
  let watchingAt: number | undefined
  let scanned = 0
  let bytes = 0
  let units = 0
  let batches = 0
  const errors: string[] = []
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue
    let entry: { msg?: string; time?: number; scanned?: number; bytes?: number; units?: number; err?: { message?: string } }
    try {
      entry = JSON.parse(line) as typeof entry
    } catch {
      continue
    }
    if (entry.msg === 'watching' && entry.time !== undefined) watchingAt = entry.time
    if (entry.msg === 'batch committed') {
      batches++
      scanned += entry.scanned ?? 0
      bytes += entry.bytes ?? 0
      units += entry.units ?? 0
    }
    if (entry.err?.message !== undefined) errors.push(entry.err.message)
  }
  return { watchingAt, scanned, bytes, units, batches, errors }
}

/** Runs one worker process to its end; answers its log and CPU (user + system seconds, from /usr/bin/time). */
async function runWorker(server: HourServer, where: Where, workers: number, timeFile: string): Promise<{ log: string; code: number | null; cpuS: number; maxRssKiB: number }> {
  const args = ['-f', '%U %S %M', '-o', timeFile, process.execPath, ...(values.profile === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', values.profile]), '--import', './scripts/register-ts.js', 'cli.ts', 'watch', 'gharchive',
    '--from', HOUR, '--to', HOUR, '--once', '--archive-url', server.url, '--api-url', server.url, '--data-dir', where.dataDir, ...(where.databaseUrl === undefined ? [] : ['--database-url', where.databaseUrl]),
    ...(workers > 1 ? ['--shards', String(workers)] : [])]
  const env: NodeJS.ProcessEnv = { ...process.env, LEAKGATE_LOG_LEVEL: 'info' }
  delete env.GITHUB_TOKEN
  delete env.LEAKGATE_GITHUB_TOKEN
  delete env.LEAKGATE_DATABASE_URL
  const child = spawn('/usr/bin/time', args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  child.stdout.on('data', (d: Buffer) => {
    log += d.toString('utf8')
  })
  child.stderr.on('data', (d: Buffer) => {
    log += d.toString('utf8')
  })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  const [user, sys, rss] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number)
  return { log, code, cpuS: (user ?? 0) + (sys ?? 0), maxRssKiB: rss ?? 0 }
}

/** Checks the store after a run against what was planted. */
async function recallOf(where: Where, hour: GeneratedHour): Promise<Recall> {
  const store = await Store.openConfigured(where)
  try {
    const byStored = new Map(hour.planted.map((t) => [store.hashes.of(t.sha256), t]))
    const leaksOf = new Map<string, number>()
    let strangers = 0
    const placeKey = (p: { repo?: string | undefined; commit?: string | undefined; path?: string | undefined; line?: number | undefined }): string => `${p.repo ?? ''}@${p.commit ?? ''}:${p.path ?? ''}:${p.line ?? 0}`
    const recorded = new Set<string>()
    let wrongPlaces = 0
    const planted = new Set(hour.planted.flatMap((t) => t.places.map(placeKey)))
    let cursor: string | undefined
    do {
      const page = await store.leaks.list({ limit: 500, ...(cursor === undefined ? {} : { cursor }) })
      for (const leak of page.items) {
        const detail = await store.leaks.get(leak.id)
        const mine = (detail?.tokens ?? []).map((tk) => byStored.get(tk.sha256)).filter((t) => t !== undefined)
        if (mine.length === 0) {
          strangers++
          continue
        }
        for (const t of mine) leaksOf.set(t.sha256, (leaksOf.get(t.sha256) ?? 0) + 1)
        for (const place of await store.publicSources.placesOf(leak.id, 10_000)) {
          const key = placeKey(place.location)
          if (planted.has(key)) recorded.add(key)
          else wrongPlaces++
        }
      }
      cursor = page.nextCursor ?? undefined
    } while (cursor !== undefined)
    const firsts = hour.planted.flatMap((t) => t.places.filter((p) => !p.repeat))
    const repeats = hour.planted.flatMap((t) => t.places.filter((p) => p.repeat))
    // A place and the forks repeating its content are one content: scanned once, in whichever came
    // first (with shards, the fork's may), so one of them is recorded.
    const contentOf = (p: { commit: string; path: string; line: number }): string => `${p.commit}:${p.path}:${p.line}`
    const contentsRecorded = new Set([...firsts, ...repeats].filter((p) => recorded.has(placeKey(p))).map(contentOf))
    return {
      planted: hour.planted.length,
      oneLeak: hour.planted.filter((t) => leaksOf.get(t.sha256) === 1).length,
      strangers,
      placesRecorded: firsts.filter((p) => recorded.has(placeKey(p))).length,
      places: firsts.length,
      contentsRecorded: firsts.filter((p) => contentsRecorded.has(contentOf(p))).length,
      repeatPlacesRecorded: repeats.filter((p) => recorded.has(placeKey(p))).length,
      repeatPlaces: repeats.length,
      wrongPlaces,
    }
  } finally {
    await store.close()
  }
}

/** Where a run's store is: a SQLite folder, or a PostgreSQL database made for the run. */
interface Where {
  dataDir: string
  databaseUrl?: string
}

let databases = 0

/** A fresh database on the server of `adminUrl` (dropped by the function answered). */
async function freshDatabase(adminUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `leakgate_pbench_${process.pid}_${++databases}`
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE ${name}`)
  } finally {
    await admin.end()
  }
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl })
      await c.connect()
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      } finally {
        await c.end()
      }
    },
  }
}

/** One run: a fresh store with the planted hashes issued, W workers on the hour, then the checks. */
async function run(hour: GeneratedHour, server: HourServer, workers: number): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'leakgate-pbench-'))
  const database = values['database-url'] === undefined ? undefined : await freshDatabase(values['database-url'])
  const where: Where = { dataDir: dir, ...(database === undefined ? {} : { databaseUrl: database.url }) }
  try {
    const store = await Store.openConfigured(where)
    await store.issuedHashes.add(hour.planted.map((t) => t.sha256))
    await store.close()
    const servedBefore = server.served.commits
    const load = loadavg()[0] ?? 0
    const cpuBefore = process.cpuUsage()
    const started = performance.now()
    const startedAt = Date.now()
    const results = await Promise.all(Array.from({ length: workers }, (_, i) => runWorker(server, where, workers, join(dir, `time-${i}`))))
    const wallS = (performance.now() - started) / 1000
    const cpu = process.cpuUsage(cpuBefore)
    const logs = results.map((r) => parseLog(r.log))
    for (const [i, r] of results.entries()) {
      if (r.code !== 0) throw new Error(`worker ${i} exited with ${String(r.code)}: ${r.log.slice(-2000)}`)
    }
    const watchingAt = Math.min(...logs.map((l) => l.watchingAt ?? startedAt))
    const startS = (watchingAt - startedAt) / 1000
    return {
      workers, wallS, startS, hourS: wallS - startS,
      scannedBytes: logs.reduce((n, l) => n + l.bytes, 0),
      unitsScanned: logs.reduce((n, l) => n + l.scanned, 0),
      units: logs.reduce((n, l) => n + l.units, 0),
      batches: logs.reduce((n, l) => n + l.batches, 0),
      failedBatches: logs.reduce((n, l) => n + l.errors.length, 0),
      workerCpuS: results.reduce((n, r) => n + r.cpuS, 0),
      workerMaxRssMiB: Math.max(...results.map((r) => r.maxRssKiB)) / 1024,
      serverCpuS: (cpu.user + cpu.system) / 1e6,
      commitsServed: server.served.commits - servedBefore,
      recall: await recallOf(where, hour),
      load,
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
    await database?.drop()
  }
}

const MB = 1e6
const f1 = (x: number): string => x.toFixed(1)
const f2 = (x: number): string => x.toFixed(2)

const genStarted = performance.now()
const hour = generateHour({ events: EVENTS, planted: positive(values.planted, 'planted'), others: Number(values.others), seed: positive(values.seed, 'seed'), hour: HOUR })
console.log(`generated ${hour.events} events in ${f1((performance.now() - genStarted) / 1000)} s: ${hour.pushes} pushes (${hour.repeats} repeating an earlier push's commit in a fork or mirror), ` +
  `file ${f1(hour.gz.length / MB)} MB gzipped / ${f1(hour.rawBytes / MB)} MB of JSON lines; commits API ${f1(hour.commitJsonBytes / MB)} MB of JSON, ${f1(hour.patchBytes / MB)} MB of patches; ` +
  `${hour.planted.length} tokens of ours planted at ${hour.planted.reduce((n, t) => n + t.places.length, 0)} places (${hour.planted.filter((t) => t.format === 'unknown').length} in formats no rule knows), ${hour.others} other providers' tokens`)

const server = await serveHour(hour)
const sharded = shardsSupported()
const plan = WANTED.filter((w) => w === 1 || sharded)
if (plan.length < WANTED.length) console.log(`leakgate watch gharchive takes no --shards here: W=${WANTED.filter((w) => w > 1).join(', ')} skipped`)
const runs: Run[] = []
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const w of plan) {
      const r = await run(hour, server, w)
      runs.push(r)
      const rc = r.recall
      console.log(`round ${round + 1} W=${w}: ${f1(r.wallS)} s (start ${f1(r.startS)} s, hour ${f1(r.hourS)} s), ${r.batches} batches (${r.failedBatches} failed), ${r.units} units (${r.unitsScanned} scanned, ${f1(r.scannedBytes / MB)} MB), ` +
        `workers ${f1(r.workerCpuS)} CPU s (peak RSS ${Math.round(r.workerMaxRssMiB)} MiB), server ${f1(r.serverCpuS)} CPU s, ${r.commitsServed} commits served, load ${f1(r.load)}; ` +
        `recall ${rc.oneLeak}/${rc.planted} one leak each, places ${rc.placesRecorded}/${rc.places} (+${rc.repeatPlacesRecorded}/${rc.repeatPlaces} in forks' repeats; content recorded ${rc.contentsRecorded}/${rc.places}), ${rc.strangers} other leaks, ${rc.wrongPlaces} wrong places`)
    }
  }
} finally {
  await server.close()
}

console.log(`\n| W | wall (s) | hour without start (s) | events/s | events/s a worker | diff MB/s scanned | a worker | archive MB/s (JSON) | worker CPU s | events a worker CPU s | diff MB a worker CPU s | server CPU s | recall | other leaks | load |`)
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
for (const w of plan) {
  const mine = runs.filter((r) => r.workers === w)
  const hourS = median(mine.map((r) => r.hourS))
  const scanned = median(mine.map((r) => r.scannedBytes))
  const eps = hour.events / hourS
  const cpu = median(mine.map((r) => r.workerCpuS))
  const mbs = scanned / MB / hourS
  const recall = mine.map((r) => `${r.recall.oneLeak}/${r.recall.planted}, ${r.recall.contentsRecorded}/${r.recall.places}`).join('; ')
  console.log(`| ${w} | ${mine.map((r) => f1(r.wallS)).join(', ')} | ${f1(hourS)} | ${Math.round(eps)} | ${Math.round(eps / w)} | ${f2(mbs)} | ${f2(mbs / w)} | ${f2(hour.rawBytes / MB / hourS)} | ${f1(cpu)} | ${Math.round(hour.events / cpu)} | ${f2(scanned / MB / cpu)} | ${f1(median(mine.map((r) => r.serverCpuS)))} | ${recall} | ${mine.map((r) => r.recall.strangers).join(', ')} | ${mine.map((r) => f1(r.load)).join(', ')} |`)
}
const base = runs.filter((r) => r.workers === 1)
if (base.length > 0) {
  for (const w of plan.filter((x) => x > 1)) {
    console.log(`speed-up W=${w} over W=1 (medians of the hour without start): ${f2(median(base.map((r) => r.hourS)) / median(runs.filter((r) => r.workers === w).map((r) => r.hourS)))} ×`)
  }
}
const failed = runs.some((r) => r.recall.oneLeak !== r.recall.planted || r.recall.strangers !== 0 || r.recall.contentsRecorded !== r.recall.places || r.recall.wrongPlaces !== 0)
if (failed) {
  console.error('recall below 100 %, or leaks other than the planted tokens: see the rows above')
  process.exitCode = 1
}

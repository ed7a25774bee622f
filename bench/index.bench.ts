/**
 * The leak index at scale: memory per leaked hash, clean-token check time, snapshot load time and the
 * measured bloom false-positive rate, at 1M and 10M hashes; and the `bloom-filters` package and a JS Set
 * beside it, at 1M, for the record (the speed goal: bench/RESULTS.md).
 *
 *   node --expose-gc --max-old-space-size=8000 --import ./scripts/register-ts.js bench/index.bench.ts [--sizes 1000000,10000000]
 *
 * Check times are medians over 101 batches of 10 000 checks (random clean credentials, hashing included).
 */
import { randomBytes } from 'node:crypto'
import { writeFileSync, readFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import bloomFilters from 'bloom-filters'
import { sha256Hex } from '../protocol/token-hash.js'
import { LeakIndex } from '../node/leakdb/index.js'
import { encodeSnapshot, type SnapshotEntry } from '../protocol/snapshot.js'
import { upperMedian } from './stats.js'

const { BloomFilter } = bloomFilters
const { values } = parseArgs({ options: { sizes: { type: 'string', default: '1000000,10000000' } } })
const sizes = values.sizes.split(',').map(Number)
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})

const fmt = (x: number, d = 2) => x.toFixed(d)

function* entriesOf(digests: Buffer, n: number): Generator<SnapshotEntry> {
  for (let i = 0; i < n; i++) yield { sha256: digests.subarray(i * 32, i * 32 + 32), action: i % 10 === 0 ? 'monitor' : 'block', leakId: (i % 2_000_000_000) + 1 }
}

function cleanCredentials(count: number): string[] {
  return Array.from({ length: count }, () => `sk_live_${randomBytes(18).toString('base64url')}`)
}

function medianCheckNs(index: LeakIndex, creds: string[], batches = 101, batch = 10_000): number {
  const per: number[] = []
  let sink = 0
  for (let b = 0; b < batches; b++) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < batch; i++) if (index.check(creds[(b * batch + i) % creds.length]!) !== undefined) sink++
    per.push(Number(process.hrtime.bigint() - start) / batch)
  }
  if (sink < 0) console.log(sink)
  return upperMedian(per)
}

const dir = mkdtempSync(join(tmpdir(), 'leakgate-index-bench-'))
const rows: string[] = []
try {
  for (const n of sizes) {
    const digests = randomBytes(32 * n)
    let t0 = performance.now()
    const snap = encodeSnapshot(entriesOf(digests, n), 1)
    const encodeMs = performance.now() - t0
    const file = join(dir, `index-${n}.snapshot`)
    writeFileSync(file, snap)
    gc()
    const loads: number[] = []
    let index: LeakIndex | undefined
    for (let r = 0; r < 3; r++) {
      index = undefined
      gc()
      t0 = performance.now()
      index = LeakIndex.fromSnapshot(readFileSync(file), { cacheSize: 0 })
      loads.push(performance.now() - t0)
    }
    // Typed arrays only, so their byteLength is the memory: key words, values, bucket table, bloom.
    rows.push(`| ${n.toLocaleString('en')} | memory ${fmt(index!.byteLength / n)} B a leaked hash (${fmt(index!.byteLength / 1e6, 1)} MB) |`)
    const idx = index!
    let misses = 0
    for (let i = 0; i < n; i += 97) if (idx.checkDigest(digests.subarray(i * 32, i * 32 + 32)) === undefined) misses++
    const creds = cleanCredentials(1_010_000)
    const fpBefore = idx.stats.bloomFalsePositives
    let wrongVerdicts = 0
    for (let i = 0; i < 1_000_000; i++) if (idx.check(creds[i]!) !== undefined) wrongVerdicts++
    const fpRate = (idx.stats.bloomFalsePositives - fpBefore) / 1_000_000
    const checkNs = medianCheckNs(idx, creds)
    const cached = LeakIndex.fromSnapshot(readFileSync(file), { cacheSize: 100_000 })
    const hot = cleanCredentials(1000)
    for (const c of hot) cached.check(c)
    const cachedNs = medianCheckNs(cached, hot)
    // A live change while serving: one upsert applied to an index whose LRU is full (100 000 verdicts).
    for (const c of cleanCredentials(100_000)) cached.check(c)
    const changeUs: number[] = []
    for (let i = 0; i < 101; i++) {
      const change = { rev: cached.revision + 1, op: 'upsert' as const, sha256: randomBytes(32).toString('hex'), action: 'block' as const, leakId: 1 }
      const start = process.hrtime.bigint()
      cached.applyChanges([change])
      changeUs.push(Number(process.hrtime.bigint() - start) / 1000)
    }
    rows.push(`| ${n.toLocaleString('en')} | one live change with a full LRU: median ${fmt(upperMedian(changeUs), 1)} µs, max ${fmt(Math.max(...changeUs), 1)} µs |`)
    rows.push(`| ${n.toLocaleString('en')} | snapshot ${fmt(snap.length / 1e6, 1)} MB, encode ${fmt(encodeMs / 1000)} s, load median ${fmt(upperMedian(loads) / 1000)} s (${loads.map((l) => fmt(l / 1000)).join(', ')}) |`)
    rows.push(`| ${n.toLocaleString('en')} | clean check median ${fmt(checkNs / 1000, 3)} µs (LRU off); repeated credential ${fmt(cachedNs / 1000, 3)} µs (LRU hit) |`)
    rows.push(`| ${n.toLocaleString('en')} | bloom FP ${fmt(fpRate * 100, 3)} % (bound 1 %), wrong verdicts ${wrongVerdicts} / 1M, false negatives ${misses} / ${Math.ceil(n / 97)} sampled |`)
    console.error(rows.slice(-4).join('\n'))
    rmSync(file)
    gc()
  }

  // Beside it: the bloom-filters package (default hashing: XXH64 over strings) and a Set of hex strings, at 1M.
  const n = 1_000_000
  const hexes = Array.from({ length: n }, (_, i) => sha256Hex(`leaked-${i}`))
  const probe = cleanCredentials(20_000).map((c) => sha256Hex(c))
  const sample = 20_000
  const bf = BloomFilter.create(n, 0.01)
  let t0 = performance.now()
  for (let i = 0; i < sample; i++) bf.add(hexes[i]!)
  const bfInsertUs = ((performance.now() - t0) * 1000) / sample
  const bfNs: number[] = []
  for (let r = 0; r < 11; r++) {
    t0 = performance.now()
    for (const p of probe) bf.has(p)
    bfNs.push(((performance.now() - t0) * 1e6) / probe.length)
  }
  gc()
  const before = process.memoryUsage().heapUsed
  const set = new Set(hexes)
  gc()
  const setBytes = (process.memoryUsage().heapUsed - before) / n
  const setNs: number[] = []
  for (let r = 0; r < 11; r++) {
    t0 = performance.now()
    for (const p of probe) set.has(sha256Hex(p))
    setNs.push(((performance.now() - t0) * 1e6) / probe.length)
  }
  rows.push(`| bloom-filters 3 (1M, 1 %) | insert ${fmt(bfInsertUs)} µs a key (≈ ${fmt((bfInsertUs * n) / 1e6, 1)} s for 1M, ≈ ${fmt((bfInsertUs * 1e7) / 1e6, 0)} s for 10M), lookup median ${fmt(upperMedian(bfNs) / 1000)} µs (hashing excluded) |`)
  rows.push(`| JS Set of hex (1M) | ${fmt(setBytes, 0)} B a key (keys excluded: they are shared with the input array), lookup with hashing median ${fmt(upperMedian(setNs) / 1000)} µs |`)
  console.log(['| size | figure |', '| --- | --- |', ...rows].join('\n'))
} finally {
  rmSync(dir, { recursive: true, force: true })
}

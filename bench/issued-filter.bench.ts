/**
 * The public sources' issued-hash check with and without its bloom filter, in one process: a store
 * (SQLite, in a temporary directory) holding `--issued` issued hashes (default 1,000,000), and two
 * runners on it, one with the filter (the default) and one sending every candidate's hash to the exact
 * query (`issuedFilter: false`). Each round gives both the same kind of batch, in alternating order:
 * `--units` files (default 200, a busy minute of pushes) of the detection corpus (code and config with
 * other providers' secrets and hard negatives, fresh each round so none is skipped as seen), two planted
 * tokens of ours in each batch. Printed: the median batch time and the median time of the check alone
 * (the same candidates through the filter or the exact query), candidates a batch, the filter's build
 * time and memory (its bit array, and the heap after a GC before and after the build).
 *
 *   node --expose-gc --import ./scripts/register-ts.js bench/issued-filter.bench.ts [--issued 1000000] [--rounds 15] [--units 200]
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { sha256Hex } from '../protocol/token-hash.js'
import { corpusFiles } from '../control-plane/detect/corpus/generate.js'
import { Rng } from '../control-plane/detect/corpus/random.js'
import { expandSample } from '../control-plane/detect/detectors/provider-spec.js'
import { builtinRules } from '../control-plane/detect/rules.js'
import { tokenCandidates } from '../control-plane/public-sources/candidates.js'
import { IssuedHashFilter } from '../control-plane/public-sources/issued-hash-filter.js'
import { PublicSourceRunner } from '../control-plane/public-sources/runner.js'
import { unitOf, type PublicSource, type PublicUnit, type SourceBatch } from '../control-plane/public-sources/source.js'
import { Store, DEFAULT_STORE_OPTIONS } from '../control-plane/store/store.js'
import { median } from './stats.js'

const { values: args } = parseArgs({ options: { issued: { type: 'string', default: '1000000' }, rounds: { type: 'string', default: '15' }, units: { type: 'string', default: '200' } } })
const ISSUED = Number(args.issued)
const ROUNDS = Number(args.rounds)
const UNITS = Number(args.units)
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with node --expose-gc')

/** One batch of units, served once. */
class OnceSource implements PublicSource {
  readonly leakSource = 'public'
  readonly id: string
  readonly #units: PublicUnit[]
  constructor(id: string, units: PublicUnit[]) {
    this.id = id
    this.#units = units
  }
  async read(): Promise<SourceBatch> {
    return { units: this.#units, next: 'done', state: {}, more: false }
  }
}

const dir = mkdtempSync(join(tmpdir(), 'leakgate-issued-bench-'))
const store = await Store.openConfigured({ dataDir: dir }, DEFAULT_STORE_OPTIONS)
const rng = new Rng(1616)
const ours = Array.from({ length: ROUNDS * 4 + 4 }, () => `acme_live_${expandSample('{a62:40}', rng)}`)
let t0 = performance.now()
const fill: string[] = []
for (let i = 0; i < ISSUED - ours.length; i++) fill.push(randomBytes(32).toString('hex'))
await store.issuedHashes.add([...fill, ...ours.map((o) => sha256Hex(o))])
fill.length = 0
console.log(`issued hashes: ${(await store.issuedHashes.count()).toLocaleString('en')} stored in ${((performance.now() - t0) / 1000).toFixed(1)} s`)

gc()
const heapBefore = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers
const filter = new IssuedHashFilter(store.issuedHashes)
t0 = performance.now()
await filter.refresh()
const buildMs = performance.now() - t0
gc()
const heapAfter = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers
console.log(`filter: ${filter.size.toLocaleString('en')} hashes, built in ${buildMs.toFixed(0)} ms, bit array ${(filter.byteLength / 1048576).toFixed(2)} MiB (${(filter.byteLength / filter.size).toFixed(2)} B a hash), heap + array buffers after a GC +${((heapAfter - heapBefore) / 1048576).toFixed(2)} MiB`)
t0 = performance.now()
await filter.refresh()
console.log(`refresh when nothing changed: ${(performance.now() - t0).toFixed(2)} ms`)
const uploaded = Array.from({ length: 1000 }, () => randomBytes(32).toString('hex'))
await store.issuedHashes.add(uploaded)
t0 = performance.now()
await filter.refresh()
console.log(`refresh after an upload of 1 000 hashes: ${(performance.now() - t0).toFixed(1)} ms (rebuilds ${filter.rebuilds}: the rows added since, and a count)`)
await store.issuedHashes.remove(uploaded.slice(0, 1))
t0 = performance.now()
await filter.refresh()
console.log(`refresh after a removal: ${(performance.now() - t0).toFixed(0)} ms (rebuilds ${filter.rebuilds})`)

const runners = { on: new PublicSourceRunner(store, { issuedFilter: filter }), off: new PublicSourceRunner(store, { issuedFilter: false }) }
const times: Record<'on' | 'off', { batch: number[]; check: number[] }> = { on: { batch: [], check: [] }, off: { batch: [], check: [] } }
const candidates: number[] = []
const positives: number[] = []
const rules = builtinRules()
let planted = 0
let found = 0

function unitsOf(seed: number): PublicUnit[] {
  const files = corpusFiles(seed, UNITS / 2, UNITS / 2)
  const units = files.map((f, i) => unitOf(`bench/${seed}@c${i}:${f.path}`, f.content, { repo: `bench/r${seed}`, commit: `c${i}`, path: f.path, url: `https://example.test/${seed}/${i}` }))
  // Two tokens of ours a batch, in two of its files.
  for (const at of [3, 7]) {
    const u = units[at]!
    units[at] = unitOf(u.id, `${u.content}\nTOKEN=${ours[planted++]}\n`, u.location)
  }
  return units
}

for (let round = 0; round <= ROUNDS; round++) {
  const order: Array<'on' | 'off'> = round % 2 === 0 ? ['on', 'off'] : ['off', 'on']
  for (const mode of order) {
    const units = unitsOf(round * 2 + (mode === 'on' ? 0 : 1) + 1000)
    // The check alone, on this batch's candidates (hashed and keyed as the runner does).
    const stored = new Set<string>()
    for (const u of units) for (const c of tokenCandidates(u.content, rules, u.location.path)) stored.add(store.hashes.of(sha256Hex(c.value)))
    let c0 = performance.now()
    if (mode === 'on') {
      const check = await filter.check(stored)
      if (round > 0) positives.push(check.positives)
    } else {
      await store.issuedHashes.matching(stored)
    }
    const checkMs = performance.now() - c0
    c0 = performance.now()
    const outcome = await runners[mode].runBatch(new OnceSource(`bench-${round}-${mode}`, units))
    const batchMs = performance.now() - c0
    found += outcome.leaksCreated
    if (round === 0) continue // warm-up
    times[mode].batch.push(batchMs)
    times[mode].check.push(checkMs)
    candidates.push(stored.size)
  }
}
const row = (mode: 'on' | 'off'): string => `| ${mode === 'on' ? 'bloom filter, then exact' : 'exact query only'} | ${median(times[mode].batch).toFixed(1)} | ${median(times[mode].check).toFixed(2)} |`
console.log(`\n${ROUNDS} rounds, ${UNITS} units a batch, median ${median(candidates).toFixed(0)} distinct candidates a batch, filter positives a batch median ${median(positives)} (2 of them ours)`)
console.log('| issued-hash check | batch ms (median) | check alone ms (median) |\n|---|---|---|')
console.log(row('on'))
console.log(row('off'))
console.log(`planted tokens of ours found: ${found} of ${planted}`)
await store.close()
rmSync(dir, { recursive: true, force: true })

import t from 'tap'
import { sha256Hex } from '../../protocol/token-hash.js'
import { Rng } from '../detect/corpus/random.js'
import { expandSample } from '../detect/detectors/provider-spec.js'
import { openTestStore, storeSql, tempDir } from '../test/harness.js'
import type { Store } from '../store/store.js'
import { IssuedHashFilter } from './issued-hash-filter.js'
import { PublicSourceRunner } from './runner.js'
import { unitOf, type PublicUnit } from './source.js'
import { QueueSource } from './test/queue-source.js'

const rng = new Rng(4242)
const tokenOf = (): string => `acme_live_${expandSample('{a62:40}', rng)}`
let commits = 0
const unit = (text: string): PublicUnit => {
  const commit = `c${++commits}`
  return unitOf(`someone/app@${commit}:app.env`, text, { repo: 'someone/app', commit, path: 'app.env', url: `https://github.com/someone/app/blob/${commit}/app.env` })
}

async function leakHashes(store: Store): Promise<string[]> {
  const out: string[] = []
  for (const leak of (await store.leaks.list({ limit: 100 })).items) out.push(...(await store.leaks.require(leak.id)).tokens.map((x) => x.sha256))
  return out.sort()
}

t.test('a false positive of the filter is refuted by the exact set: never a leak', async (t) => {
  const store = await openTestStore(t, tempDir(t))
  t.teardown(() => store.close())
  const ours = tokenOf()
  // Many hashes in a filter sized for a 50 % false-positive rate: positives for tokens never issued are easy to find.
  await store.issuedHashes.add([sha256Hex(ours), ...Array.from({ length: 2000 }, (_, i) => sha256Hex(`issued-${i}`))])
  const filter = new IssuedHashFilter(store.issuedHashes, { falsePositiveRate: 0.5 })
  await filter.refresh()
  let impostor: string | undefined
  for (let i = 0; i < 1000 && impostor === undefined; i++) {
    const candidate = tokenOf()
    if (filter.mayContain(store.hashes.of(sha256Hex(candidate)))) impostor = candidate
  }
  t.ok(impostor !== undefined, 'a token the filter wrongly lets through')

  const source = new QueueSource()
  source.units.push(unit(`A=${ours}\nB=${impostor}\n`))
  const outcome = await new PublicSourceRunner(store, { issuedFilter: filter }).runBatch(source)
  t.match(outcome, { leaksCreated: 1 })
  t.same(await leakHashes(store), [sha256Hex(ours)], 'our token is a leak, the filter\'s false positive is not')
})

t.test('a hash added or removed by another process is seen by the next batch', async (t) => {
  const dir = tempDir(t)
  const store = await openTestStore(t, dir)
  t.teardown(() => store.close())
  const [early, late] = [tokenOf(), tokenOf()]
  await store.issuedHashes.add([sha256Hex(early)])
  const filter = new IssuedHashFilter(store.issuedHashes)
  const runner = new PublicSourceRunner(store, { issuedFilter: filter })
  const source = new QueueSource()

  source.units.push(unit(`x=${early}\ny=${late}\n`))
  t.match(await runner.runBatch(source), { scanned: 1, leaksCreated: 1 })
  t.same(await leakHashes(store), [sha256Hex(early)], 'only the token issued so far')
  const built = filter.generation
  t.notOk(filter.mayContain(store.hashes.of(sha256Hex(late))), 'the filter alone says the late token is not issued')

  // Another control plane (a second store on the same database) issues one token and revokes the other.
  const other = await openTestStore(t, dir)
  await other.issuedHashes.add([sha256Hex(late)])
  await other.issuedHashes.remove([sha256Hex(early)])
  await other.close()

  source.units.push(unit(`again: ${early}\nand ${late}\n`))
  t.match(await runner.runBatch(source), { scanned: 1, leaksCreated: 1, leaksUpdated: 0 }, 'the late token is a leak; the revoked one is no longer ours')
  t.same(await leakHashes(store), [sha256Hex(early), sha256Hex(late)].sort())
  t.ok(filter.generation > built, 'the filter was rebuilt')
  t.ok(filter.mayContain(store.hashes.of(sha256Hex(late))))

  // Nothing changed: no rebuild, the same generation.
  const generation = filter.generation
  source.units.push(unit('nothing here\n'))
  await runner.runBatch(source)
  t.equal(filter.generation, generation)
})

t.test('an upload extends the filter (no rebuild); a removal, or a row committed out of id order, rebuilds it', async (t) => {
  const dir = tempDir(t)
  const store = await openTestStore(t, dir)
  t.teardown(() => store.close())
  const [a, b, c] = [tokenOf(), tokenOf(), tokenOf()]
  await store.issuedHashes.add([sha256Hex(a), sha256Hex('filler-1'), sha256Hex('filler-2')])
  const sql = storeSql(t, store)
  const gap = (await sql.get<{ id: number }>('SELECT id FROM issued_hashes WHERE sha256 = ?', [store.hashes.of(sha256Hex('filler-1'))]))!.id
  await store.issuedHashes.remove([sha256Hex('filler-1')]) // leaves a free id below the last one
  const filter = new IssuedHashFilter(store.issuedHashes)
  await filter.refresh()
  t.same({ rebuilds: filter.rebuilds, size: filter.size }, { rebuilds: 1, size: 2 })

  const other = await openTestStore(t, dir)
  t.teardown(() => other.close())
  await other.issuedHashes.add([sha256Hex(b)])
  t.same([...(await filter.check([store.hashes.of(sha256Hex(b))])).issued], [store.hashes.of(sha256Hex(b))], 'the added hash is found')
  t.same({ rebuilds: filter.rebuilds, size: filter.size }, { rebuilds: 1, size: 3 }, 'by adding the new rows, not rebuilding')

  // A row whose id is below the last one read, committed after the read (PostgreSQL's identity can give
  // ids out of commit order): reading the rows after the last id misses it, the count does not.
  await other.issuedHashes.add([sha256Hex(c)])
  await sql.run('UPDATE issued_hashes SET id = ? WHERE sha256 = ?', [gap, store.hashes.of(sha256Hex(c))])
  t.same([...(await filter.check([store.hashes.of(sha256Hex(c))])).issued], [store.hashes.of(sha256Hex(c))], 'the late row is found')
  t.same({ rebuilds: filter.rebuilds, size: filter.size }, { rebuilds: 2, size: 4 }, 'by a rebuild')

  await other.issuedHashes.remove([sha256Hex(a)])
  t.same([...(await filter.check([store.hashes.of(sha256Hex(a))])).issued], [])
  t.same({ rebuilds: filter.rebuilds, size: filter.size }, { rebuilds: 3, size: 3 }, 'a removal rebuilds')
})

t.test('keyed stores: the filter holds the keyed form, and a plain SHA-256 alone is not found', async (t) => {
  const store = await openTestStore(t, tempDir(t), { defaultAction: 'monitor', autoBlockRisk: 'off', sightingsKeptPerLeak: 1000, changesRetention: 1000, hashKey: { key: Buffer.alloc(32, 9) } })
  t.teardown(() => store.close())
  const ours = tokenOf()
  await store.issuedHashes.add([sha256Hex(ours)])
  const filter = new IssuedHashFilter(store.issuedHashes)
  t.same([...(await filter.check([store.hashes.of(sha256Hex(ours)), sha256Hex(ours)])).issued], [store.hashes.of(sha256Hex(ours))])
  t.equal(filter.size, 1)
  t.ok(filter.byteLength > 0)
})

t.test('an empty set: every candidate is refuted by the filter, no query', async (t) => {
  const store = await openTestStore(t, tempDir(t))
  t.teardown(() => store.close())
  const filter = new IssuedHashFilter(store.issuedHashes)
  const check = await filter.check(Array.from({ length: 500 }, (_, i) => store.hashes.of(sha256Hex(`not-issued-${i}`))))
  t.same({ issued: [...check.issued], positives: check.positives }, { issued: [], positives: 0 })
  t.throws(() => new IssuedHashFilter(store.issuedHashes, { falsePositiveRate: 1 }), TypeError)
})

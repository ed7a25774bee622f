import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { sha256Hex } from '../../protocol/token-hash.js'
import { Rng } from '../detect/corpus/random.js'
import { expandSample } from '../detect/detectors/provider-spec.js'
import { regexRule } from '../detect/rule.js'
import { builtinRules } from '../detect/rules.js'
import { scanText } from '../detect/scanner.js'
import { openTestStore, sqliteOnly, storeSql, tempDir } from '../test/harness.js'
import type { Leak } from '../store/leak-types.js'
import type { Store } from '../store/store.js'
import { CursorMovedError, ISSUED_TOKEN_KIND, PublicSourceRunner } from './runner.js'
import { unitOf, type PublicSource, type PublicUnit, type SourceBatch, type SourcePosition } from './source.js'

/**
 * A source over a list of units, two a read, its cursor the index of the next unit: a real
 * PublicSource, small enough that each test says what it serves. `failNext` makes reads throw, as a
 * source answering 500s does; `gate` holds a read until the test lets it go.
 */
class ListSource implements PublicSource {
  readonly id: string
  readonly leakSource = 'public'
  readonly units: PublicUnit[]
  failNext = 0
  gate: Promise<void> | undefined
  reads = 0

  constructor(id: string, units: PublicUnit[]) {
    this.id = id
    this.units = units
  }

  async read(position: SourcePosition): Promise<SourceBatch> {
    this.reads++
    await this.gate
    if (this.failNext > 0) {
      this.failNext--
      throw new Error('the source answered 500')
    }
    const from = position.cursor === null ? 0 : Number(position.cursor)
    const units = this.units.slice(from, from + 2)
    const next = from + units.length
    return { units, next: String(next), state: { lagSeconds: 1 }, more: next < this.units.length }
  }
}

const rng = new Rng(1515)
/** A token of ours in a format no rule knows: found only by its hash. */
const issued = `acme_live_${expandSample('{a62:40}', rng)}`
/** A token in the organisation's own format (its rule). */
const ownFormat = `acmeint_${expandSample('{lower:32}', rng)}`
/** Another provider's token (a Slack refresh token): not ours. */
const foreign = expandSample('xoxe-1-{a62:146}', rng)
const ourRule = regexRule({ id: 'acme-internal', kind: 'acme_internal_token', description: 'Acme internal token', regex: /acmeint_[a-z0-9]{32}/, keywords: ['acmeint_'] })

function diffUnit(repo: string, commit: string, path: string, text: string): PublicUnit {
  const repoUrl = `https://github.com/${repo}`
  return unitOf(`${repo}@${commit}:${path}`, text, {
    repo, repoUrl, commit, path, link: (line) => `${repoUrl}/blob/${commit}/${path}#L${line}`,
  }, '2026-12-01T10:00:00Z')
}

async function leaksOf(store: Store): Promise<Leak[]> {
  return (await store.leaks.list({ limit: 100 })).items
}

t.test('the engine finds the foreign token (so that the test of ignoring it means something)', async (t) => {
  t.equal(scanText(`refresh = "${foreign}"`, { rules: builtinRules() }).length, 1)
})

t.test('a batch keeps only our tokens, as leaks linked to the line, and advances the cursor with them', async (t) => {
  const dir = tempDir(t)
  const store = await openTestStore(t, dir)
  t.teardown(() => store.close())
  await store.issuedHashes.add([sha256Hex(issued)])
  const source = new ListSource('test-list', [
    diffUnit('someone/app', 'c1', 'config/prod.env', `\nAPI_TOKEN=${issued}\nSLACK=${foreign}\n`),
    diffUnit('someone/tool', 'c2', 'src/client.ts', `const k = '${ownFormat}'\n`),
    diffUnit('someone/lib', 'c3', 'README.md', 'nothing here\n'),
  ])
  const runner = new PublicSourceRunner(store, { ourRules: [ourRule] })

  const first = await runner.runBatch(source)
  t.match(first, { units: 2, scanned: 2, leaksCreated: 2, leaksUpdated: 0, otherFindings: 1, cursor: '2', more: true })
  const second = await runner.runBatch(source)
  t.match(second, { units: 1, scanned: 1, leaksCreated: 0, cursor: '3', more: false })

  const leaks = await leaksOf(store)
  t.equal(leaks.length, 2, 'our two tokens; not the foreign one')
  const byKind = new Map(leaks.map((l) => [l.kind, l]))
  const hashOnly = byKind.get(ISSUED_TOKEN_KIND)
  t.match(hashOnly, { source: 'public', location: { repo: 'someone/app', url: 'https://github.com/someone/app/blob/c1/config/prod.env#L2' } })
  t.match(byKind.get('acme_internal_token'), { location: { url: 'https://github.com/someone/tool/blob/c2/src/client.ts#L1' } })
  const detail = await store.leaks.require(hashOnly!.id)
  t.same(detail.tokens.map((x) => x.sha256), [sha256Hex(issued)], 'only the hash is kept')
  t.notOk(JSON.stringify(detail).includes(issued), 'the leak shows no token')

  const cursor = await store.publicSources.cursor('test-list')
  t.match(cursor, { cursor: '3', version: 2, units: 3, lastError: null, state: { lagSeconds: 1 } })
})

t.test('content seen before is not scanned again; one token at many places is one leak with each place', async (t) => {
  const dir = tempDir(t)
  const store = await openTestStore(t, dir)
  t.teardown(() => store.close())
  await store.issuedHashes.add([sha256Hex(issued)])
  const text = `token: ${issued}\n`
  const source = new ListSource('forks', [
    diffUnit('origin/app', 'c1', 'a.yml', text),
    diffUnit('fork/app', 'c1', 'a.yml', text), // the same diff pushed to a fork
    diffUnit('other/app', 'c9', 'b.yml', `\n\nx = ${issued}\n`), // the same token elsewhere
  ])
  const runner = new PublicSourceRunner(store)
  const a = await runner.runBatch(source)
  t.match(a, { units: 2, scanned: 1, leaksCreated: 1 }, 'the fork\'s copy is skipped in the same batch')
  const b = await runner.runBatch(source)
  t.match(b, { units: 1, scanned: 1, leaksCreated: 0, leaksUpdated: 1 })
  const leaks = await leaksOf(store)
  t.equal(leaks.length, 1, 'one leak for the token')
  const places = await store.publicSources.placesOf(leaks[0]!.id)
  t.same(places.map((p) => p.location.url), ['https://github.com/origin/app/blob/c1/a.yml#L1', 'https://github.com/other/app/blob/c9/b.yml#L3'])

  // The same content from another source later: skipped too.
  const again = new ListSource('another', [diffUnit('third/app', 'c1', 'a.yml', text)])
  t.match(await runner.runBatch(again), { units: 1, scanned: 0, leaksCreated: 0, leaksUpdated: 0 })
})

t.test('a failed read keeps the cursor and says why; the next read resumes there; a restart too', async (t) => {
  const dir = tempDir(t)
  let store = await openTestStore(t, dir)
  await store.issuedHashes.add([sha256Hex(issued)])
  const units = [0, 1, 2, 3, 4].map((i) => diffUnit(`r/${i}`, `c${i}`, 'f.txt', i === 3 ? `k=${issued}\n` : `line ${i}\n`))
  const source = new ListSource('flaky', units)
  let runner = new PublicSourceRunner(store)
  // Failing at its very first read: the row says so, with no cursor yet.
  source.failNext = 1
  await t.rejects(runner.runBatch(source), /answered 500/)
  t.match(await store.publicSources.cursor('flaky'), { cursor: null, version: 0, lastError: 'the source answered 500' })
  t.match(await runner.runBatch(source), { cursor: '2' })
  source.failNext = 1
  await t.rejects(runner.runBatch(source), /answered 500/)
  t.match(await store.publicSources.cursor('flaky'), { cursor: '2', version: 1, lastError: 'the source answered 500' })

  // The control plane restarts: a new store and runner on the same database read on from the cursor.
  await store.close()
  store = await openTestStore(t, dir)
  t.teardown(() => store.close())
  runner = new PublicSourceRunner(store)
  t.match(await runner.runBatch(source), { units: 2, scanned: 2, leaksCreated: 1, cursor: '4' })
  t.match(await store.publicSources.cursor('flaky'), { cursor: '4', lastError: null, units: 4 })
  t.match(await runner.runBatch(source), { units: 1, cursor: '5', more: false })
})

t.test('two workers running the same batch: one commits it, the other keeps nothing', async (t) => {
  const dir = tempDir(t)
  const store = await openTestStore(t, dir)
  t.teardown(() => store.close())
  await store.issuedHashes.add([sha256Hex(issued)])
  const source = new ListSource('shared', [diffUnit('r/x', 'c1', 'f', `k=${issued}\n`)])
  let release!: () => void
  source.gate = new Promise((resolve) => { release = resolve })
  const a = new PublicSourceRunner(store).runBatch(source)
  const b = new PublicSourceRunner(store).runBatch(source)
  // Both have read the cursor (version 0) before either commits.
  while (source.reads < 2) await new Promise((resolve) => setImmediate(resolve))
  release()
  const results = await Promise.allSettled([a, b])
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
  const failed = results.find((r) => r.status === 'rejected')
  t.ok(failed !== undefined && (failed as PromiseRejectedResult).reason instanceof CursorMovedError)
  const leaks = await leaksOf(store)
  t.equal(leaks.length, 1)
  t.equal((await store.publicSources.placesOf(leaks[0]!.id)).length, 1)
  t.match(await store.publicSources.cursor('shared'), { cursor: '1', version: 1, units: 1 })
})

t.test('issued hashes: added, replaced, removed, counted; stored keyed when the store is', async (t) => {
  const dir = tempDir(t)
  const store = await openTestStore(t, dir, { defaultAction: 'monitor', autoBlockRisk: 'off', sightingsKeptPerLeak: 1000, changesRetention: 1000, hashKey: { key: Buffer.alloc(32, 7) } })
  t.teardown(() => store.close())
  const [h1, h2, h3] = ['a', 'b', 'c'].map((x) => sha256Hex(`issued-${x}`)) as [string, string, string]
  t.same(await store.issuedHashes.add([h1, h2, h2.toUpperCase()]), { added: 2, removed: 0, total: 2 })
  t.same(await store.issuedHashes.add([h2, h3], { replace: true }), { added: 1, removed: 1, total: 2 })
  t.same(await store.issuedHashes.remove([h3, h1]), { added: 0, removed: 1, total: 1 })
  const rows = await storeSql(t, store).all<{ sha256: string }>('SELECT sha256 FROM issued_hashes')
  t.same(rows.map((r) => r.sha256), [store.hashes.of(h2)])
  t.not(rows[0]?.sha256, h2, 'keyed, not the plain SHA-256')
  t.same([...await store.issuedHashes.matching([store.hashes.of(h2), store.hashes.of(h1)])], [store.hashes.of(h2)])
})

t.test('no raw token in the SQLite file or its WAL after a batch', sqliteOnly, async (t) => {
  const dir = tempDir(t)
  const store = await openTestStore(t, dir)
  await store.issuedHashes.add([sha256Hex(issued)])
  const runner = new PublicSourceRunner(store, { ourRules: [ourRule] })
  await runner.runBatch(new ListSource('planted', [diffUnit('p/q', 'c1', 'x', `a=${issued}\nb=${ownFormat}\nc=${foreign}\n`)]))
  t.equal((await leaksOf(store)).length, 2)
  const search = (when: string): void => {
    for (const f of readdirSync(dir)) {
      const bytes = readFileSync(join(dir, f))
      for (const token of [issued, ownFormat, foreign]) t.notOk(bytes.includes(token), `no planted token in ${f} (${when})`)
    }
  }
  search('open, with its WAL')
  await store.close()
  search('closed')
})

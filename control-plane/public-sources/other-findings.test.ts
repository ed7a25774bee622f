import { execFile } from 'node:child_process'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { gzipSync } from 'node:zlib'
import t from 'tap'
import { makePreview, sha256Hex } from '../../protocol/token-hash.js'
import { Rng } from '../detect/corpus/random.js'
import { expandSample } from '../detect/detectors/provider-spec.js'
import { openTestStore, sqliteOnly, startPlane, storeSql, tempDir, testDatabaseEnv } from '../test/harness.js'
import type { Store } from '../store/store.js'
import { PublicSourceRunner } from './runner.js'
import { unitOf, type PublicUnit } from './source.js'
import { makeTar } from './tar-reader.js'
import { startFakeFeeds } from './test/fake-feeds.js'
import { QueueSource } from './test/queue-source.js'

const rng = new Rng(1919)
const ours = `acme_live_${expandSample('{a62:40}', rng)}`
/** Other providers' tokens (Slack refresh tokens): someone else's leaks. */
const foreign = expandSample('xoxe-1-{a62:146}', rng)
const foreign2 = expandSample('xoxe-1-{a62:146}', rng)

const unit = (repo: string, commit: string, path: string, text: string): PublicUnit =>
  unitOf(`${repo}@${commit}:${path}`, text, { repo, commit, path, link: (line) => `https://github.com/${repo}/blob/${commit}/${path}#L${line}` })

async function rowCount(t: Parameters<typeof storeSql>[0], store: Store): Promise<number> {
  return (await storeSql(t, store).get<{ n: number }>('SELECT count(*) AS n FROM public_other_findings'))?.n ?? 0
}

t.test('off by default: another provider\'s token is counted, nothing of it stored', async (t) => {
  const store = await openTestStore(t, tempDir(t))
  t.teardown(() => store.close())
  await store.issuedHashes.add([sha256Hex(ours)])
  const source = new QueueSource()
  source.units.push(unit('someone/app', 'c1', '.env', `A=${ours}\nSLACK=${foreign}\n`))
  t.match(await new PublicSourceRunner(store).runBatch(source), { leaksCreated: 1, otherFindings: 1 })
  t.equal(await rowCount(t, store), 0, 'no row')
  t.equal(await store.otherFindings.count(), 0)
})

t.test('kept apart with keepOthers: hash, kind, preview and place, one row a hash and place; never a leak', async (t) => {
  const store = await openTestStore(t, tempDir(t))
  t.teardown(() => store.close())
  await store.issuedHashes.add([sha256Hex(ours)])
  const runner = new PublicSourceRunner(store, { keepOthers: true })
  const source = new QueueSource()
  source.units.push(
    unit('someone/app', 'c1', '.env', `A=${ours}\nSLACK=${foreign}\n`),
    unit('other/app', 'c7', 'config.yml', `slack: ${foreign}\nother: ${foreign2}\n`),
  )
  t.match(await runner.runBatch(source), { leaksCreated: 1, otherFindings: 3 })
  // The same place again, in other content (the file changed around the line): the row stays one.
  source.units.push(unit('someone/app', 'c1', '.env', `B=1\nSLACK=${foreign}\n`))
  t.match(await runner.runBatch(source), { scanned: 1, leaksCreated: 0, otherFindings: 1 })

  const items = await store.otherFindings.list({ limit: 10 })
  t.equal(items.length, 3)
  t.equal(await store.otherFindings.count(), 3, 'the count row follows the inserts')
  const first = items.find((f) => f.location.repo === 'someone/app')
  t.match(first, { sha256: store.hashes.of(sha256Hex(foreign)), kind: 'slack_refresh_token', preview: makePreview(foreign), sourceId: 'queue', location: { path: '.env', line: 2, url: 'https://github.com/someone/app/blob/c1/.env#L2' } })
  t.ok(first!.seenAt >= first!.firstSeenAt)
  t.same(items.filter((f) => f.sha256 === store.hashes.of(sha256Hex(foreign))).length, 2, 'one token at two places: two rows')
  t.notOk(items.some((f) => f.sha256 === store.hashes.of(sha256Hex(ours))), 'our token is a leak, not another provider\'s finding')
  t.same((await store.otherFindings.list({ limit: 10, kind: 'no_such_kind' })).length, 0)
  t.same((await store.otherFindings.list({ limit: 1 })).length, 1)
  const leaks = (await store.leaks.list({ limit: 10 })).items
  t.equal(leaks.length, 1, 'only our token is a leak')
})

t.test('the route, the metric, and nothing in the sync stream', async (t) => {
  const plane = await startPlane(t)
  await plane.store.issuedHashes.add([sha256Hex(ours)])
  const source = new QueueSource()
  source.units.push(unit('someone/app', 'c1', '.env', `A=${ours}\nSLACK=${foreign}\n`))
  await new PublicSourceRunner(plane.store, { keepOthers: true }).runBatch(source)

  const res = await plane.call('GET', '/v1/public-sources/other-findings?limit=10&kind=slack_refresh_token', plane.keys.analyst)
  t.equal(res.statusCode, 200, res.body)
  const body = res.json() as { items: Array<Record<string, unknown>>; total: number }
  t.match(body, { total: 1, items: [{ kind: 'slack_refresh_token', preview: makePreview(foreign), sha256: plane.store.hashes.of(sha256Hex(foreign)), location: { repo: 'someone/app', line: 2 } }] })
  t.equal((await plane.call('GET', '/v1/public-sources/other-findings?kind=aws_access_key', plane.keys.analyst)).json().items.length, 0)
  t.equal((await plane.call('GET', '/v1/public-sources/other-findings', plane.keys.node)).statusCode, 403, 'a node key may not read them')
  t.equal((await plane.call('GET', '/v1/public-sources/other-findings?limit=0', plane.keys.analyst)).statusCode, 400)
  t.equal((await plane.call('GET', '/v1/public-sources/other-findings?kind=a%20b', plane.keys.analyst)).statusCode, 400)
  t.notOk(res.body.includes(foreign), 'the answer shows no token')

  const metrics = await plane.call('GET', '/metrics', plane.keys.admin)
  t.match(metrics.body, /^leakgate_cp_public_other_findings 1$/m)
  const changes = await plane.call('GET', '/v1/sync/changes?since=0', plane.keys.node)
  t.equal(changes.statusCode, 200)
  t.notOk(changes.body.includes(plane.store.hashes.of(sha256Hex(foreign))), 'not in the sync stream')
  const paths = (await plane.call('GET', '/docs/json')).json<{ paths: Record<string, { get?: { parameters?: Array<{ name: string }> } }> }>().paths
  t.same(paths['/v1/public-sources/other-findings']?.get?.parameters?.map((p) => p.name).sort(), ['kind', 'limit'], 'in the OpenAPI document, with its query')
})

/** Every file under `dir`, with its bytes. */
function filesUnder(dir: string): Array<[string, Buffer]> {
  const out: Array<[string, Buffer]> = []
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...filesUnder(path))
    else out.push([path, readFileSync(path)])
  }
  return out
}

t.test('planted: leakgate watch pypi --keep-others writes no raw value of another provider\'s token, in the data dir or the logs', sqliteOnly, async (t) => {
  const fake = await startFakeFeeds(t)
  const dir = tempDir(t)
  const before = await openTestStore(t, dir)
  await before.issuedHashes.add([sha256Hex(ours)])
  await before.close()
  fake.releases.push({
    name: 'py-planted', version: '1.0', at: 1_764_583_100,
    sdist: gzipSync(makeTar([{ path: 'py-planted-1.0/conf.ini', data: `token=${ours}\nslack=${foreign}\n` }])),
  })
  const run = await promisify(execFile)(process.execPath, ['--import', './scripts/register-ts.js', 'cli.ts', 'watch', 'pypi', '--keep-others', '--once', '--index-url', fake.url, '--files-url', fake.url, '--data-dir', dir], {
    cwd: new URL('../../', import.meta.url), env: { PATH: process.env.PATH ?? '', LEAKGATE_LOG_LEVEL: 'trace', ...(await testDatabaseEnv(t, dir)) },
  })
  t.match(run.stdout, /"otherFindings":1/, 'the log says one was found')
  const store = await openTestStore(t, dir)
  t.equal(await store.otherFindings.count(), 1, 'and it was kept')
  const wal = filesUnder(dir)
  await store.close()
  const files = [...wal, ...filesUnder(dir)]
  t.ok(files.some(([p]) => p.endsWith('leakgate.db')))
  for (const [path, bytes] of files) {
    for (const token of [foreign, ours]) {
      t.notOk(bytes.includes(token), `no planted token in ${path}`)
      t.notOk(bytes.includes(Buffer.from(token, 'utf16le')), `nor as UTF-16 in ${path}`)
    }
  }
  for (const token of [foreign, ours]) t.notOk(`${run.stdout}${run.stderr}`.includes(token), 'nor in the logs')
})

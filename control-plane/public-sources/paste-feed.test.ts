import t from 'tap'
import { sha256Hex } from '../../protocol/token-hash.js'
import { Rng } from '../detect/corpus/random.js'
import { expandSample } from '../detect/detectors/provider-spec.js'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { openTestStore, runMain, sqliteOnly, tempDir } from '../test/harness.js'
import { PasteFeedSource } from './paste-feed.js'
import { PublicSourceRunner } from './runner.js'
import { startFakeFeeds } from './test/fake-feeds.js'
import { main } from './watch-cli.js'

const rng = new Rng(2026)
const issued = `acme_live_${expandSample('{a62:40}', rng)}`
/** Another provider's token (a Slack refresh token): not ours. */
const foreign = expandSample('xoxe-1-{a62:146}', rng)
const key = (): string => expandSample('{a62:8}', rng)

/** Waits until the source's next poll is due. */
async function untilDue(store: Awaited<ReturnType<typeof openTestStore>>): Promise<void> {
  const wait = Date.parse(String((await store.publicSources.cursor('paste-feed'))?.state.nextPollAt)) - Date.now()
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait + 20))
}

t.test('a paste with our token becomes a leak linked to the paste; another provider\'s is not kept; pastes of one second all read; a removed paste skipped; a restart resumes', async (t) => {
  const fake = await startFakeFeeds(t)
  const dir = tempDir(t)
  let store = await openTestStore(t, dir)
  await store.issuedHashes.add([sha256Hex(issued)])
  const second = 1_764_583_205
  const leaky = key()
  const [a, b, c] = [key(), key(), key()].sort()
  fake.pastes.push(
    { key: key(), date: second - 5, title: 'notes', content: 'nothing here\n' },
    { key: leaky, date: second - 1, title: 'deploy', content: `A=1\nB=2\nTOKEN=${issued}\nSLACK=${foreign}\n` },
    // Three in the same second; the batch of two ends inside it.
    { key: a!, date: second, title: '', content: 'alpha\n' },
    { key: b!, date: second, title: '', content: 'gone', removed: true },
    { key: c!, date: second, title: '', content: `copy: ${issued}\n` },
  )
  const options = { listUrl: `${fake.url}/api_scraping.php`, limit: 100, maxPastesPerBatch: 3, pollSeconds: 1 }
  const first = await new PublicSourceRunner(store).runBatch(new PasteFeedSource(options))
  t.match(first, { units: 3, scanned: 3, leaksCreated: 1, otherFindings: 1, more: true, cursor: `${second}|${a}` })
  t.ok(fake.seen.includes('/api_scraping.php?limit=100'), 'the listing asked with its limit')
  const leaks = (await store.leaks.list({})).items
  t.equal(leaks.length, 1, 'only our token is kept')
  t.match(leaks[0], { source: 'paste', kind: 'issued_token', location: { repo: `paste:${leaky}`, url: `https://pastebin.example/${leaky}`, line: 3 } })

  // A restart: the two pastes of the same second not handled yet are read; the removed one is skipped.
  await store.close()
  store = await openTestStore(t, dir)
  t.teardown(() => store.close())
  const runner = new PublicSourceRunner(store)
  const again = await runner.runBatch(new PasteFeedSource(options))
  t.match(again, { units: 1, scanned: 1, leaksCreated: 0, leaksUpdated: 1, more: false, cursor: `${second}|${a},${b},${c}` })
  t.match((await store.publicSources.cursor('paste-feed'))?.state, { removedPastes: 1 })
  const [leak] = (await store.leaks.list({})).items
  t.same((await store.publicSources.placesOf(leak!.id)).map((p) => p.location.url), [`https://pastebin.example/${leaky}`, `https://pastebin.example/${c}`], 'one leak, two places')
  t.equal(fake.seen.filter((p) => p.startsWith(`/api_scrape_item.php?i=${a}`)).length, 1, 'a paste handled is not read again')
})

t.test('a failed read leaves the cursor: a 500 on a paste, a listing cut off; a rate limit waits for its Retry-After', async (t) => {
  const fake = await startFakeFeeds(t)
  const store = await openTestStore(t, tempDir(t))
  t.teardown(() => store.close())
  await store.issuedHashes.add([sha256Hex(issued)])
  fake.pastes.push({ key: key(), date: 1_764_583_000, title: '', content: 'first\n' })
  const source = new PasteFeedSource({ listUrl: `${fake.url}/api_scraping.php`, pollSeconds: 1 })
  const runner = new PublicSourceRunner(store)
  const first = await runner.runBatch(source)
  t.match(first, { units: 1, more: false })
  const cursor = first.cursor

  const leaky = key()
  fake.pastes.push({ key: leaky, date: 1_764_583_100, title: '', content: `x=${issued}\n` })
  for (const failure of [{ status: 500 }, { truncated: 'body' as const }]) {
    await untilDue(store)
    fake.failures.set('/api_scrape_item.php', [failure])
    await t.rejects(runner.runBatch(source), { code: 'LEAKGATE_ERR_PUBLIC_FEED' }, `a paste's read failing (${JSON.stringify(failure)}) fails the batch`)
    t.equal((await store.publicSources.cursor('paste-feed'))?.cursor, cursor, 'the cursor stays')
  }
  await untilDue(store)
  fake.failures.set('/api_scraping.php', [{ truncated: 'json' }])
  await t.rejects(runner.runBatch(source), /does not parse/, 'a listing cut off fails the batch')
  t.equal((await store.publicSources.cursor('paste-feed'))?.cursor, cursor)
  t.match((await store.publicSources.cursor('paste-feed'))?.lastError, /does not parse/)

  // A rate limit: nothing read, no error, and no request until its Retry-After has passed.
  fake.failures.set('/api_scraping.php', [{ rateLimit: 429, retryAfter: 2 }])
  t.match(await runner.runBatch(source), { units: 0, cursor })
  const state = (await store.publicSources.cursor('paste-feed'))?.state
  const wait = Date.parse(String(state?.nextPollAt)) - Date.now()
  t.ok(wait > 1000 && wait <= 2000, `waits its Retry-After (${wait} ms)`)
  const asked = fake.seen.length
  t.match(await runner.runBatch(source), { units: 0, cursor })
  t.equal(fake.seen.length, asked, 'no request before the time')
  await untilDue(store)
  t.match(await runner.runBatch(source), { units: 1, leaksCreated: 1, cursor: `1764583100|${leaky}` })
})

t.test('a listing of another shape: field names and a raw-URL template; raw text only on the listing\'s origin', async (t) => {
  const fake = await startFakeFeeds(t)
  const store = await openTestStore(t, tempDir(t))
  t.teardown(() => store.close())
  await store.issuedHashes.add([sha256Hex(issued)])
  const leaky = key()
  fake.pastes.push({ key: leaky, date: 1_764_583_100, title: '', content: `x=${issued}\n` })
  const source = new PasteFeedSource({
    listUrl: `${fake.url}/api_scraping.php`, rawUrlTemplate: `${fake.url}/api_scrape_item.php?i={key}`,
    fields: { key: 'key', date: 'date', publicUrl: 'nowhere' },
  })
  t.match(await new PublicSourceRunner(store).runBatch(source), { units: 1, leaksCreated: 1 })
  t.match((await store.leaks.list({})).items, [{ location: { url: `${fake.url}/api_scrape_item.php?i=${leaky}` } }], 'without a public page, the raw address')

  const other = await openTestStore(t, tempDir(t))
  t.teardown(() => other.close())
  fake.rawBase = 'http://127.0.0.2:9'
  fake.seen.length = 0
  const elsewhere = new PasteFeedSource({ listUrl: `${fake.url}/api_scraping.php` })
  t.match(await new PublicSourceRunner(other).runBatch(elsewhere), { units: 0, more: false })
  t.match((await other.publicSources.cursor('paste-feed'))?.state, { malformedEntries: 1 })
  t.same(fake.seen, ['/api_scraping.php'], 'only the listing was asked')
})

t.test('leakgate watch paste-feed --once: options from a JSON file and the command line', sqliteOnly, async (t) => {
  const fake = await startFakeFeeds(t)
  const dir = tempDir(t)
  const before = await openTestStore(t, dir)
  await before.issuedHashes.add([sha256Hex(issued)])
  await before.close()
  const leaky = key()
  fake.pastes.push({ key: leaky, date: 1_764_583_100, title: '', content: `x=${issued}\n` })
  const config = join(dir, 'feed.json')
  writeFileSync(config, JSON.stringify({ listUrl: `${fake.url}/api_scraping.php`, fields: { publicUrl: 'scrape_url' } }))
  const run = await runMain(main, ['paste-feed', '--feed-config', config, '--limit', '7', '--field', 'key=key', '--once', '--data-dir', dir])
  t.equal(run.code, 0, run.err)
  t.ok(fake.seen.includes('/api_scraping.php?limit=7'))
  const store = await openTestStore(t, dir)
  t.teardown(() => store.close())
  t.match((await store.leaks.list({})).items, [{ source: 'paste', location: { url: `${fake.url}/api_scrape_item.php?i=${leaky}` } }])
  const bad = await runMain(main, ['paste-feed', '--field', 'colour=red', '--list-url', fake.url, '--once', '--data-dir', tempDir(t)]).catch((err: Error) => err)
  t.match(bad, { code: 'LEAKGATE_ERR_CONFIG', message: /--field takes key=NAME/ })
})

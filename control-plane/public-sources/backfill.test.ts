import t from 'tap'
import { sha256Hex } from '../../protocol/token-hash.js'
import { Rng } from '../detect/corpus/random.js'
import { openTestStore, tempDir, type Teardown } from '../test/harness.js'
import type { Store } from '../store/store.js'
import { BackfilledEventsSource } from './backfill.js'
import { hourName } from './gharchive.js'
import { GitHubEventsSource } from './github-events.js'
import { PublicSourceRunner } from './runner.js'
import { startFakeArchive, type FakeArchive } from './test/fake-archive.js'
import { startFakeGitHub, type FakeGitHub } from './test/fake-github.js'
import { drain } from './test/drain.js'

const rng = new Rng(1531)
const issued = `acme_live_${rng.chars(40, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789')}`
const sha = (): string => rng.chars(40, '0123456789abcdef')
// An hour that has ended (its file may be published) and is not a day old (it is not given up yet).
const HOUR_START = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000
const HOUR = hourName(new Date(HOUR_START))
const WEB = 'https://github.com'

/** The fake's events are made "now": dated inside HOUR instead, so the gap's hours are known. */
function pushAt(fake: FakeGitHub, minute: number, repo: string, lines: string[], path = 'a.txt'): { id: string; commit: string } {
  const commit = sha()
  const id = fake.push(repo, [{ sha: commit, files: [{ filename: path, status: 'added', patch: `@@ -0,0 +1,${lines.length} @@\n${lines.map((l) => `+${l}`).join('\n')}` }] }])
  fake.events[0]!.created_at = new Date(HOUR_START + minute * 60_000).toISOString()
  return { id, commit }
}

/** Takes event `id` out of the live feed (it fell off its end) and answers it, for the archive. */
function dropFromFeed(fake: FakeGitHub, id: string): unknown {
  const at = fake.events.findIndex((e) => e.id === id)
  return fake.events.splice(at, 1)[0]
}

async function setup(t: Teardown, dir = tempDir(t)): Promise<{ fake: FakeGitHub; archive: FakeArchive; store: Store; dir: string }> {
  const fake = await startFakeGitHub(t)
  const archive = await startFakeArchive(t)
  const store = await openTestStore(t, dir)
  await store.issuedHashes.add([sha256Hex(issued)])
  // A feed that keeps two events: three new ones make a gap.
  fake.pageSize = 2
  return { fake, archive, store, dir }
}

function sourceOf(fake: FakeGitHub, archive: FakeArchive): BackfilledEventsSource {
  return new BackfilledEventsSource(new GitHubEventsSource({ apiUrl: fake.api, maxPages: 1 }), { archiveUrl: archive.url, notPublishedWaitSeconds: 1 })
}

async function untilDue(store: Store): Promise<void> {
  const state = (await store.publicSources.cursor('github-events'))?.state
  const at = Math.max(Date.parse(String(state?.nextPollAt ?? 0)), Date.parse(String((state?.backfill as { notBefore?: string } | undefined)?.notBefore ?? 0)))
  const wait = at - Date.now()
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait + 20))
}

t.test('a token pushed in a gap of the live feed is read from GH Archive: one leak, with its place beside the live one', async (t) => {
  const { fake, archive, store } = await setup(t)
  t.teardown(() => store.close())
  const runner = new PublicSourceRunner(store)
  const source = sourceOf(fake, archive)
  const before = pushAt(fake, 1, 'h/before', ['nothing'])
  await drain(runner, source)
  t.equal((await store.publicSources.cursor('github-events'))?.cursor, before.id)

  const gap = pushAt(fake, 5, 'h/gap', ['a: 1', `token: ${issued}`], 'cfg.yml')
  const liveOne = pushAt(fake, 7, 'h/live', [`TOKEN=${issued}`], '.env')
  const liveTwo = pushAt(fake, 8, 'h/quiet', ['quiet'])
  const gapEvent = dropFromFeed(fake, gap.id)
  // The hour's file holds every event of the hour; only the gap's are read from it.
  archive.publish(HOUR, [fake.events.find((e) => e.id === before.id), gapEvent, ...fake.events.slice().reverse()])
  await untilDue(store)

  const [batch] = await drain(runner, source)
  t.match(batch, { units: 3, scanned: 3, leaksCreated: 1, leaksUpdated: 1, cursor: liveTwo.id })
  const leaks = (await store.leaks.list({})).items
  t.equal(leaks.length, 1, 'one token, one leak')
  const places = await store.publicSources.placesOf(leaks[0]!.id)
  t.same(places.map((p) => p.location.url).sort(), [
    `${WEB}/h/gap/blob/${gap.commit}/cfg.yml#L2`,
    `${WEB}/h/live/blob/${liveOne.commit}/.env#L1`,
  ], 'the archive\'s place and the live feed\'s')
  const commitsRead = fake.seen.filter((r) => r.path.includes('/commits/')).map((r) => r.path.split('/')[3])
  t.same(commitsRead.sort(), ['before', 'gap', 'live', 'quiet'], 'each push read once: the archive\'s events outside the gap are not read again')
  const row = await store.publicSources.cursor('github-events')
  t.match(row?.state, { missedAfter: before.id, backfill: { spans: [], pendingHours: [] } })
  t.equal(row?.state.gap, undefined, 'the gap is taken into the backfill')
  t.same(archive.asked, [`${HOUR}.json.gz`])
})

t.test('a gap whose hour is not published yet is kept across a restart, with a second gap noted meanwhile, and read once the hour appears', async (t) => {
  const dir = tempDir(t)
  const { fake, archive, store } = await setup(t, dir)
  const runner = new PublicSourceRunner(store)
  const before = pushAt(fake, 1, 'r/before', ['nothing'])
  await drain(runner, sourceOf(fake, archive))

  const first = pushAt(fake, 10, 'r/first-gap', [`K=${issued}`])
  pushAt(fake, 11, 'r/live1', ['x'])
  pushAt(fake, 12, 'r/live2', ['y'])
  const firstEvent = dropFromFeed(fake, first.id)
  await untilDue(store)
  t.match(await runner.runBatch(sourceOf(fake, archive)), { units: 2, leaksCreated: 0, more: false })
  const noted = await store.publicSources.cursor('github-events')
  t.match(noted?.state.backfill, { spans: [{ afterId: before.id, from: HOUR, to: HOUR }], pendingHours: [HOUR], notBefore: String }, 'the hour is pending: not published yet')
  t.same(archive.asked, [`${HOUR}.json.gz`])
  await store.close()

  // A new process on the same store. Another gap comes before the hour is published.
  const reopened = await openTestStore(t, dir)
  t.teardown(() => reopened.close())
  const again = new PublicSourceRunner(reopened)
  const source = sourceOf(fake, archive)
  const cursor = noted!.cursor!
  const second = pushAt(fake, 20, 'r/second-gap', ['', `TOKEN = "${issued}"`])
  pushAt(fake, 21, 'r/live3', ['z'])
  pushAt(fake, 22, 'r/live4', ['w'])
  const secondEvent = dropFromFeed(fake, second.id)
  await untilDue(reopened)
  t.match(await again.runBatch(source), { units: 2, leaksCreated: 0 })
  const both = await reopened.publicSources.cursor('github-events')
  t.match(both?.state.backfill, { spans: [{ afterId: before.id }, { afterId: cursor }], pendingHours: [HOUR] }, 'the second gap is added, the first kept')
  t.equal(archive.asked.length, 2, 'asked again once its wait was over')

  archive.publish(HOUR, [firstEvent, secondEvent])
  await untilDue(reopened)
  const out = await drain(again, source)
  t.equal(out.reduce((n, r) => n + r.leaksCreated + r.leaksUpdated, 0), 2)
  const leaks = (await reopened.leaks.list({})).items
  t.equal(leaks.length, 1)
  t.same((await reopened.publicSources.placesOf(leaks[0]!.id)).map((p) => p.location.repo).sort(), ['r/first-gap', 'r/second-gap'])
  t.match((await reopened.publicSources.cursor('github-events'))?.state.backfill, { spans: [], pendingHours: [] })
})

t.test('--no-backfill\'s plain events source only names the gap; the archive failing does not hold the live feed up', async (t) => {
  const { fake, archive, store } = await setup(t)
  t.teardown(() => store.close())
  const runner = new PublicSourceRunner(store)
  const source = sourceOf(fake, archive)
  const before = pushAt(fake, 1, 'f/before', ['nothing'])
  await drain(runner, source)
  const gap = pushAt(fake, 30, 'f/gap', [`K=${issued}`])
  pushAt(fake, 31, 'f/live1', ['x'])
  pushAt(fake, 32, 'f/live2', ['y'])
  dropFromFeed(fake, gap.id)
  // Published, but cut off.
  archive.hours.set(`${HOUR}.json.gz`, Buffer.from([0x1f, 0x8b, 0x08, 0x00]))
  await untilDue(store)
  t.match(await runner.runBatch(source), { units: 2, cursor: fake.events[0]!.id }, 'the live events are handled')
  const row = await store.publicSources.cursor('github-events')
  t.equal(row?.lastError, null)
  t.match(row?.state.backfill, { lastError: /does not decompress/, pendingHours: [HOUR], spans: [{ afterId: before.id }] })

  const plain = new GitHubEventsSource({ apiUrl: fake.api, maxPages: 1 })
  const dir = tempDir(t)
  const other = await openTestStore(t, dir)
  t.teardown(() => other.close())
  const r2 = new PublicSourceRunner(other)
  await r2.runBatch(plain)
  const cursor = (await other.publicSources.cursor('github-events'))!.cursor!
  for (let i = 0; i < 3; i++) pushAt(fake, 40 + i, `f/more${i}`, [`m${i}`])
  await new Promise((resolve) => setTimeout(resolve, 1100))
  await r2.runBatch(plain)
  const state = (await other.publicSources.cursor('github-events'))?.state
  t.equal(state?.missedAfter, cursor)
  t.equal(state?.backfill, undefined, 'no backfill')
})

t.test('an hour still not published a day after it ended is given up and named', async (t) => {
  const { fake, archive, store } = await setup(t)
  t.teardown(() => store.close())
  const runner = new PublicSourceRunner(store)
  const source = sourceOf(fake, archive)
  const old = (minute: number): void => {
    fake.events[0]!.created_at = new Date(HOUR_START - 3 * 86_400_000 + minute * 60_000).toISOString()
  }
  pushAt(fake, 1, 'o/before', ['nothing'])
  old(1)
  await drain(runner, source)
  for (let i = 0; i < 3; i++) {
    pushAt(fake, 0, `o/r${i}`, [`n${i}`])
    old(10 + i)
  }
  await untilDue(store)
  await drain(runner, source)
  const oldHour = hourName(new Date(HOUR_START - 3 * 86_400_000))
  t.match((await store.publicSources.cursor('github-events'))?.state.backfill, { spans: [], pendingHours: [], skippedHours: [oldHour] })
  t.same(archive.asked, [`${oldHour}.json.gz`])
})

t.test('a rate limit met on the archive\'s commits keeps the pushes read, holds the live feed back too, and the rest is read after it', async (t) => {
  const { fake, archive, store } = await setup(t)
  t.teardown(() => store.close())
  const runner = new PublicSourceRunner(store)
  const source = sourceOf(fake, archive)
  pushAt(fake, 1, 'l/before', ['nothing'])
  await drain(runner, source)
  const firstGap = pushAt(fake, 40, 'l/gap1', [`A=${issued}`])
  const secondGap = pushAt(fake, 41, 'l/gap2', [`B=${issued}`])
  pushAt(fake, 42, 'l/live1', ['x'])
  pushAt(fake, 43, 'l/live2', ['y'])
  archive.publish(HOUR, [dropFromFeed(fake, firstGap.id), dropFromFeed(fake, secondGap.id)])
  fake.failures.set('/repos/l/gap2/commits/', [{ rateLimit: 403, retryAfter: 2 }])
  await untilDue(store)
  const started = Date.now()
  t.match(await runner.runBatch(source), { units: 3, leaksCreated: 1, more: false }, 'the live events and the first gap push')
  const row = await store.publicSources.cursor('github-events')
  t.match(row?.state, { rateLimitRemaining: 0, backfill: { spans: [{}], hour: HOUR, done: 1, pendingHours: [HOUR] } })
  t.ok(Date.parse(String(row?.state.nextPollAt)) >= started + 1900, 'the live feed waits for the limit too')
  await untilDue(store)
  t.match(await runner.runBatch(source), { units: 1, leaksUpdated: 1 })
  t.match((await store.publicSources.cursor('github-events'))?.state.backfill, { spans: [], pendingHours: [] })
  const [leak] = (await store.leaks.list({})).items
  t.same((await store.publicSources.placesOf(leak!.id)).map((p) => p.location.repo).sort(), ['l/gap1', 'l/gap2'])
})

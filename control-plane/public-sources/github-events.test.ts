import t from 'tap'
import { sha256Hex } from '../../protocol/token-hash.js'
import { Rng } from '../detect/corpus/random.js'
import { expandSample } from '../detect/detectors/provider-spec.js'
import { openTestStore, tempDir, type Teardown } from '../test/harness.js'
import type { Store } from '../store/store.js'
import { addedLines, GitHubEventsSource } from './github-events.js'
import { ISSUED_TOKEN_KIND, PublicSourceRunner } from './runner.js'
import { startFakeGitHub, type FakeGitHub } from './test/fake-github.js'
import { drain } from './test/drain.js'

const rng = new Rng(1517)
const issued = `acme_live_${expandSample('{a62:40}', rng)}`
const foreign = expandSample('xoxe-1-{a62:146}', rng)
const sha = (): string => rng.chars(40, '0123456789abcdef')
const WEB = 'https://github.com'

/** A patch that adds a file of `lines`. */
function newFile(lines: string[]): string {
  return `@@ -0,0 +1,${lines.length} @@\n${lines.map((l) => `+${l}`).join('\n')}`
}

async function setup(t: Teardown, dir = tempDir(t)): Promise<{ fake: FakeGitHub; store: Store; dir: string }> {
  const fake = await startFakeGitHub(t)
  const store = await openTestStore(t, dir)
  t.teardown(() => store.close())
  await store.issuedHashes.add([sha256Hex(issued)])
  return { fake, store, dir }
}

/** Waits until the source's state lets it poll again (X-Poll-Interval is 1 s on the fake). */
async function untilPollable(store: Store, id = 'github-events'): Promise<void> {
  const at = (await store.publicSources.cursor(id))?.state.nextPollAt
  const wait = at === undefined ? 0 : Date.parse(at) - Date.now()
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait + 20))
}

t.test('added lines keep their line numbers in the new file', async (t) => {
  t.equal(addedLines('@@ -10,3 +10,4 @@\n ctx\n-old\n+new one\n+new two\n ctx'), '\n\n\n\n\n\n\n\n\n\nnew one\nnew two')
  t.equal(addedLines('@@ -1,2 +1,1 @@\n-gone\n keep'), undefined, 'a patch that only removes adds nothing')
  t.equal(addedLines('@@ -0,0 +1 @@\n+x\n\\ No newline at end of file'), 'x')
  t.equal(addedLines('@@ -1,1 +1,1 @@\n+near\n@@ -999999990,1 +999999990,2 @@\n ctx\n+far'), 'near', 'a line too far into a file is left out, not padded to')
})

t.test('a pushed token of ours becomes a leak linked to its line; another provider\'s token does not; a fork\'s copy is scanned once', async (t) => {
  const { fake, store } = await setup(t)
  const commit = sha()
  const patch = newFile(['# prod settings', `API_TOKEN=${issued}`, `SLACK_REFRESH=${foreign}`])
  fake.watch('someone/stars')
  fake.push('someone/app', [{ sha: commit, files: [{ filename: 'config/prod.env', status: 'added', patch }, { filename: 'logo.png', status: 'added' }] }])
  // The same commit pushed to a fork: the same diff.
  fake.push('forker/app', [{ sha: commit, files: [{ filename: 'config/prod.env', status: 'added', patch }] }])
  const source = new GitHubEventsSource({ apiUrl: fake.api, token: 'test-token' })
  const runner = new PublicSourceRunner(store)

  const [batch] = await drain(runner, source)
  t.match(batch, { units: 2, scanned: 1, leaksCreated: 1, otherFindings: 1, more: false })
  const leaks = (await store.leaks.list({})).items
  t.equal(leaks.length, 1, 'one leak: ours; the Slack token is someone else\'s')
  t.match(leaks[0], {
    kind: ISSUED_TOKEN_KIND, source: 'github',
    location: { repo: 'someone/app', repoUrl: `${WEB}/someone/app`, commit, branch: 'main', path: 'config/prod.env', line: 2, url: `${WEB}/someone/app/blob/${commit}/config/prod.env#L2` },
  })
  const detail = await store.leaks.require(leaks[0]!.id)
  t.same(detail.tokens.map((x) => x.sha256), [sha256Hex(issued)])
  t.notOk(JSON.stringify(detail).includes(issued))
  t.equal(fake.seen.filter((r) => r.path.includes('/commits/')).length, 2, 'both pushes\' commits were read')
  t.ok(fake.seen.every((r) => r.authorization === 'Bearer test-token'), 'the token is sent')

  const state = await store.publicSources.cursor('github-events')
  t.match(state, { cursor: fake.events[0]!.id, units: 1, lastError: null, state: { pollIntervalSeconds: 1, rateLimitRemaining: Number, etag: /^W\// } })
})

t.test('an unchanged feed is asked with its ETag and answers 304; new events after the cursor only are read', async (t) => {
  const { fake, store } = await setup(t)
  fake.push('a/one', [{ sha: sha(), files: [{ filename: 'x.txt', status: 'added', patch: newFile(['hello']) }] }])
  const source = new GitHubEventsSource({ apiUrl: fake.api })
  const runner = new PublicSourceRunner(store)
  await drain(runner, source)
  const cursor = (await store.publicSources.cursor('github-events'))!.cursor

  await untilPollable(store)
  const remaining = fake.remaining
  t.match(await runner.runBatch(source), { units: 0, cursor })
  const last = fake.seen.at(-1)!
  t.equal(last.path, '/events')
  t.match(last.ifNoneMatch, /^W\//, 'the ETag went back')
  t.equal(fake.remaining, remaining, 'the 304 cost no budget')

  // Soon after, a poll is not due: nothing is asked.
  const asked = fake.seen.length
  t.match(await runner.runBatch(source), { units: 0, cursor })
  t.equal(fake.seen.length, asked, 'X-Poll-Interval is honoured')

  await untilPollable(store)
  const next = sha()
  fake.push('b/two', [{ sha: next, files: [{ filename: 'y.txt', status: 'added', patch: newFile([`t=${issued}`]) }] }])
  const before = fake.seen.length
  t.match(await runner.runBatch(source), { units: 1, scanned: 1, leaksCreated: 1, cursor: fake.events[0]!.id })
  t.same(fake.seen.slice(before).map((r) => r.path), ['/events', `/repos/b/two/commits/${next}`], 'the older push is not read again')
})

t.test('a 500, cut-off JSON or a body shorter than promised fail the batch without moving the cursor; the next read recovers', async (t) => {
  const { fake, store } = await setup(t)
  const first = sha()
  fake.push('c/one', [{ sha: first, files: [{ filename: 'a', status: 'added', patch: newFile(['nothing']) }] }])
  const source = new GitHubEventsSource({ apiUrl: fake.api })
  const runner = new PublicSourceRunner(store)
  await drain(runner, source)
  const cursor = (await store.publicSources.cursor('github-events'))!.cursor

  const second = sha()
  fake.push('c/two', [{ sha: second, files: [{ filename: 'b.env', status: 'added', patch: newFile(['', `K=${issued}`]) }] }])
  const failures: Array<[string, { status: number } | { truncated: 'json' | 'body' }, RegExp]> = [
    ['/events', { status: 500 }, /answered 500/],
    ['/events', { truncated: 'json' }, /does not parse/],
    ['/repos/c/two/commits/', { status: 502 }, /answered 502/],
    ['/repos/c/two/commits/', { truncated: 'json' }, /does not parse/],
    ['/repos/c/two/commits/', { truncated: 'body' }, /cut off|failed/],
  ]
  for (const [path, failure, message] of failures) {
    await untilPollable(store)
    fake.failures.set(path, [failure])
    await t.rejects(runner.runBatch(source), message, `${path}: ${JSON.stringify(failure)}`)
    const now = await store.publicSources.cursor('github-events')
    t.equal(now?.cursor, cursor, 'the cursor stays')
    t.match(now?.lastError, message, 'the error is the source\'s last')
  }
  t.equal((await store.leaks.list({})).items.length, 0, 'nothing was kept of the failed batches')
  await untilPollable(store)
  t.match(await runner.runBatch(source), { scanned: 1, leaksCreated: 1, cursor: fake.events[0]!.id })
  t.equal((await store.publicSources.cursor('github-events'))?.lastError, null)
})

t.test('rate limits are waited out: a 403 or 429 with Retry-After is no error and the cursor stays', async (t) => {
  const { fake, store } = await setup(t)
  fake.push('d/one', [{ sha: sha(), files: [{ filename: 'a', status: 'added', patch: newFile([`K=${issued}`]) }] }])
  const source = new GitHubEventsSource({ apiUrl: fake.api })
  const runner = new PublicSourceRunner(store)
  for (const status of [403, 429] as const) {
    fake.failures.set('/events', [{ rateLimit: status, retryAfter: 1 }])
    const started = Date.now()
    t.match(await runner.runBatch(source), { units: 0, cursor: null })
    const row = await store.publicSources.cursor('github-events')
    t.equal(row?.lastError, null)
    t.equal(row?.state.rateLimitRemaining, 0)
    t.ok(Date.parse(String(row?.state.nextPollAt)) >= started + 900, 'the next poll waits for Retry-After')
    const asked = fake.seen.length
    await runner.runBatch(source)
    t.equal(fake.seen.length, asked, 'nothing is asked before then')
    await untilPollable(store)
  }
  // A limit met while reading a push's commits: the batch ends before that event.
  const stuck = sha()
  fake.push('d/two', [{ sha: stuck, files: [{ filename: 'b', status: 'added', patch: newFile(['x']) }] }])
  fake.failures.set('/repos/d/two/commits/', [{ rateLimit: 403, retryAfter: 1 }])
  const r = await runner.runBatch(source)
  t.match(r, { scanned: 1, leaksCreated: 1, cursor: fake.events[1]!.id }, 'the first push is committed, the cursor stops before the second')
  await untilPollable(store)
  t.match(await runner.runBatch(source), { scanned: 1, cursor: fake.events[0]!.id })
})

t.test('a restart resumes from the cursor; many events are handled a batch at a time, oldest first, across pages', async (t) => {
  const dir = tempDir(t)
  const { fake, store } = await setup(t, dir)
  fake.pageSize = 4
  for (let i = 0; i < 7; i++) fake.push(`e/r${i}`, [{ sha: sha(), files: [{ filename: 'f', status: 'added', patch: newFile([`line ${i}`]) }] }])
  const planted = sha()
  fake.push('e/leaky', [{ sha: planted, files: [{ filename: 'g', status: 'added', patch: newFile([`K=${issued}`]) }] }], { listCommits: false })
  const runner = new PublicSourceRunner(store)
  const source = new GitHubEventsSource({ apiUrl: fake.api, maxEventsPerBatch: 3 })
  t.match(await runner.runBatch(source), { units: 3, more: true, cursor: fake.events[5]!.id }, "the three oldest")
  t.equal((await store.publicSources.cursor('github-events'))?.state.etag, undefined, 'no ETag kept while events remain')

  // A new process: a new store and source on the same database.
  await store.close()
  const reopened = await openTestStore(t, dir)
  t.teardown(() => reopened.close())
  const again = new PublicSourceRunner(reopened)
  const source2 = new GitHubEventsSource({ apiUrl: fake.api, maxEventsPerBatch: 3 })
  const commitsBefore = fake.seen.filter((r) => r.path.includes('/commits/')).length
  const rest = await drain(again, source2)
  t.same(rest.map((r) => r.units), [3, 2], 'the five events left, none of the three done')
  t.equal(fake.seen.filter((r) => r.path.includes('/commits/')).length - commitsBefore, 5)
  const leaks = (await reopened.leaks.list({})).items
  t.match(leaks, [{ location: { repo: 'e/leaky', commit: planted, url: `${WEB}/e/leaky/blob/${planted}/g#L1` } }], 'a push event without its commit list: its head commit is read')
  t.match(await reopened.publicSources.cursor('github-events'), { cursor: fake.events[0]!.id, units: 8 })
})

t.test('a poll that never meets the cursor again says which events it may have missed', async (t) => {
  const { fake, store } = await setup(t)
  fake.pageSize = 2
  fake.push('f/first', [{ sha: sha(), files: [{ filename: 'a', status: 'added', patch: newFile(['one']) }] }])
  const source = new GitHubEventsSource({ apiUrl: fake.api, maxPages: 1 })
  const runner = new PublicSourceRunner(store)
  await drain(runner, source)
  const cursor = (await store.publicSources.cursor('github-events'))!.cursor!
  for (let i = 0; i < 3; i++) fake.push(`f/r${i}`, [{ sha: sha(), files: [{ filename: 'a', status: 'added', patch: newFile([`n${i}`]) }] }])
  await untilPollable(store)
  t.match(await runner.runBatch(source), { units: 2, cursor: fake.events[0]!.id }, 'the page read is handled')
  t.match(await store.publicSources.cursor('github-events'), { state: { missedAfter: cursor } }, 'the gap is named: only GH Archive has the event in it')
})

t.test('a rate limit on a later page of the feed handles nothing: the pages not read are older than those read', async (t) => {
  const { fake, store } = await setup(t)
  fake.pageSize = 2
  fake.push('g/first', [{ sha: sha(), files: [{ filename: 'a', status: 'added', patch: newFile(['one']) }] }])
  const source = new GitHubEventsSource({ apiUrl: fake.api })
  const runner = new PublicSourceRunner(store)
  await drain(runner, source)
  const cursor = (await store.publicSources.cursor('github-events'))!.cursor
  for (let i = 0; i < 3; i++) fake.push(`g/r${i}`, [{ sha: sha(), files: [{ filename: 'a', status: 'added', patch: newFile([`n${i}`]) }] }])
  await untilPollable(store)
  // The first page answers; the second is rate limited.
  fake.failures.set('/events', [{ pass: true }, { rateLimit: 403, retryAfter: 1 }])
  const asked = fake.seen.length
  t.match(await runner.runBatch(source), { units: 0, cursor }, 'the cursor stays')
  t.equal(fake.seen.slice(asked).filter((r) => r.path === '/events').length, 2, 'the second page was asked, and limited')
  t.equal(fake.seen.slice(asked).filter((r) => r.path.includes('/commits/')).length, 0, 'no push was read')
  await untilPollable(store)
  t.match(await runner.runBatch(source), { units: 3, cursor: fake.events[0]!.id }, 'then all three are handled')
})

t.test('a push event without its commit list: every commit the push added is read, a token an earlier commit added and a later one removed too', async (t) => {
  const { fake, store } = await setup(t)
  const [before, first, second, alone, fresh] = [sha(), sha(), sha(), sha(), sha()]
  // The first commit adds the token, the second replaces it: the push's net change holds no token.
  fake.push('e/undone', [
    { sha: first, files: [{ filename: '.env', status: 'added', patch: newFile([`TOKEN=${issued}`]) }] },
    { sha: second, files: [{ filename: '.env', status: 'modified', patch: `@@ -1 +1 @@\n-TOKEN=${issued}\n+TOKEN=\${TOKEN}` }] },
  ], { listCommits: false, before })
  // A push of one commit: the comparison's files are that commit's, read without another request.
  fake.push('e/one', [{ sha: alone, files: [{ filename: 'a.txt', status: 'added', patch: newFile(['nothing here']) }] }], { listCommits: false, before: sha() })
  // A new branch (`before` all zeros): the head commit stands for the push.
  fake.push('e/branch', [{ sha: fresh, files: [{ filename: 'b.txt', status: 'added', patch: newFile(['nor here']) }] }], { listCommits: false })
  const runner = new PublicSourceRunner(store)
  await drain(runner, new GitHubEventsSource({ apiUrl: fake.api }))
  const leaks = (await store.leaks.list({})).items
  t.match(leaks, [{ location: { repo: 'e/undone', commit: first, path: '.env', line: 1 } }], 'the token the push added and took back is one leak, at the commit that added it')
  t.equal(leaks.length, 1)
  const read = fake.seen.map((r) => r.path).filter((p) => p.includes('/compare/') || p.includes('/commits/'))
  t.same(read.filter((p) => p.startsWith('/repos/e/undone/')).sort(), [`/repos/e/undone/commits/${first}`, `/repos/e/undone/commits/${second}`, `/repos/e/undone/compare/${before}...${second}`].sort(), 'the comparison, then each commit')
  t.same(read.filter((p) => p.startsWith('/repos/e/one/')).map((p) => p.split('/')[4]), ['compare'], 'one commit: the comparison alone')
  t.same(read.filter((p) => p.startsWith('/repos/e/branch/')), [`/repos/e/branch/commits/${fresh}`], 'a new branch: its head commit')
  t.match(await store.publicSources.cursor('github-events'), { units: 4 }, 'four units: two of the undone push, one each of the others')
})

import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { sha256Hex } from '../../protocol/token-hash.js'
import { Rng } from '../detect/corpus/random.js'
import { expandSample } from '../detect/detectors/provider-spec.js'
import { openTestStore, tempDir } from '../test/harness.js'
import type { Teardown } from '../../test/support.js'
import { GitLabEventsSource } from './gitlab-events.js'
import { PublicSourceRunner } from './runner.js'

const rng = new Rng(1531)
const issued = `acme_live_${expandSample('{a62:40}', rng)}`
const foreign = expandSample('xoxe-1-{a62:146}', rng)
const sha = (): string => rng.chars(40, '0123456789abcdef')
const WEB = 'https://gitlab.com'

interface FakeCommit { id: string; date: string; files: Array<{ path: string; diff: string }> }
interface FakeProject { id: number; path: string; activity: string; commits: FakeCommit[] }
interface Scripted { path: string; pass?: true; status?: number; retryAfter?: number; cut?: true }

/**
 * GitLab's API v4 as the source reads it: `/projects` (public, most recently active first), a
 * project's `/repository/commits?since=` (newest first, `since` inclusive) and `/commits/:sha/diff`;
 * offset pages of `per_page` (at most `pageSize`) with `X-Next-Page`, `X-Page`, `X-Per-Page` and a
 * `Link` header; the budget in `RateLimit-*`. Scripted answers go first, matched by path prefix in order.
 */
async function startFakeGitLab(t: Teardown): Promise<{ api: string; projects: FakeProject[]; seen: string[]; script: Scripted[]; pageSize: number; remaining: number }> {
  const fake = { api: '', projects: [] as FakeProject[], seen: [] as string[], script: [] as Scripted[], pageSize: 1, remaining: 2000 }
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', fake.api)
    fake.seen.push(`${url.pathname}${url.searchParams.has('since') ? `?since=${url.searchParams.get('since')}` : ''}`)
    fake.remaining = Math.max(0, fake.remaining - 1)
    const budget = { 'ratelimit-limit': '2000', 'ratelimit-observed': String(2000 - fake.remaining), 'ratelimit-remaining': String(fake.remaining), 'ratelimit-reset': String(Math.floor(Date.now() / 1000) + 60) }
    const i = fake.script.findIndex((s) => url.pathname.startsWith(`/api/v4${s.path}`))
    const scripted = i < 0 ? undefined : fake.script.splice(i, 1)[0]
    if (scripted?.retryAfter !== undefined) {
      res.writeHead(429, { 'content-type': 'text/plain', 'retry-after': String(scripted.retryAfter), ...budget, 'ratelimit-remaining': '0' }).end('Retry later\n')
      return
    }
    if (scripted?.status !== undefined) {
      res.writeHead(scripted.status, { 'content-type': 'application/json', ...budget }).end('{"message":"500 Internal Server Error"}')
      return
    }
    const paged = (all: unknown[]): void => {
      const perPage = Math.min(Number(url.searchParams.get('per_page') ?? 20), fake.pageSize)
      const page = Number(url.searchParams.get('page') ?? 1)
      const last = Math.max(1, Math.ceil(all.length / perPage))
      const nextUrl = new URL(url)
      nextUrl.searchParams.set('page', String(page + 1))
      const headers: Record<string, string> = { 'x-page': String(page), 'x-per-page': String(perPage), 'x-next-page': page < last ? String(page + 1) : '', 'x-total': String(all.length), 'x-total-pages': String(last) }
      if (page < last) headers.link = `<${nextUrl.href}>; rel="next"`
      const text = JSON.stringify(all.slice((page - 1) * perPage, page * perPage))
      res.writeHead(200, { 'content-type': 'application/json', ...budget, ...headers }).end(scripted?.cut === true ? text.slice(0, text.length >> 1) : text)
    }
    if (url.pathname === '/api/v4/projects') {
      paged([...fake.projects].sort((a, b) => Date.parse(b.activity) - Date.parse(a.activity)).map((p) => ({
        id: p.id, name: p.path.split('/').pop(), path_with_namespace: p.path, web_url: `${WEB}/${p.path}`,
        default_branch: 'main', visibility: 'public', last_activity_at: p.activity, created_at: p.activity,
      })))
      return
    }
    const m = /^\/api\/v4\/projects\/(\d+)\/repository\/commits(?:\/([0-9a-f]+)\/diff)?$/.exec(url.pathname)
    const project = fake.projects.find((p) => String(p.id) === m?.[1])
    if (m === null || project === undefined) {
      res.writeHead(404, { 'content-type': 'application/json', ...budget }).end('{"message":"404 Project Not Found"}')
      return
    }
    if (m[2] === undefined) {
      const since = url.searchParams.get('since')
      paged(project.commits.filter((c) => since === null || Date.parse(c.date) >= Date.parse(since)).sort((a, b) => Date.parse(b.date) - Date.parse(a.date))
        .map((c) => ({ id: c.id, short_id: c.id.slice(0, 8), title: 'change', committed_date: c.date, authored_date: c.date, web_url: `${WEB}/${project.path}/-/commit/${c.id}` })))
      return
    }
    const commit = project.commits.find((c) => c.id === m[2])
    if (commit === undefined) {
      res.writeHead(404, { 'content-type': 'application/json', ...budget }).end('{"message":"404 Commit Not Found"}')
      return
    }
    paged(commit.files.map((f) => ({ diff: f.diff, new_path: f.path, old_path: f.path, a_mode: '0', b_mode: '100644', new_file: true, renamed_file: false, deleted_file: false })))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  fake.api = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v4`
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  return fake
}

const newFile = (lines: string[]): string => `@@ -0,0 +1,${lines.length} @@\n${lines.map((l) => `+${l}`).join('\n')}\n`
const ago = (seconds: number): string => new Date(Date.now() - seconds * 1000).toISOString()

t.test('gitlab: our token becomes a leak linked to its line; another provider\'s is not kept; a restart resumes; a 500 or JSON cut off keeps the cursor; a rate limit waits, the commits read kept', async (t) => {
  const fake = await startFakeGitLab(t)
  const dir = tempDir(t)
  let store = await openTestStore(t, dir)
  await store.issuedHashes.add([sha256Hex(issued)])
  const leaky = sha()
  fake.projects.push(
    { id: 11, path: 'acme-fan/web', activity: ago(300), commits: [{ id: leaky, date: ago(310), files: [{ path: 'config/app settings.env', diff: newFile(['# app', `TOKEN=${issued}`, `SLACK=${foreign}`]) }] }] },
    { id: 12, path: 'someone/clean', activity: ago(200), commits: [{ id: sha(), date: ago(210), files: [{ path: 'README.md', diff: newFile(['hello']) }] }] },
    // Active before the first poll's look-back: not read.
    { id: 13, path: 'old/project', activity: ago(7200), commits: [{ id: sha(), date: ago(7200), files: [{ path: 'a.env', diff: newFile([`T=${issued}`]) }] }] },
  )
  // No web address given: each project's `web_url` makes the links.
  const options = { apiUrl: fake.api, maxProjectsPerBatch: 1, pollSeconds: 1 }
  const runner = new PublicSourceRunner(store)
  const first = await runner.runBatch(new GitLabEventsSource(options))
  t.match(first, { units: 1, scanned: 1, leaksCreated: 1, otherFindings: 1, more: true }, 'the least recently active project first')
  const leaks = (await store.leaks.list({})).items
  t.equal(leaks.length, 1)
  t.match(leaks[0], {
    source: 'gitlab', kind: 'issued_token',
    location: { repo: 'acme-fan/web', repoUrl: `${WEB}/acme-fan/web`, commit: leaky, path: 'config/app settings.env', line: 2, url: `${WEB}/acme-fan/web/-/blob/${leaky}/config/app%20settings.env#L2` },
  })
  t.ok(fake.seen.filter((p) => p === '/api/v4/projects').length >= 2, 'the project list\'s pages, by Link')
  t.notOk(fake.seen.some((p) => p.startsWith('/api/v4/projects/13/')), 'a project active before the look-back is not read')

  // A restart: the other project only; then nothing until the next poll, and nothing new then.
  await store.close()
  store = await openTestStore(t, dir)
  t.teardown(() => store.close())
  const again = new PublicSourceRunner(store)
  const source = new GitLabEventsSource(options)
  t.match(await again.runBatch(source), { units: 1, scanned: 1, leaksCreated: 0, more: false })
  const s = await store.publicSources.cursor('gitlab-events')
  t.ok(Date.parse(String(s?.state.nextPollAt)) > Date.now(), 'the next poll is scheduled')
  t.match(s?.state, { rateLimitRemaining: Number })
  t.match(await again.runBatch(source), { units: 0 }, 'not before its time')
  const pause = async (): Promise<void> => {
    const at = Date.parse(String((await store.publicSources.cursor('gitlab-events'))?.state.nextPollAt))
    if (at > Date.now()) await new Promise((resolve) => setTimeout(resolve, at - Date.now() + 20))
  }
  await pause()
  const diffsBefore = fake.seen.filter((p) => p.endsWith('/diff')).length
  t.match(await again.runBatch(source), { units: 0, more: false }, 'nothing new')
  t.equal(fake.seen.filter((p) => p.endsWith('/diff')).length, diffsBefore, 'no commit read again')

  // Two new commits to the first project: failures first, the cursor stays.
  const [c2, c3] = [sha(), sha()]
  const web = fake.projects[0]!
  web.commits.push(
    { id: c2, date: ago(60), files: [{ path: 'b.txt', diff: newFile(['x', `k=${issued}`]) }] },
    { id: c3, date: ago(30), files: [{ path: 'c.txt', diff: newFile([`k=${issued}`]) }] },
  )
  web.activity = ago(30)
  await pause()
  const cursor = (await store.publicSources.cursor('gitlab-events'))?.cursor
  fake.script.push({ path: '/projects/11/repository/commits/', status: 500 })
  await t.rejects(again.runBatch(source), /answered 500/)
  fake.script.push({ path: '/projects/11/repository/commits', cut: true })
  await t.rejects(again.runBatch(source), /does not parse/)
  fake.script.push({ path: '/projects', cut: true })
  await t.rejects(again.runBatch(source), /does not parse/)
  t.equal((await store.publicSources.cursor('gitlab-events'))?.cursor, cursor, 'the cursor stays')

  // A rate limit on the second commit: the first is kept, and the source waits as told.
  fake.script.push({ path: '/projects/11/repository/commits/', pass: true }, { path: '/projects/11/repository/commits/', retryAfter: 2 })
  t.match(await again.runBatch(source), { units: 1, scanned: 1, leaksUpdated: 1, more: false })
  const limited = await store.publicSources.cursor('gitlab-events')
  const wait = Date.parse(String(limited?.state.nextPollAt)) - Date.now()
  t.ok(wait > 1000 && wait <= 2000, `waits the Retry-After (${wait} ms)`)
  t.match(await again.runBatch(source), { units: 0 }, 'not before it passed')
  await pause()
  t.match(await again.runBatch(source), { units: 1, scanned: 1, leaksUpdated: 1 }, 'the second commit only')
  t.same((await store.publicSources.placesOf(leaks[0]!.id)).map((p) => p.location.commit), [leaky, c2, c3], 'one leak, three places')
  const diffs = fake.seen.filter((p) => p.endsWith('/diff'))
  t.equal(diffs.filter((p) => p.includes(c2)).length, 2, 'the first new commit: once failed, once read')
  t.equal(diffs.filter((p) => p.includes(c3)).length, 2, 'the second: once limited, once read')
})

t.test('gitlab: an exhausted budget waits for its reset; a project list longer than the pages read says what was missed', async (t) => {
  const fake = await startFakeGitLab(t)
  const store = await openTestStore(t, tempDir(t))
  t.teardown(() => store.close())
  for (let i = 0; i < 3; i++) fake.projects.push({ id: 20 + i, path: `p/n${i}`, activity: ago(100 + i), commits: [] })
  fake.remaining = 50
  const source = new GitLabEventsSource({ apiUrl: fake.api, maxPages: 2, pollSeconds: 1 })
  t.match(await new PublicSourceRunner(store).runBatch(source), { units: 0, more: false })
  let s = await store.publicSources.cursor('gitlab-events')
  t.match(s?.state, { missedAfter: String }, 'the third project was on a page not read')
  t.notOk(fake.seen.some((p) => p.startsWith('/api/v4/projects/22/')), 'and is not read')
  fake.projects.push({ id: 30, path: 'p/new', activity: ago(1), commits: [] })
  await new Promise((resolve) => setTimeout(resolve, Date.parse(String(s?.state.nextPollAt)) - Date.now() + 20))
  fake.remaining = 2
  t.match(await new PublicSourceRunner(store).runBatch(source), { more: false })
  s = await store.publicSources.cursor('gitlab-events')
  t.equal(s?.state.rateLimitRemaining, 0)
  const wait = Date.parse(String(s?.state.nextPollAt)) - Date.now()
  t.ok(wait > 50_000 && wait <= 61_000, `waits for the reset (${wait} ms)`)
})

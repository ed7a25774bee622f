/**
 * The console's Public sources page and a leak's public places, in headless Chromium against the real
 * control plane. The state shown is made by a real watcher's batches (GitHub's public events, read from
 * the local fake GitHub, on the control plane's store as `leakgate watch` runs), a failing read among
 * them; shard rows, which a sharded run makes, are written through the store's own API.
 */
import t from 'tap'
import { sha256Hex } from '../../protocol/token-hash.js'
import { Rng } from '../detect/corpus/random.js'
import { expandSample } from '../detect/detectors/provider-spec.js'
import { GitHubEventsSource } from '../public-sources/github-events.js'
import { PublicSourceRunner } from '../public-sources/runner.js'
import { startFakeGitHub } from '../public-sources/test/fake-github.js'
import type { Store } from '../store/store.js'
import { startConsoleDeployment, waitFor } from './console-harness.js'
import { openTestStore } from './test-store.js'

const rng = new Rng(2612)
const ours = (): string => `acme_live_${expandSample('{a62:40}', rng)}`
const issued = ours()
const later = ours()
const sha = (): string => rng.chars(40, '0123456789abcdef')
/** A public path that is markup: it must show as text. */
const EVIL_PATH = 'docs/<img src=x onerror=window.__pwned=1>.md'
const newFile = (lines: string[]): string => `@@ -0,0 +1,${lines.length} @@\n${lines.map((l) => `+${l}`).join('\n')}`

const { stack, keys, cp, signedIn } = await startConsoleDeployment(t)
const fake = await startFakeGitHub(stack)
// The watcher's own store on the control plane's data, as `leakgate watch --data-dir` opens it.
const store: Store = await openTestStore(stack, cp.dataDir)
stack.teardown(() => store.close())
const runner = new PublicSourceRunner(store)
const source = new GitHubEventsSource({ apiUrl: fake.api })

/** Batches until the source has nothing more now, once its poll is due (X-Poll-Interval is 1 s on the fake). */
async function drain(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await untilPollable()
    if (!(await runner.runBatch(source)).more) return
  }
  throw new Error('the source never ran dry')
}

async function untilPollable(): Promise<void> {
  const at = (await store.publicSources.cursor(source.id))?.state.nextPollAt
  const wait = at === undefined ? 0 : Date.parse(at) - Date.now()
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait + 20))
}

const fits = (page: import('playwright-core').Page): Promise<{ page: number; tables: number }> => page.evaluate(() => ({
  page: document.documentElement.scrollWidth - window.innerWidth,
  tables: Math.max(0, ...[...document.querySelectorAll('.table-wrap')].map((w) => w.scrollWidth - w.clientWidth)),
}))

t.test('before any watcher ran: how to start one and register issued hashes', async (tt) => {
  const admin = await signedIn(tt, keys.admin, { origin: cp.url })
  await admin.page.getByRole('link', { name: 'Public sources' }).click()
  const empty = admin.page.getByTestId('sources-empty')
  await empty.waitFor()
  tt.match(await empty.innerText(), /leakgate watch github-events/)
  tt.match(await empty.innerText(), /POST \/v1\/issued-hashes/)
  tt.equal(await admin.page.getByTestId('issued-hashes-count').innerText(), '0 issued-token hashes registered.')

  // An analyst reads the page too, without the count only admins may read.
  const analyst = await signedIn(tt, keys.analyst, { origin: cp.url })
  await analyst.page.goto(`${cp.url}/#/public-sources`)
  await analyst.page.getByTestId('sources-empty').waitFor()
  tt.equal(await analyst.page.getByTestId('issued-hashes-count').count(), 0)
  tt.same([...admin.problems, ...analyst.problems], [])
})

t.test('a watcher\'s state, its failing read, its shards, its findings and the leak\'s public places', async (tt) => {
  await store.issuedHashes.add([sha256Hex(issued), sha256Hex(later)])
  const first = sha()
  const second = sha()
  fake.push('someone/app', [{ sha: first, files: [{ filename: 'config/prod.env', status: 'added', patch: newFile(['# prod', `API_TOKEN=${issued}`]) }] }])
  fake.push('mallory/site', [{ sha: second, files: [{ filename: EVIL_PATH, status: 'added', patch: newFile([`token: ${issued}`]) }] }])
  // The feed is four minutes behind the pushes.
  for (const e of fake.events) e.created_at = new Date(Date.now() - 240_000).toISOString()
  await drain()
  // Then a read fails: the cursor stays, and the error is the source's last.
  await untilPollable()
  fake.failures.set('/events', [{ status: 500 }])
  await tt.rejects(runner.runBatch(source), /answered 500/)
  const row = await store.publicSources.cursor(source.id)
  tt.match(row, { lastError: /answered 500/, state: { rateLimitRemaining: Number, lagSeconds: Number } })
  // A source run as two shards, each with its worker's lease; the second failing.
  const now = new Date().toISOString()
  const longCursor = `2026-12-02T10:00:05Z|${Array.from({ length: 6 }, () => rng.chars(20, 'abcdef0123456789')).join(',')}`
  tt.ok(await store.publicSources.advance('github-gists#1/2', 0, { cursor: longCursor, state: { lagSeconds: 30, leaseOwner: 'worker-a', leaseUntil: new Date(Date.now() + 60_000).toISOString() }, units: 5, bytes: 2048 }, now))
  tt.ok(await store.publicSources.advance('github-gists#2/2', 0, { cursor: '2026-12-02T08:00:00Z|', state: { lagSeconds: 7200 }, units: 3, bytes: 1024 }, now))
  await store.publicSources.recordError('github-gists#2/2', 'GET /gists/public answered 502', undefined, now)

  const { page, problems } = await signedIn(tt, keys.admin, { origin: cp.url })
  await page.getByRole('link', { name: 'Public sources' }).click()
  const events = page.locator('[data-testid=source-row][data-source-id=github-events]')
  await events.waitFor()
  tt.match(await page.getByTestId('sources-summary').innerText(), /^2 sources · 2 failing · 2 issued-token hashes registered$/)
  tt.equal(await events.getByTestId('source-cursor').innerText(), row?.cursor, 'a short cursor shown whole')
  tt.equal(await events.getByTestId('source-lag').innerText(), '4 min behind')
  tt.match(await events.getByTestId('source-budget').innerText(), new RegExp(`^${Number(row?.state.rateLimitRemaining).toLocaleString('en')} left · resets in `))
  tt.match(await events.getByTestId('source-scanned').innerText(), /^2 units · \d+ B$/)
  const error = events.getByTestId('source-error')
  tt.equal(await error.innerText(), `Failing: ${row?.lastError}`)
  tt.equal(await error.evaluate((el) => getComputedStyle(el).color), 'rgb(185, 28, 28)', 'in red')

  // The sharded source is one row: the largest lag, the sums, any shard's error; its shards open beneath.
  const gists = page.locator('[data-testid=source-row][data-source-id=github-gists]')
  tt.equal(await gists.getByTestId('source-lag').innerText(), '2 h behind')
  tt.equal(await gists.getByTestId('source-scanned').innerText(), '8 units · 3.0 KiB')
  tt.equal(await gists.getByTestId('source-error').innerText(), 'Failing: shard 2/2: GET /gists/public answered 502')
  const shards = page.locator('[data-testid=shard-row]')
  tt.equal(await shards.first().isVisible(), false, 'shards closed at first')
  await gists.getByTestId('source-shards-toggle').click()
  tt.equal(await gists.getByTestId('source-shards-toggle').getAttribute('aria-expanded'), 'true')
  await shards.first().waitFor()
  tt.equal(await shards.count(), 2)
  tt.match(await shards.nth(0).innerText(), /shard 1\/2[\s\S]*held by worker-a until in /)
  const cursor = shards.nth(0).getByTestId('source-cursor')
  tt.equal(await cursor.getAttribute('title'), longCursor, 'the whole cursor on hover')
  tt.equal(await cursor.innerText(), `${longCursor.slice(0, 18)}…`)
  tt.match(await shards.nth(1).innerText(), /not held[\s\S]*2 h behind[\s\S]*GET \/gists\/public answered 502/)

  // Its findings: the one leak of ours, seen at two places, the newest shown as text, linking to the leak.
  await events.getByTestId('source-findings-link').click()
  const finding = page.getByTestId('finding-row')
  await finding.first().waitFor()
  tt.equal(await finding.count(), 1)
  const leakId = Number(await finding.getAttribute('data-leak-id'))
  tt.equal(await page.getByTestId('finding-link').getAttribute('href'), `#/leaks/${leakId}`)
  tt.equal(await page.getByTestId('finding-place').innerText(), `mallory/site · ${EVIL_PATH}:1`, 'the path shows as text')
  tt.equal(await finding.locator('td[data-label=Places]').innerText(), '2')
  for (const width of [1280, 760, 390]) {
    await page.setViewportSize({ width, height: 900 })
    tt.same(await fits(page), { page: 0, tables: 0 }, `the sources page fits at ${width} px`)
  }
  await page.setViewportSize({ width: 1280, height: 900 })

  // A new find while the page is open shows by itself, through the control plane's live events: well
  // before the page's own refresh (15 s after the Refresh clicked here) would show it.
  await page.getByTestId('sources-refresh').click()
  fake.push('someone/else', [{ sha: sha(), files: [{ filename: 'app.py', status: 'added', patch: newFile([`KEY = "${later}"`]) }] }])
  fake.failures.delete('/events')
  await drain()
  await waitFor('the new finding', async () => (await finding.count()) === 2, 10_000)
  tt.match(await finding.first().getByTestId('finding-place').innerText(), /^someone\/else · app\.py:1$/, 'the newest first')
  await waitFor('the error cleared', async () => (await events.getByTestId('source-error').count()) === 0)

  // The leak's page lists its public places, each linking out safely.
  await page.locator(`[data-testid=finding-row][data-leak-id="${leakId}"] [data-testid=finding-link]`).click()
  const places = page.getByTestId('public-place')
  await places.first().waitFor()
  tt.equal(await places.count(), 2)
  const links = page.getByTestId('public-place-link')
  tt.equal(await links.nth(0).getAttribute('href'), `https://github.com/someone/app/blob/${first}/config/prod.env#L2`)
  tt.equal(await links.nth(0).innerText(), 'someone/app · config/prod.env:2')
  tt.equal(await links.nth(1).innerText(), `mallory/site · ${EVIL_PATH}:1`)
  tt.notMatch(String(await links.nth(1).getAttribute('href')), /[<> ]/, 'the address is encoded')
  for (let i = 0; i < 2; i++) {
    tt.equal(await links.nth(i).getAttribute('target'), '_blank')
    tt.equal(await links.nth(i).getAttribute('rel'), 'noopener noreferrer')
  }
  tt.match(await places.nth(0).innerText(), /github-events · commit [0-9a-f]{12} · seen /)
  tt.equal(await page.locator('img').count(), 0, 'no markup from a public path')
  tt.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined)
  for (const width of [1280, 760, 390]) {
    await page.setViewportSize({ width, height: 900 })
    tt.same(await fits(page), { page: 0, tables: 0 }, `the leak's page fits at ${width} px`)
  }
  tt.same(problems, [])
})

t.test('a leak no public source saw has no public places section', async (tt) => {
  const { page, problems } = await signedIn(tt, keys.analyst, { origin: cp.url })
  const made = await fetch(`${cp.url}/v1/leaks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${keys.admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'Reported by email', tokens: [{ sha256: sha256Hex(ours()) }] }),
  })
  tt.equal(made.status, 201)
  const { id } = (await made.json()) as { id: number }
  await page.goto(`${cp.url}/#/leaks/${id}`)
  await page.getByTestId('leak-detail').waitFor()
  tt.equal(await page.getByTestId('public-places').count(), 0)
  tt.same(problems, [])
})

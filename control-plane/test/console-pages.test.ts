/**
 * The web console's pages in headless Chromium against the real control plane and the real node, with
 * a small upstream behind the node: an analyst kept read-only, a leak added by raw value of which only
 * the hash left the browser, the nodes page, a narrow screen, paging, a refused filter and labels.
 * (Sign-in, charts and blocking are in console.test.ts: one file each stays within tap's time limit.)
 */
import t from 'tap'
import { cpFetch, demoSeeds, openPage, rawToken, seedLeaks, sha256, signIn, startConsoleDeployment, waitFor } from './console-harness.js'

const { keys, cp, node, browser, signedIn } = await startConsoleDeployment(t, { node: true })

/** Through the node with a bearer token: the status the client sees. */
async function throughNode(token: string): Promise<number> {
  const res = await fetch(`${node.url}/v1/users/7`, { headers: { authorization: `Bearer ${token}` } })
  await res.arrayBuffer()
  return res.status
}

const seeds = demoSeeds()
const ids = await seedLeaks(cp.url, keys.admin, seeds)


t.test('an analyst sees the decisions disabled, with the reason', async (tt) => {
  const { page, problems } = await signedIn(tt, keys.analyst, { origin: cp.url })
  tt.equal(await page.getByTestId('role').textContent(), 'analyst')
  const seed = seeds[3]!
  await page.goto(`${cp.url}/#/leaks/${ids.get(seed.title)}`)
  await page.getByTestId('leak-detail').waitFor()
  for (const d of ['block', 'monitor', 'false-positive', 'close', 'reopen']) {
    tt.ok(await page.getByTestId(`decision-${d}`).isDisabled(), `${d} is disabled`)
  }
  tt.match(await page.getByTestId('decision-disabled-reason').innerText(), /analyst/)
  tt.ok(await page.getByTestId('decision-comment').isDisabled())

  await page.goto(`${cp.url}/#/new`)
  await page.getByTestId('add-disabled-reason').waitFor()
  tt.ok(await page.getByTestId('add-submit').isDisabled(), 'an analyst cannot add a leak')

  const before = await cpFetch<{ action: string }>(cp.url, keys.admin, `/v1/leaks/${ids.get(seed.title)}`)
  tt.equal(before.body.action, 'monitor', 'nothing changed')
  tt.same(problems, [])
})

t.test('a leak added by raw value leaves the browser only as its hash', async (tt) => {
  const { page, problems } = await openPage(browser, tt, { origin: cp.url })
  const raw = rawToken('ghp_RAWVALUE')
  const sent: { url: string; method: string; body: string; headers: string }[] = []
  page.on('request', (req) => {
    sent.push({ url: req.url(), method: req.method(), body: req.postData() ?? '', headers: JSON.stringify(req.headers()) })
  })
  await signIn(page, cp.url, keys.admin)
  await page.getByRole('link', { name: 'Add leak' }).first().click()
  await page.getByTestId('add-leak-form').waitFor()
  // A line that is not a SHA-256 hash in hash mode is refused in the form, and nothing is sent.
  await page.getByTestId('add-mode-sha256').check()
  await page.getByTestId('add-tokens').fill('not-a-hash')
  await page.getByTestId('add-submit').click()
  await page.getByTestId('add-invalid').waitFor()
  tt.match(await page.getByTestId('add-invalid').innerText(), /not a SHA-256 hash/)
  tt.equal(sent.filter((r) => r.method === 'POST').length, 0, 'nothing sent for a bad form')

  // A raw token pasted into the title too is refused here: the server only ever sees its hash.
  await page.getByTestId('add-mode-raw').check()
  await page.getByTestId('add-tokens').fill(raw)
  await page.getByTestId('add-title').fill(`leaked: ${raw}`)
  await page.getByTestId('add-submit').click()
  await page.getByTestId('add-invalid').waitFor()
  tt.match(await page.getByTestId('add-invalid').innerText(), /title contains one of the raw tokens/)
  tt.equal(sent.filter((r) => r.method === 'POST').length, 0, 'nothing sent when the title holds a raw token')

  await page.getByTestId('add-title').fill('Token pasted in #support')
  await page.getByTestId('add-source').selectOption('paste')
  await page.getByTestId('add-kind').fill('github_pat')
  await page.getByTestId('add-risk').selectOption('critical')
  await page.getByTestId('add-action').selectOption('block')
  await page.getByTestId('add-mode-raw').check()
  await page.getByTestId('add-tokens').fill(raw)
  await page.getByTestId('add-submit').click()
  await page.getByTestId('leak-detail').waitFor()

  const posts = sent.filter((r) => r.method === 'POST' && new URL(r.url).pathname === '/v1/leaks')
  tt.equal(posts.length, 1, 'one POST /v1/leaks')
  const body = JSON.parse(posts[0]!.body) as { tokens: { sha256?: string; preview?: string; value?: string }[] }
  tt.same(body.tokens, [{ sha256: sha256(raw), preview: `${raw.slice(0, 4)}…${raw.slice(-4)}` }], 'only the hash and a short preview were sent')
  tt.ok(sent.length > 10, 'requests were recorded')
  const leaking = sent.filter((r) => r.url.includes(raw) || r.body.includes(raw) || r.headers.includes(raw)).map((r) => `${r.method} ${r.url}`)
  tt.same(leaking, [], 'no request carried the raw value (URL, headers or body)')
  tt.equal(await page.getByTestId('token-sha256').first().innerText(), sha256(raw))

  // The hash the browser made is the one the node enforces.
  const status = await waitFor('the node to block the new token', async () => ((await throughNode(raw)) === 403 ? 403 : 0))
  tt.equal(status, 403)
  tt.same(problems, [])
})

t.test('the nodes page shows each node\'s sync state, and a stale node stands out', async (tt) => {
  // A node that reported once and went quiet (heartbeat as a node sends it; the admin key, since the
  // node key is bound to the running node and may report only as it).
  const beat = await cpFetch(cp.url, keys.admin, '/v1/nodes/heartbeat', {
    method: 'POST',
    body: { nodeId: 'edge-gone', version: '0.0.9', revision: 1, indexEntries: 3, syncAgeSeconds: 0 },
  })
  tt.equal(beat.status, 204)
  const { page, problems } = await signedIn(tt, keys.admin, { origin: cp.url })
  await page.getByRole('link', { name: 'Nodes' }).click()
  const live = page.locator('[data-testid=node-row][data-node-id=console-test-edge]')
  const gone = page.locator('[data-testid=node-row][data-node-id=edge-gone]')
  await waitFor('edge-gone shown stale beside the live node', async () => {
    if ((await gone.getAttribute('data-stale').catch(() => null)) === 'true' && (await live.count()) === 1) return true
    await page.getByTestId('nodes-refresh').click()
    return false
  })
  tt.equal(await live.getAttribute('data-stale'), 'false', 'the live node is not stale')
  tt.match(await gone.innerText(), /stale/i, 'stale in words, not only colour')
  tt.match(await gone.innerText(), /behind/i, 'and behind the control plane revision')
  tt.match(await live.innerText(), /in sync|behind/i)
  tt.match(await page.getByTestId('nodes-summary').innerText(), /1 stale/)
  const rows = await page.getByTestId('node-row').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.nodeId))
  tt.equal(rows[0], 'edge-gone', 'stale nodes are listed first')
  tt.same(problems, [])
})

t.test('usable on a narrow screen: no sideways scrolling', async (tt) => {
  const { page, problems } = await openPage(browser, tt, { origin: cp.url })
  await page.setViewportSize({ width: 390, height: 844 })
  await signIn(page, cp.url, keys.admin)
  await page.locator('[data-testid=leak-list][aria-busy=false]').waitFor()
  const overflow = (): Promise<number> => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
  tt.equal(await overflow(), 0, 'overview fits')
  await page.getByTestId('leak-link').first().click()
  await page.getByTestId('leak-detail').waitFor()
  tt.equal(await overflow(), 0, 'leak detail fits')
  await page.getByRole('link', { name: 'Nodes' }).click()
  await page.getByTestId('nodes-table').waitFor()
  tt.equal(await overflow(), 0, 'nodes page fits')
  tt.same(problems, [])
})

t.test('the list pages with the cursor', async (tt) => {
  const bulk = 27
  for (let i = 0; i < bulk; i++) {
    const token = rawToken('bulk_')
    const res = await cpFetch(cp.url, keys.admin, '/v1/leaks', {
      method: 'POST',
      body: { title: `Bulk import ${String(i).padStart(2, '0')}`, source: 'bulk-import', risk: 'low', tokens: [{ sha256: sha256(token) }] },
    })
    if (res.status !== 201) throw new Error(`bulk seeding answered ${res.status}`)
  }
  const { page, problems } = await signedIn(tt, keys.admin, { origin: cp.url })
  await page.goto(`${cp.url}/#/?source=bulk-import&sort=title&order=asc`)
  await waitFor('the first page', async () => (await page.getByTestId('list-status').innerText()).includes(`Showing 1–25 of ${bulk}`))
  tt.equal(await page.getByTestId('leak-row').count(), 25)
  tt.ok(await page.getByTestId('prev-page').isDisabled(), 'no page before the first')
  await page.getByTestId('next-page').click()
  await waitFor('the second page', async () => (await page.getByTestId('list-status').innerText()).includes(`Showing 26–27 of ${bulk}`))
  tt.same(await page.getByTestId('leak-link').allInnerTexts(), ['Bulk import 25', 'Bulk import 26'])
  tt.ok(await page.getByTestId('next-page').isDisabled(), 'no page after the last')
  await page.getByTestId('prev-page').click()
  await waitFor('back on the first page', async () => (await page.getByTestId('leak-row').count()) === 25)
  tt.same(problems, [])
})

t.test('a filter the control plane refuses shows its error, and removing it recovers', async (tt) => {
  const { page, problems } = await signedIn(tt, keys.admin, { origin: cp.url, expected: /status of 400/ })
  await page.goto(`${cp.url}/#/?risk=extreme`)
  const error = page.getByTestId('list-error')
  await error.waitFor()
  tt.match(await error.innerText(), /HTTP 400/, 'the error names the status')
  tt.ok(await error.getByRole('button', { name: 'Retry' }).isVisible(), 'and offers a retry')
  await page.getByTestId('chip-risk').click()
  await waitFor('the list back', async () => (await page.getByTestId('leak-row').count()) > 0)
  tt.same(problems, [])
})

t.test('every form control has a label and every button a name, on every page', async (tt) => {
  const { page, problems } = await signedIn(tt, keys.admin, { origin: cp.url })
  const pages: [string, string][] = [
    ['#/', 'leak-list'],
    [`#/leaks/${ids.get(seeds[2]!.title)}`, 'leak-detail'],
    ['#/new', 'add-leak-form'],
    ['#/nodes', 'nodes-table'],
    ['#/audit', 'audit-log'],
    ['#/check', 'check-form'],
    ['#/webhooks', 'webhook-form'],
  ]
  for (const [hash, ready] of pages) {
    await page.goto(`${cp.url}/${hash}`)
    await page.getByTestId(ready).waitFor()
    const unnamed = await page.evaluate(() => {
      const out: string[] = []
      for (const el of document.querySelectorAll<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>('input, select, textarea')) {
        if (el.type !== 'hidden' && el.labels?.length === 0 && !el.getAttribute('aria-label')) out.push(`${el.tagName} ${el.id || el.name}`)
      }
      for (const el of document.querySelectorAll<HTMLElement>('button, a[href]')) {
        if (!(el.getAttribute('aria-label') || el.textContent || '').trim()) out.push(`${el.tagName} ${el.outerHTML.slice(0, 60)}`)
      }
      return out
    })
    tt.same(unnamed, [], `${hash}: all controls named`)
  }
  tt.same(problems, [])
})

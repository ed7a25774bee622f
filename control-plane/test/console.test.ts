/**
 * The web console in headless Chromium against the real control plane and the real node, with a
 * small upstream behind the node: sign-in, chart click → filtered list in the URL, a block decided
 * in the browser enforced at the edge, an analyst kept read-only, and a leak added by raw value of
 * which only the hash left the browser.
 */
import t from 'tap'
import type { Browser, Page } from 'playwright-core'
import { cpFetch, demoSeeds, launchBrowser, openPage, rawToken, seedLeaks, sha256, signIn, Stack, startDeployment, waitFor } from './console-harness.js'

const stack = new Stack()
t.teardown(stack.close)

const { keys, cp, node } = await startDeployment(stack)
const browser: Browser = await launchBrowser(stack)

/** Through the node with a bearer token: the status the client sees. */
async function throughNode(token: string): Promise<number> {
  const res = await fetch(`${node.url}/v1/users/7`, { headers: { authorization: `Bearer ${token}` } })
  await res.arrayBuffer()
  return res.status
}

const seeds = demoSeeds()
const ids = await seedLeaks(cp.url, keys.admin, seeds)



/** The risks of the rows the list shows, once it has finished loading. */
async function listedRisks(page: Page): Promise<string[]> {
  await page.locator('[data-testid=leak-list][aria-busy=false]').waitFor()
  return page.getByTestId('leak-row').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.risk ?? ''))
}

t.test('the console is self-contained under a strict CSP', async (tt) => {
  const res = await fetch(`${cp.url}/`)
  tt.equal(res.status, 200)
  const csp = res.headers.get('content-security-policy') ?? ''
  tt.match(csp, /default-src 'none'/)
  tt.match(csp, /script-src 'self'(;|$)/, 'no inline or remote script')
  tt.match(await res.text(), /\/assets\/vendor\/chart\.umd\.js/)
  const chart = await fetch(`${cp.url}/assets/vendor/chart.umd.js`)
  tt.equal(chart.status, 200)
  tt.match(chart.headers.get('content-type') ?? '', /javascript/)
})

t.test('sign in, see the overview, sign out', async (tt) => {
  // Chromium logs the refused key's 401 as a console error: that one is expected here.
  const { page, problems } = await openPage(browser, tt, { origin: cp.url, expected: /status of 401/ })
  await page.goto(`${cp.url}/`)
  await page.getByTestId('signin-key').fill('lgk_' + 'x'.repeat(40))
  await page.getByTestId('signin-submit').click()
  await page.getByTestId('signin-error').getByRole('alert').waitFor()
  tt.match(await page.getByTestId('signin-error').innerText(), /refused/i, 'an unknown key is refused')

  await page.getByTestId('signin-key').fill(keys.admin)
  await page.getByTestId('signin-submit').click()
  await page.getByTestId('whoami').waitFor()
  tt.equal(await page.getByTestId('role').textContent(), 'admin')
  await waitFor('all leaks listed', async () => (await page.getByTestId('leak-row').count()) === seeds.length)
  tt.equal(await page.getByTestId('tile-open').locator('.tile-value').innerText(), String(seeds.length))
  await page.getByTestId('chart-risk').waitFor()
  await page.getByTestId('chart-risk-source').waitFor()

  await page.reload()
  await page.getByTestId('whoami').waitFor()
  tt.pass('the session survives a reload')
  await page.getByTestId('signout').click()
  await page.getByTestId('signin-form').waitFor()
  tt.equal(await page.evaluate(() => sessionStorage.length), 0, 'the key is gone from session storage')
  await page.reload()
  await page.getByTestId('signin-form').waitFor()
  tt.same(problems, [])
})

t.test('the menus list the values the control plane accepts, loaded once at sign-in', async (tt) => {
  const { page, problems } = await openPage(browser, tt, { origin: cp.url })
  const metaCalls: string[] = []
  page.on('request', (req) => {
    if (new URL(req.url()).pathname === '/v1/meta') metaCalls.push(req.url())
  })
  await signIn(page, cp.url, keys.admin)
  const meta = (await cpFetch<{ risks: string[]; statuses: string[]; actions: string[] }>(cp.url, keys.analyst, '/v1/meta')).body
  const options = (testid: string): Promise<string[]> =>
    page.getByTestId(testid).locator('option').evaluateAll((els) => els.map((e) => (e as HTMLOptionElement).value).filter((v) => v !== ''))
  tt.same(await options('filter-risk'), [...meta.risks].reverse(), 'risk filter: the API\'s risks, most severe first')
  tt.same(await options('filter-status'), meta.statuses, 'status filter: the API\'s statuses')
  tt.same(await options('filter-action'), meta.actions, 'action filter: the API\'s actions')
  await page.getByRole('link', { name: 'Add leak' }).first().click()
  await page.getByTestId('add-leak-form').waitFor()
  tt.same((await options('add-action')).sort(), [...meta.actions].sort(), 'add form: every action the API offers')
  tt.same(await options('add-risk'), [...meta.risks].reverse())
  await page.getByRole('link', { name: 'Leaks' }).click()
  await page.getByTestId('leak-link').first().click()
  await page.getByTestId('leak-detail').waitFor()
  tt.same(await options('decision-risk'), [...meta.risks].reverse(), 'risk override: the API\'s risks')
  tt.equal(await page.getByTestId('decisions').getByRole('button').count(), meta.actions.length + meta.statuses.length + 1, 'a button per action and status, and "Set risk"')
  tt.equal(metaCalls.length, 1, 'the lists are fetched once, at sign-in')
  tt.same(problems, [])
})

t.test('clicking "high" in the risk chart lists only high leaks, with the filter in the URL', async (tt) => {
  const { page, problems } = await openPage(browser, tt, { origin: cp.url })
  await signIn(page, cp.url, keys.admin)
  const canvas = page.getByTestId('chart-risk')
  await canvas.waitFor()
  // Where Chart.js drew the "high" arc, from the chart itself; then a real mouse click there.
  const point = await canvas.evaluate((el) => {
    const chart = (globalThis as unknown as { Chart: { getChart(c: HTMLCanvasElement): { data: { labels: string[] }; getDatasetMeta(i: number): { data: { tooltipPosition(final: boolean): { x: number; y: number } }[] } } | undefined } }).Chart.getChart(el as HTMLCanvasElement)
    if (!chart) throw new Error('no chart on the canvas')
    const i = chart.data.labels.indexOf('high')
    const arc = chart.getDatasetMeta(0).data[i]
    if (!arc) throw new Error('no "high" arc')
    return arc.tooltipPosition(true)
  })
  const box = await canvas.boundingBox()
  if (!box) throw new Error('risk chart not visible')
  await page.mouse.click(box.x + point.x, box.y + point.y)

  await waitFor('risk=high in the URL', () => new URL(page.url()).hash.includes('risk=high'))
  const highCount = seeds.filter((s) => s.risk === 'high').length
  await waitFor('only high leaks listed', async () => {
    const risks = await listedRisks(page)
    return risks.length === highCount && risks.every((r) => r === 'high')
  })
  tt.ok(await page.getByTestId('chip-risk').isVisible(), 'the filter shows as a chip')

  // The filtered view survives a reload (the filter lives in the URL).
  const shared = page.url()
  await page.reload()
  await waitFor('still only high leaks after reload', async () => {
    const risks = await listedRisks(page)
    return risks.length === highCount && risks.every((r) => r === 'high')
  })
  tt.equal(page.url(), shared)

  // From a leak, "back to the list" returns to the same filtered view.
  await page.getByTestId('leak-link').first().click()
  await page.getByTestId('leak-detail').waitFor()
  await page.getByTestId('back-to-list').click()
  await waitFor('back on the filtered list', () => page.url() === shared)

  // Removing the chip shows every leak again.
  await page.getByTestId('chip-risk').click()
  await waitFor('risk filter gone from the URL', () => !page.url().includes('risk='))
  tt.ok(await page.evaluate(() => document.activeElement?.closest('[data-testid=leak-list]') !== null), 'focus stays in the list after removing a chip')
  await waitFor('every open leak listed', async () => (await listedRisks(page)).length === seeds.length)

  // Sorting by a column header is kept in the URL too.
  await page.getByTestId('sort-title').click()
  await waitFor('sort=title in the URL', () => page.url().includes('sort=title') && page.url().includes('order=asc'))
  await waitFor('rows in title order', async () => {
    const titles = await page.getByTestId('leak-link').allInnerTexts()
    return titles.length === seeds.length && titles.join('|') === [...titles].sort((a, b) => a.localeCompare(b)).join('|')
  })

  // A search that matches nothing says so.
  await page.getByTestId('filter-q').fill('no-such-leak-anywhere')
  await page.getByTestId('filter-q').press('Enter')
  await page.getByTestId('list-empty').waitFor()
  await page.getByTestId('list-empty').getByRole('button', { name: 'Clear filters' }).click()
  await waitFor('filters cleared', async () => (await listedRisks(page)).length === seeds.length)

  // Source chart, through its keyboard-usable legend.
  await page.getByTestId('legend-source').getByRole('button', { name: /paste/ }).press('Enter')
  await waitFor('source=paste in the URL', () => page.url().includes('source=paste'))
  await waitFor('only the paste leak', async () => (await page.getByTestId('leak-row').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.source))).join() === 'paste')
  tt.same(problems, [])
})

t.test('blocking a leak in the console makes the node refuse its token', async (tt) => {
  const { page, problems } = await openPage(browser, tt, { origin: cp.url })
  const seed = seeds[0]!
  const id = ids.get(seed.title)!
  await waitFor('the node passes the monitored token', async () => (await throughNode(seed.token)) === 200)

  await signIn(page, cp.url, keys.admin)
  await page.getByRole('link', { name: seed.title }).click()
  await page.getByTestId('leak-detail').waitFor()
  tt.equal(await page.getByTestId('token-sha256').first().innerText(), sha256(seed.token), 'the token is shown by its hash')
  await page.getByTestId('decision-comment').fill('rotating; block until revoked')
  await page.getByTestId('decision-block').click()
  await page.getByTestId('confirm-ok').click()
  await waitFor('the detail shows the leak blocked', async () => (await page.locator('[data-testid=leak-detail] .action-block').count()) === 1)
  await page.getByTestId('audit-trail').getByText('rotating; block until revoked').waitFor()
  tt.ok(await page.getByTestId('decision-block').isDisabled(), 'block is done: its button is disabled')

  const status = await waitFor('the node to answer 403', async () => ((await throughNode(seed.token)) === 403 ? 403 : 0))
  tt.equal(status, 403)
  const detail = await cpFetch<{ action: string; decisions: { comment: string | null }[] }>(cp.url, keys.admin, `/v1/leaks/${id}`)
  tt.equal(detail.body.action, 'block')
  tt.ok(detail.body.decisions.some((d) => d.comment === 'rotating; block until revoked'), 'the decision is audited with its comment')

  // The node reports the refused request; the detail's timeline shows it.
  await waitFor('a block sighting in the timeline', async () => {
    await page.reload()
    await page.getByTestId('leak-detail').waitFor()
    return (await page.locator('[data-testid=sighting][data-verdict=block]').count()) > 0
  })
  tt.match(await page.locator('[data-testid=sighting][data-verdict=block]').first().innerText(), /console-test-edge/, 'the sighting names the node')

  // The risk can be overridden too; the audit log lists both decisions.
  await page.getByTestId('decision-risk').selectOption('critical')
  await page.getByTestId('decision-set-risk').click()
  await waitFor('the risk shown as critical', async () => (await page.locator('[data-testid=leak-detail] .badges [data-risk]').getAttribute('data-risk')) === 'critical')
  await page.getByRole('link', { name: 'Audit' }).click()
  const entries = page.locator(`[data-testid=audit-row][data-leak-id="${id}"]`)
  await waitFor('the audit log to list the decisions', async () => (await entries.count()) === 3)
  const texts = await entries.allInnerTexts()
  tt.match(texts[0], /risk high → critical/, 'newest first: the risk change')
  tt.match(texts[1], /action monitor → block/)
  tt.match(texts[1], /rotating; block until revoked/)
  tt.match(texts[2], /created/)
  tt.same(problems, [])
})

t.test('an analyst sees the decisions disabled, with the reason', async (tt) => {
  const { page, problems } = await openPage(browser, tt, { origin: cp.url })
  await signIn(page, cp.url, keys.analyst)
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
  const { page, problems } = await openPage(browser, tt, { origin: cp.url })
  await signIn(page, cp.url, keys.admin)
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
  const { page, problems } = await openPage(browser, tt, { origin: cp.url })
  await signIn(page, cp.url, keys.admin)
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
  const { page, problems } = await openPage(browser, tt, { origin: cp.url, expected: /status of 400/ })
  await signIn(page, cp.url, keys.admin)
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
  const { page, problems } = await openPage(browser, tt, { origin: cp.url })
  await signIn(page, cp.url, keys.admin)
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

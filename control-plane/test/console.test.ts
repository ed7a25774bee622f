/**
 * The web console in headless Chromium against the real control plane and the real node, with a
 * small upstream behind the node: sign-in, the menus, chart click → filtered list in the URL, and a
 * block decided in the browser enforced at the edge. (The other pages: console-pages.test.ts.)
 */
import t from 'tap'
import type { Page } from 'playwright-core'
import { cpFetch, demoSeeds, openPage, seedLeaks, sha256, signIn, startConsoleDeployment, waitFor } from './console-harness.js'

const { keys, cp, node, browser, signedIn } = await startConsoleDeployment(t, { node: true })

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
  const { page, problems } = await signedIn(tt, keys.admin, { origin: cp.url })
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

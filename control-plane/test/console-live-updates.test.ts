/**
 * The console in headless Chromium against the real control plane: pages update by themselves when
 * someone else (another operator, a script, a node) changes leaks. No reload, no click.
 */
import t from 'tap'
import { cpFetch, rawToken, startConsoleDeployment } from './console-harness.js'

const { keys, cp, browser } = await startConsoleDeployment(t)

t.test('the overview and the list show a leak added elsewhere, and a decision taken elsewhere, without a reload', async (tt) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  tt.teardown(() => context.close())
  const page = await context.newPage()
  await page.goto(`${cp.url}/`)
  await page.getByTestId('signin-key').fill(keys.analyst)
  await page.getByTestId('signin-submit').click()
  await page.getByTestId('live-status').filter({ hasText: /^Live$/ }).waitFor()
  await page.getByTestId('list-empty').waitFor()
  tt.equal(await page.getByTestId('tile-open').locator('.tile-value').textContent(), '0')
  // Marks the document: a reload would lose it.
  await page.evaluate(() => { document.body.dataset.sameDocument = 'yes' })

  const added = await cpFetch<{ id: number }>(cp.url, keys.admin, '/v1/leaks', {
    method: 'POST', body: { tokens: [{ value: rawToken('ghp_') }], title: 'token pasted in a chat', source: 'manual', kind: 'github_pat' },
  })
  tt.equal(added.status, 201)
  const row = page.locator(`[data-testid="leak-row"][data-leak-id="${added.body.id}"]`)
  await row.waitFor({ timeout: 10_000 })
  tt.match(await row.innerText(), /token pasted in a chat/, 'the new leak is in the list')
  await page.getByTestId('tile-open').locator('.tile-value').filter({ hasText: /^1$/ }).waitFor({ timeout: 10_000 })
  tt.pass('the open-leaks tile counts it')

  const decided = await cpFetch(cp.url, keys.admin, `/v1/leaks/${added.body.id}`, { method: 'PATCH', body: { status: 'false_positive' } })
  tt.equal(decided.status, 200)
  await page.locator(`[data-testid="leak-row"][data-leak-id="${added.body.id}"][data-status="false_positive"]`).waitFor({ timeout: 10_000 })
  tt.pass('the row shows the decision')
  tt.equal(await page.evaluate(() => document.body.dataset.sameDocument), 'yes', 'the page was never reloaded')
})

t.test('a leak\'s page shows a decision taken elsewhere and keeps the comment being typed', async (tt) => {
  const added = await cpFetch<{ id: number }>(cp.url, keys.admin, '/v1/leaks', {
    method: 'POST', body: { tokens: [{ value: rawToken('sk_live_') }], title: 'stripe key in a ticket', kind: 'stripe_secret_key' },
  })
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  tt.teardown(() => context.close())
  const page = await context.newPage()
  await page.goto(`${cp.url}/#/leaks/${added.body.id}`)
  await page.getByTestId('signin-key').fill(keys.admin)
  await page.getByTestId('signin-submit').click()
  await page.getByTestId('live-status').filter({ hasText: /^Live$/ }).waitFor()
  await page.getByTestId('decision-comment').fill('half-written reason')

  await cpFetch(cp.url, keys.admin, `/v1/leaks/${added.body.id}`, { method: 'PATCH', body: { action: 'block', comment: 'blocked by a colleague' } })
  await page.getByTestId('decisions').getByText('blocked by a colleague').or(page.getByText('blocked by a colleague')).first().waitFor({ timeout: 10_000 })
  tt.equal(await page.getByTestId('decision-comment').inputValue(), 'half-written reason', 'the comment being typed is kept')
  tt.match(await page.getByTestId('leak-detail').innerText(), /block/i, 'the leak shows it is blocked')
})

t.test('the header says when pages are not live, and they catch up once the stream is back', async (tt) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  tt.teardown(() => context.close())
  const page = await context.newPage()
  // The live stream cannot be reached (a proxy in the way, the control plane restarting): the rest can.
  await page.route('**/v1/events/stream', (route) => route.abort())
  await page.goto(`${cp.url}/`)
  await page.getByTestId('signin-key').fill(keys.analyst)
  await page.getByTestId('signin-submit').click()
  await page.getByTestId('leak-list').and(page.locator('[aria-busy="false"]')).waitFor()
  tt.equal(await page.getByTestId('live-status').textContent(), 'Not live', 'the header says pages are not live')

  const added = await cpFetch<{ id: number }>(cp.url, keys.admin, '/v1/leaks', {
    method: 'POST', body: { tokens: [{ value: rawToken('xoxb-') }], title: 'slack token while away' },
  })
  await page.waitForTimeout(1500)
  tt.equal(await page.locator(`[data-testid="leak-row"][data-leak-id="${added.body.id}"]`).count(), 0, 'not shown while not live')

  await page.unroute('**/v1/events/stream')
  await page.getByTestId('live-status').filter({ hasText: /^Live$/ }).waitFor({ timeout: 20_000 })
  await page.locator(`[data-testid="leak-row"][data-leak-id="${added.body.id}"]`).waitFor({ timeout: 10_000 })
  tt.pass('once live again, the page catches up on what changed while it was not')
})

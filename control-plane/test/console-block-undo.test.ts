/**
 * Blocking in the console is confirmed first and can be undone for a few seconds; the toast says the
 * leak is blocked only once the real node following the control plane has the revision the block
 * committed (and, with no node connected, says so).
 */
import t from 'tap'
import type { Page } from 'playwright-core'
import { cpFetch, makeKeys, openPage, rawToken, seedLeaks, signIn, startConsoleDeployment, startControlPlane, waitFor, type SeedLeak } from './console-harness.js'

const { stack, keys, cp, node, browser, signedIn } = await startConsoleDeployment(t, { node: true })

/** Through the node with a bearer token: the status the client sees. */
async function throughNode(token: string): Promise<number> {
  const res = await fetch(`${node.url}/v1/users/7`, { headers: { authorization: `Bearer ${token}` } })
  await res.arrayBuffer()
  return res.status
}

const seed = (title: string): SeedLeak => ({ title, source: 'paste', kind: 'generic_api_key', risk: 'high', action: 'monitor', token: rawToken('tk_'), url: '' })

/** Every text the toast shows, in order, recorded in the page as it changes. */
async function recordToasts(page: Page): Promise<() => Promise<string[]>> {
  await page.evaluate(() => {
    const seen: string[] = []
    Reflect.set(window, '__toasts', seen)
    const region = document.getElementById('live')
    if (!region) throw new Error('no toast region')
    new MutationObserver(() => {
      const text = region.querySelector('[data-testid=toast-text]')?.textContent ?? region.textContent ?? ''
      if (text && seen.at(-1) !== text) seen.push(text)
    }).observe(region, { subtree: true, childList: true, characterData: true })
  })
  return async () => page.evaluate(() => [...(Reflect.get(window, '__toasts') as string[])])
}

t.test('Block asks first; the toast waits for the node; Undo restores the leak', async (tt) => {
  const leak = seed('Key in a pastebin')
  const id = (await seedLeaks(cp.url, keys.admin, [leak])).get(leak.title)
  await waitFor('the node passes the monitored token', async () => (await throughNode(leak.token)) === 200)
  await waitFor('the node in the fleet', async () => ((await cpFetch<{ items: { stale: boolean }[] }>(cp.url, keys.analyst, '/v1/nodes')).body.items.some((n) => !n.stale)))

  const { page, problems } = await signedIn(tt, keys.admin, { origin: cp.url })
  await page.goto(`${cp.url}/#/leaks/${id}`)
  await page.getByTestId('leak-detail').waitFor()
  const toasts = await recordToasts(page)

  // Cancelled: nothing happens.
  await page.getByTestId('decision-block').click()
  const dialog = page.getByTestId('confirm-dialog')
  await dialog.waitFor()
  tt.match(await dialog.innerText(), /Block leak \d+\?[\s\S]*refuse requests/, 'the dialog says what blocking does')
  await page.getByTestId('confirm-cancel').click()
  await dialog.waitFor({ state: 'detached' })
  tt.equal((await cpFetch<{ action: string }>(cp.url, keys.admin, `/v1/leaks/${id}`)).body.action, 'monitor', 'cancelled: still monitored')

  // Confirmed: the toast reports the nodes, and says blocked only when the node refuses the token.
  await page.getByTestId('decision-block').click()
  const answer = page.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().endsWith(`/v1/leaks/${id}`))
  await page.getByTestId('confirm-ok').click()
  const revision = ((await (await answer).json()) as { revision: number }).revision
  tt.type(revision, 'number', 'the decision answers its revision')
  await waitFor('the toast to say blocked', async () => (await page.getByTestId('toast-text').innerText()) === 'Blocked at the 1 node')
  tt.equal(await throughNode(leak.token), 403, 'once the toast says so, the node refuses the token')
  const fleet = await cpFetch<{ items: { revision: number }[] }>(cp.url, keys.analyst, '/v1/nodes')
  tt.ok((fleet.body.items[0]?.revision ?? 0) >= revision, 'the node reported the block\'s revision')
  const seen = await toasts()
  tt.notOk(seen.some((s) => /every node/.test(s)), 'no claim before the nodes confirm')
  tt.ok(seen.every((s, i) => i === seen.length - 1 || !s.startsWith('Blocked at')), `the earlier texts were progress: ${JSON.stringify(seen)}`)

  // Undo, within its few seconds: the reverse decision, audited; the node passes the token again.
  await page.getByTestId('toast-undo').click()
  await waitFor('the detail shows the leak monitored', async () => (await page.locator('[data-testid=leak-detail] .action-monitor').count()) === 1)
  await waitFor('the toast to say undone', async () => (await page.getByTestId('toast-text').innerText()) === 'Block undone at the 1 node')
  tt.equal(await throughNode(leak.token), 200, 'the node passes the token again')
  const detail = await cpFetch<{ action: string; decisions: { comment: string | null; to: { action: string } }[] }>(cp.url, keys.admin, `/v1/leaks/${id}`)
  tt.equal(detail.body.action, 'monitor')
  // Newest first: the undo, then the block.
  tt.same(detail.body.decisions.slice(0, 2).map((d) => d.to.action), ['monitor', 'block'], 'the block and its undo are both in the audit trail')
  tt.equal(detail.body.decisions[0]?.comment, 'Undo of the block')
  await page.getByTestId('audit-trail').getByText('Undo of the block').waitFor()
  tt.same(problems, [])
})

t.test('Undo is offered for a few seconds only', async (tt) => {
  const leak = seed('Key in a chat log')
  const id = (await seedLeaks(cp.url, keys.admin, [leak])).get(leak.title)
  const { page, problems } = await signedIn(tt, keys.admin, { origin: cp.url })
  await page.goto(`${cp.url}/#/leaks/${id}`)
  await page.getByTestId('decision-block').click()
  await page.getByTestId('confirm-ok').click()
  await page.getByTestId('toast-undo').waitFor()
  const shown = Date.now()
  await page.getByTestId('toast-undo').waitFor({ state: 'detached', timeout: 15_000 })
  const lasted = Date.now() - shown
  tt.ok(lasted > 6000 && lasted < 12_000, `Undo stayed about 8 s (${lasted} ms)`)
  tt.equal((await cpFetch<{ action: string }>(cp.url, keys.admin, `/v1/leaks/${id}`)).body.action, 'block', 'and the block stays')
  tt.same(problems, [])
})

t.test('with no node connected, the toast says so instead of claiming enforcement', async (tt) => {
  const lonely = makeKeys()
  const bare = await startControlPlane(stack, lonely)
  const leak = seed('Key nobody enforces')
  const id = (await seedLeaks(bare.url, lonely.admin, [leak])).get(leak.title)
  const { page, problems } = await openPage(browser, tt, { origin: bare.url })
  await signIn(page, bare.url, lonely.admin)
  await page.goto(`${bare.url}/#/leaks/${id}`)
  await page.getByTestId('decision-block').click()
  await page.getByTestId('confirm-ok').click()
  await waitFor('the toast', async () => /no node is connected/.test(await page.getByTestId('toast-text').innerText()))
  tt.match(await page.getByTestId('toast-text').innerText(), /^Leak \d+: blocked, but no node is connected to enforce it$/)
  tt.same(problems, [])
})

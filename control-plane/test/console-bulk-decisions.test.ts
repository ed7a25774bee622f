/**
 * Triage at scale in the console: rows selected, or every leak the filters match; a bulk decision
 * confirmed with its count, applied to each leak and audited for each, the leaks it left reported.
 */
import t from 'tap'
import type { Page } from 'playwright-core'
import { cpFetch, rawToken, seedLeaks, startConsoleDeployment, waitFor, type SeedLeak } from './console-harness.js'

const { keys, cp, signedIn } = await startConsoleDeployment(t, { node: true })

const seed = (title: string, source: string, kind: string): SeedLeak => ({ title, source, kind, risk: 'medium', action: 'monitor', token: rawToken('tk_'), url: '' })

/** 30 leaks from "wiki", 3 from "chat". */
const wiki = Array.from({ length: 30 }, (_, i) => seed(`Wiki page ${String(i).padStart(2, '0')}`, 'wiki', 'generic_api_key'))
const chat = Array.from({ length: 3 }, (_, i) => seed(`Chat message ${i}`, 'chat', 'slack_bot_token'))
const ids = await seedLeaks(cp.url, keys.admin, [...wiki, ...chat])

async function listStatus(page: Page): Promise<string> {
  return page.getByTestId('list-status').innerText()
}

interface LeakAnswer { action: string; status: string; decisions: Array<{ actor: string; comment: string | null; to: { action: string; status: string } }> }

t.test('selected rows are blocked together after a confirmation stating their count, each audited', async (tt) => {
  const { page, problems } = await signedIn(tt, keys.admin, { origin: cp.url })
  await page.goto(`${cp.url}/#/?source=wiki&sort=title&order=asc`)
  await waitFor('the wiki leaks', async () => (await listStatus(page)) === 'Showing 1–25 of 30 leaks')
  const rows = page.getByTestId('leak-row')
  const chosen: number[] = []
  for (const i of [0, 1, 2]) {
    await rows.nth(i).getByTestId('select-leak').check()
    chosen.push(Number(await rows.nth(i).getAttribute('data-leak-id')))
  }
  tt.equal(await page.getByTestId('bulk-count').innerText(), '3 leaks selected')

  await page.getByTestId('bulk-block').click()
  const dialog = page.getByTestId('confirm-dialog')
  await dialog.waitFor()
  tt.match(await dialog.innerText(), /Block: 3 leaks\?[\s\S]*applies to 3 leaks/, 'the confirmation states the count')
  tt.equal(await page.getByTestId('confirm-ok').innerText(), 'Block 3 leaks')
  await page.getByTestId('confirm-ok').click()
  await waitFor('the result', async () => /3 leaks blocked\./.test(await page.getByTestId('bulk-result').innerText()))
  await waitFor('the rows show the block', async () => (await page.locator('[data-testid=leak-row] .action-block').count()) === 3)

  for (const id of chosen) {
    const leak = (await cpFetch<LeakAnswer>(cp.url, keys.admin, `/v1/leaks/${id}`)).body
    tt.equal(leak.action, 'block', `leak ${id} blocked`)
    tt.match(leak.decisions[0], { actor: /^key_/, to: { action: 'block' } }, `leak ${id}: the block is audited`)
  }
  // The audit page shows one entry for each.
  await page.goto(`${cp.url}/#/audit`)
  await page.getByTestId('audit-log').waitFor()
  for (const id of chosen) {
    await waitFor(`the audit entry of leak ${id}`, async () => (await page.locator(`[data-testid=audit-row][data-leak-id="${id}"]`).count()) === 2)
  }
  tt.same(problems, [])
})

t.test('"select all matching" decides every leak of the filter; a count that changed meanwhile is refused', async (tt) => {
  const { page, problems } = await signedIn(tt, keys.admin, { origin: cp.url, expected: /status of 409/ })
  await page.goto(`${cp.url}/#/?source=wiki`)
  await waitFor('the wiki leaks', async () => (await listStatus(page)) === 'Showing 1–25 of 30 leaks')
  await page.getByTestId('select-page').check()
  tt.match(await page.getByTestId('select-banner').innerText(), /All 25 on this page are selected/)
  await page.getByTestId('select-all-matching').click()
  tt.equal(await page.getByTestId('bulk-count').innerText(), '30 leaks selected')

  // Another wiki leak arrives between the look and the confirmation: the control plane refuses.
  const late = seed('Wiki page late', 'wiki', 'generic_api_key')
  await seedLeaks(cp.url, keys.admin, [late])
  await page.getByTestId('bulk-close').click()
  tt.match(await page.getByTestId('confirm-message').innerText(), /applies to 30 leaks \(every leak these filters match\)/)
  await page.getByTestId('confirm-ok').click()
  await waitFor('the refusal', async () => /now matches 31 leaks, not the 30 confirmed/.test(await page.getByTestId('bulk-result').innerText()))
  await waitFor('the new total', async () => (await listStatus(page)) === 'Showing 1–25 of 31 leaks')
  const open = await cpFetch<{ total: number }>(cp.url, keys.analyst, '/v1/leaks?source=wiki&status=open&limit=1')
  tt.equal(open.body.total, 31, 'nothing was closed')

  await page.getByTestId('select-page').check()
  await page.getByTestId('select-all-matching').click()
  await page.getByTestId('bulk-close').click()
  tt.match(await page.getByTestId('confirm-message').innerText(), /applies to 31 leaks/)
  await page.getByTestId('confirm-ok').click()
  await waitFor('the result', async () => /31 leaks closed\./.test(await page.getByTestId('bulk-result').innerText()))
  const closed = await cpFetch<{ total: number }>(cp.url, keys.analyst, '/v1/leaks?source=wiki&status=closed&limit=1')
  tt.equal(closed.body.total, 31, 'every matching leak closed')
  tt.same(problems, [])
})

t.test('a bulk decision reports the leaks it left as they were', async (tt) => {
  const { page, problems } = await signedIn(tt, keys.admin, { origin: cp.url })
  const chatIds = chat.map((c) => ids.get(c.title) ?? 0)
  await cpFetch(cp.url, keys.admin, `/v1/leaks/${chatIds[0]}`, { method: 'PATCH', body: { status: 'false_positive' } })
  await page.goto(`${cp.url}/#/?source=chat`)
  await waitFor('the chat leaks', async () => (await page.getByTestId('leak-row').count()) === 3)
  await page.getByTestId('select-page').check()
  await page.getByTestId('bulk-false-positive').click()
  await page.getByTestId('confirm-ok').click()
  await waitFor('the result', async () => /2 leaks marked false positives\. 1 leak left as it was/.test(await page.getByTestId('bulk-result').innerText()))
  tt.match(await page.getByTestId('bulk-skipped').innerText(), new RegExp(`Leak ${chatIds[0]}: is already so`))
  tt.same(problems, [])
})

/**
 * The leak list's filters are choices taken from the data and apply as they are chosen (the search a
 * moment after typing stops); the list shows its total; each overview tile opens the list it counts.
 */
import t from 'tap'
import type { Page } from 'playwright-core'
import { cpFetch, rawToken, seedLeaks, startConsoleDeployment, waitFor, type SeedLeak } from './console-harness.js'

const { keys, cp, signedIn } = await startConsoleDeployment(t)

const seed = (title: string, source: string, kind: string): SeedLeak => ({ title, source, kind, risk: 'medium', action: 'monitor', token: rawToken('tk_'), url: '' })

/** 30 leaks from "wiki", 3 from "chat". */
const wiki = Array.from({ length: 30 }, (_, i) => seed(`Wiki page ${String(i).padStart(2, '0')}`, 'wiki', 'generic_api_key'))
const chat = Array.from({ length: 3 }, (_, i) => seed(`Chat message ${i}`, 'chat', 'slack_bot_token'))
await seedLeaks(cp.url, keys.admin, [...wiki, ...chat])

async function listStatus(page: Page): Promise<string> {
  return page.getByTestId('list-status').innerText()
}

t.test('filters are choices from the data, apply as chosen, and the list shows its total', async (tt) => {
  const { page, problems } = await signedIn(tt, keys.admin, { origin: cp.url })
  await waitFor('the total', async () => (await listStatus(page)) === 'Showing 1–25 of 33 leaks')
  const sources = await page.getByTestId('filter-source').locator('option').allInnerTexts()
  tt.same(sources, ['Any', 'wiki (30)', 'chat (3)'], 'the sources the leaks have, with their counts')
  tt.same(await page.getByTestId('filter-kind').locator('option').allInnerTexts(), ['Any', 'generic_api_key (30)', 'slack_bot_token (3)'])
  tt.equal(await page.getByRole('button', { name: 'Apply' }).count(), 0, 'no Apply button')

  await page.getByTestId('filter-source').selectOption('chat')
  await waitFor('only chat leaks', async () => (await listStatus(page)) === 'Showing 1–3 of 3 leaks')
  tt.match(page.url(), /source=chat/, 'the filter is in the URL')

  // The search applies a moment after typing stops, without Enter.
  await page.getByTestId('filter-q').pressSequentially('message 1')
  await waitFor('the search applied', async () => (await listStatus(page)) === 'Showing 1–1 of 1 leak')
  tt.same(await page.getByTestId('leak-link').allInnerTexts(), ['Chat message 1'])
  tt.equal(await page.getByTestId('filter-q').inputValue(), 'message 1', 'the text typed stays as typed')
  await page.getByTestId('clear-filters').click()
  await waitFor('every leak again', async () => (await listStatus(page)) === 'Showing 1–25 of 33 leaks')
  tt.equal(await page.getByTestId('page-number').innerText(), 'Page 1 of 2')
  tt.same(problems, [])
})

t.test('each overview tile opens the list of what it counts', async (tt) => {
  const { page, problems } = await signedIn(tt, keys.admin, { origin: cp.url })
  await page.getByTestId('tile-closed').waitFor()
  await cpFetch(cp.url, keys.admin, '/v1/leaks/bulk-decisions', { method: 'POST', body: { filter: { source: 'wiki', q: 'page 0' }, expectedCount: 10, status: 'closed' } })
  await page.reload()
  await page.getByTestId('tile-closed').waitFor()
  const closedCount = Number(await page.getByTestId('tile-closed').locator('.tile-value').innerText())
  tt.ok(closedCount > 0)
  await page.getByTestId('tile-closed').click()
  await waitFor('the closed leaks', async () => (await listStatus(page)).endsWith(`of ${closedCount} leaks`))
  tt.match(page.url(), /#\/\?status=closed$/)
  const statuses = await page.getByTestId('leak-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-status')))
  tt.ok(statuses.every((s) => s === 'closed'), 'only closed leaks')
  tt.equal(await page.getByTestId('chip-status').isVisible(), true)

  await seedLeaks(cp.url, keys.admin, [{ ...seed('Blocked from the start', 'chat', 'slack_bot_token'), action: 'block' }])
  await page.reload()
  await page.getByTestId('tile-blocked').waitFor()
  await page.getByTestId('tile-blocked').click()
  await waitFor('the blocked leaks', async () => /#\/\?status=open&action=block$/.test(page.url()) && (await listStatus(page)) === 'Showing 1–1 of 1 leak')
  tt.same(await page.getByTestId('leak-link').allInnerTexts(), ['Blocked from the start'], 'only the open blocked leak')
  tt.same(problems, [])
})

/**
 * A search whose count stopped at its bound: the leak list says "N+" and shows no page count, and does
 * not offer to select every match (a bulk decision needs the exact count).
 */
import t from 'tap'
import type { Browser } from 'playwright-core'
import { ALPHA, Rng } from '../detect/corpus/random.js'
import { startPlane } from './harness.js'
import { launchBrowser, openPage, signIn, Stack, waitFor } from './console-harness.js'

const stack = new Stack()
t.teardown(stack.close)
const browser: Browser = await launchBrowser(stack)

t.test('a capped search total reads "N+ leaks" with no page count; an exact one as before', async (tt) => {
  // A bound of 26 (a page and one) stands for the control plane's 10,000.
  const plane = await startPlane(tt, {}, { leakList: { searchTotalUpTo: 26 } })
  const url = await plane.app.listen({ port: 0, host: '127.0.0.1' })
  const rng = new Rng(47)
  for (const title of [...Array.from({ length: 30 }, (_, i) => `Widget ${i}`), 'Gadget']) {
    const res = await plane.call('POST', '/v1/leaks', plane.keys.admin, { title, tokens: [{ value: `tok_${rng.chars(32, ALPHA.base62)}` }] })
    tt.equal(res.statusCode, 201)
  }
  const { page, problems } = await openPage(browser, tt, { origin: url })
  await signIn(page, url, plane.keys.admin)
  const status = async (): Promise<string> => page.getByTestId('list-status').innerText()
  await waitFor('every leak', async () => (await status()) === 'Showing 1–25 of 31 leaks')
  tt.equal(await page.getByTestId('page-number').innerText(), 'Page 1 of 2')

  await page.getByTestId('filter-q').pressSequentially('widget')
  // Thirty match, the count stopped at 26.
  await waitFor('the capped total', async () => (await status()) === 'Showing 1–25 of 26+ leaks')
  tt.equal(await page.getByTestId('page-number').innerText(), 'Page 1', 'no page count')
  await page.getByTestId('select-page').check()
  await page.getByTestId('select-banner').waitFor({ state: 'hidden' })
  tt.equal(await page.getByTestId('select-all-matching').count(), 0, 'no offer to select every match')
  await page.getByTestId('next-page').click()
  await waitFor('the second page', async () => (await status()) === 'Showing 26–30 of 30+ leaks')

  await page.getByTestId('filter-q').fill('gadget')
  await waitFor('an exact total', async () => (await status()) === 'Showing 1–1 of 1 leak')
  tt.equal(await page.getByTestId('page-number').innerText(), 'Page 1 of 1')
  tt.same(problems, [])
})

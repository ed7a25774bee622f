/**
 * The console's "Check a token" page in headless Chromium against the real control plane: a leaked
 * token is reported leaked and a clean one not, and the only thing that left the browser was 5
 * characters of the hash (no request carried the token or its whole hash).
 */
import t from 'tap'
import type { Request } from 'playwright-core'
import { ALPHA, Rng } from '../detect/corpus/random.js'
import { cpFetch, sha256, startConsoleDeployment } from './console-harness.js'

const { keys, cp, browser } = await startConsoleDeployment(t, { env: { LEAKGATE_RANGE_ANONYMOUS: 'true' } })
const rng = new Rng(7331)
const leaked = `lgtest_${rng.chars(40, ALPHA.base62)}`
const clean = `lgtest_${rng.chars(40, ALPHA.base62)}`
const added = await cpFetch(cp.url, keys.admin, '/v1/leaks', { method: 'POST', body: { title: 'check page test', tokens: [{ value: leaked }] } })
if (added.status !== 201) throw new Error(`adding the leak answered ${added.status}`)

t.test('an analyst checks a leaked and a clean token; only 5 characters of each hash leave the browser', async (tt) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  tt.teardown(() => context.close())
  const page = await context.newPage()
  const problems: string[] = []
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
  const requests: Request[] = []
  page.on('request', (req) => requests.push(req))

  await page.goto(`${cp.url}/`)
  await page.getByTestId('signin-key').fill(keys.analyst)
  await page.getByTestId('signin-submit').click()
  await page.getByTestId('whoami').waitFor()
  await page.getByRole('link', { name: 'Check a token' }).click()
  await page.getByTestId('check-form').waitFor()
  await page.getByTestId('check-anonymous').waitFor()
  tt.match(await page.getByTestId('check-anonymous').textContent(), /Anonymous checks are on/, 'says anyone may check')

  await page.getByTestId('check-token').fill(leaked)
  await page.getByTestId('check-submit').click()
  await page.getByTestId('check-leaked').waitFor()
  tt.match(await page.getByTestId('check-leaked').textContent(), new RegExp(`Leaked.*SHA-256 ${sha256(leaked).slice(0, 5)}…`))
  tt.equal(await page.getByTestId('check-token').inputValue(), '', 'the field is emptied')

  await page.getByTestId('check-token').fill(clean)
  await page.getByTestId('check-submit').click()
  await page.getByTestId('check-clean').waitFor()
  tt.match(await page.getByTestId('check-clean').textContent(), /Not found/)

  const asked = requests.map((r) => new URL(r.url()).pathname).filter((p) => p.startsWith('/v1/range/'))
  tt.same(asked, [`/v1/range/${sha256(leaked).slice(0, 5)}`, `/v1/range/${sha256(clean).slice(0, 5)}`], 'one range request a check, with the prefix only')
  for (const req of requests) {
    const sent = `${req.url()} ${JSON.stringify(await req.allHeaders())} ${req.postData() ?? ''}`
    for (const value of [leaked, clean, sha256(leaked), sha256(clean), sha256(leaked).slice(0, 6), sha256(clean).slice(0, 6)]) {
      if (sent.includes(value)) tt.fail(`a request carried the token or more of its hash: ${req.url()}`)
    }
  }
  tt.same(problems, [])
})

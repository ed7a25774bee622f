/**
 * Redraws docs/console.png, the README's picture of the console's overview: starts the real control
 * plane, the real node and a small upstream (as the console's browser tests do), seeds a few leaks,
 * sends some of their tokens through the node so the list shows hits, and screenshots the overview in
 * headless Chromium. Run on purpose, never by the tests: `npm run screenshots`.
 */
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { cpFetch, demoSeeds, launchBrowser, makeKeys, seedLeaks, Stack, startControlPlane, startNode, startUpstream, waitFor } from '../control-plane/test/console-harness.js'

const out = fileURLToPath(new URL('../docs/console.png', import.meta.url))

const stack = new Stack()
try {
  const keys = makeKeys()
  const upstream = await startUpstream(stack)
  const cp = await startControlPlane(stack, keys)
  const node = await startNode(stack, cp.url, upstream.url, keys.node)
  const browser = await launchBrowser(stack)

  const seeds = demoSeeds()
  const ids = await seedLeaks(cp.url, keys.admin, seeds)
  // Some traffic first, so the list shows hits and last-seen times. The node follows the control
  // plane: once it blocks the first blocked seed it knows them all, and each token goes through once.
  const through = async (token: string): Promise<number> => {
    const res = await fetch(`${node.url}/v1/users/7`, { headers: { authorization: `Bearer ${token}` } })
    await res.arrayBuffer()
    return res.status
  }
  const blocked = seeds.find((s) => s.action === 'block')
  if (blocked === undefined) throw new Error('the seeds have no blocked leak')
  await waitFor('the node to know the seeded leaks', async () => (await through(blocked.token)) === 403)
  const traffic = seeds.slice(1, 5).filter((s) => s !== blocked)
  for (const s of traffic) await through(s.token)
  await waitFor('the sightings to reach the control plane', async () => {
    for (const s of traffic) {
      const res = await cpFetch<{ hits: number }>(cp.url, keys.admin, `/v1/leaks/${ids.get(s.title)}`)
      if (res.body.hits === 0) return false
    }
    return true
  })

  const context = await browser.newContext({ viewport: { width: 1280, height: 1560 }, reducedMotion: 'reduce' })
  const page = await context.newPage()
  const problems: string[] = []
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
  await page.goto(`${cp.url}/`)
  await page.getByTestId('signin-key').fill(keys.admin)
  await page.getByTestId('signin-submit').click()
  await page.getByTestId('whoami').waitFor()
  await page.locator('[data-testid=leak-list][aria-busy=false]').waitFor()
  await page.getByTestId('chart-risk-source').waitFor()
  if (problems.length > 0) throw new Error(`the console reported problems:\n${problems.join('\n')}`)
  mkdirSync(fileURLToPath(new URL('../docs/', import.meta.url)), { recursive: true })
  await page.screenshot({ path: out, fullPage: false })
  console.log(`wrote ${out}`)
} finally {
  await stack.close()
}

/**
 * Redraws the console's pictures in docs/: the overview (console.png, the README's), the list with rows
 * selected for a bulk decision (console-selection.png) and a leak found by a scan of a git repository
 * (console-scanned-leak.png). Starts the real control plane, the real node and a small upstream (as the
 * console's browser tests do), seeds a few leaks, sends some of their tokens through the node so the list
 * shows hits, scans a repository made here (`leakgate scan --history --push`, a GitHub remote, made-up
 * tokens), and screenshots each view in headless Chromium. Run on purpose, never by the tests:
 * `npm run screenshots`.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Page } from 'playwright-core'
import { cpFetch, demoSeeds, launchBrowser, makeKeys, seedLeaks, Stack, startControlPlane, startNode, startUpstream, waitFor } from '../control-plane/test/console-harness.js'
import { Rng } from '../control-plane/detect/corpus/random.js'
import { awsSecret, PROVIDER_TOKENS } from '../control-plane/detect/corpus/tokens.js'
import { gitRepo } from '../control-plane/detect/test/helpers.js'
import { tempDir } from '../test/support.js'

const docs = fileURLToPath(new URL('../docs/', import.meta.url))
const cli = fileURLToPath(new URL('../cli.ts', import.meta.url))

/** Saves what the page shows as docs/<name>. */
async function shoot(page: Page, name: string): Promise<void> {
  const path = join(docs, name)
  await page.screenshot({ path, fullPage: false })
  console.log(`wrote ${path}`)
}

/**
 * A repository of "acme/api" on GitHub (its remote) whose history holds a GitHub token and an AWS key
 * pair in `.env` (made-up values of the right shapes), scanned and pushed to the control plane the way
 * an operator would: returns the id of the GitHub token's leak.
 */
async function scanARepository(stack: Stack, cpUrl: string, adminKey: string): Promise<number> {
  const rng = new Rng(20261202)
  const repo = gitRepo(tempDir(stack, 'leakgate-shot-repo-'), 'api')
  repo.git('remote', 'add', 'origin', 'https://github.com/acme/api.git')
  repo.commit('service skeleton', { 'README.md': '# api\n', 'src/server.js': 'export const port = 8080\n' })
  repo.commit('local settings', {
    '.env': `PORT=8080\nGITHUB_TOKEN=${PROVIDER_TOKENS.githubClassic!(rng).value}\nAWS_ACCESS_KEY_ID=${PROVIDER_TOKENS.awsKeyId!(rng).value}\nAWS_SECRET_ACCESS_KEY=${awsSecret(rng).value}\n`,
  })
  repo.commit('remove .env', { '.env': 'PORT=8080\n' })
  try {
    // Not a sync call: the control plane it pushes to runs in this process.
    await promisify(execFile)(process.execPath, ['--import', './scripts/register-ts.js', cli, 'scan', repo.dir, '--history', '--push', '--control-plane', cpUrl], {
      cwd: fileURLToPath(new URL('../', import.meta.url)), env: { ...process.env, LEAKGATE_API_KEY: adminKey },
    })
  } catch (err) {
    // Exit code 1: secrets were found, which is the point.
    if ((err as { code?: number }).code !== 1) throw err
  }
  const found = await cpFetch<{ items: { id: number; kind: string | null }[] }>(cpUrl, adminKey, '/v1/leaks?q=acme%2Fapi&limit=10')
  const leak = found.body.items.find((l) => l.kind === 'github_pat')
  if (leak === undefined) throw new Error('the scan made no GitHub token leak')
  return leak.id
}

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

  const scanned = await scanARepository(stack, cp.url, keys.admin)

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
  await page.getByTestId('live-status').filter({ hasText: /^Live$/ }).waitFor()
  mkdirSync(docs, { recursive: true })
  await shoot(page, 'console.png')

  // The list with three leaks selected, the bulk actions above it.
  await page.setViewportSize({ width: 1280, height: 900 })
  const list = page.getByTestId('leak-list')
  await list.scrollIntoViewIfNeeded()
  const rows = page.getByTestId('leak-row')
  for (let i = 0; i < 3; i++) await rows.nth(i).getByTestId('select-leak').check()
  await page.getByTestId('bulk-bar').waitFor()
  await list.evaluate((el) => el.scrollIntoView({ block: 'start' }))
  await shoot(page, 'console-selection.png')

  // A leak the scan found: what it is, where (repository, commit, file and line, with links), found with.
  await page.goto(`${cp.url}/#/leaks/${scanned}`)
  await page.getByTestId('leak-detail').waitFor()
  await page.evaluate(() => window.scrollTo(0, 0))
  await shoot(page, 'console-scanned-leak.png')
  if (problems.length > 0) throw new Error(`the console reported problems:\n${problems.join('\n')}`)
} finally {
  await stack.close()
}

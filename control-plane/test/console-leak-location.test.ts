/**
 * A scanned leak's page in the console, in headless Chromium against the real control plane: where it
 * was found (repository, its address, file and line, branch, commit) with links to the repository and
 * the line that open apart (rel=noopener), only for http(s) addresses, and the leaks found with it,
 * each a link to its own page. Its own file, so the main console file keeps to its time.
 */
import t from 'tap'
import { cpFetch, rawToken, sha256, startConsoleDeployment, waitFor } from './console-harness.js'

const { keys, cp, signedIn } = await startConsoleDeployment(t, { node: true })

interface LeakItem { id: number; title: string; location: { line?: number } }

t.test('a scanned leak shows where it was found, links to the line, and the leaks found with it', async (tt) => {
  const commit = 'a'.repeat(40)
  const finding = (line: number, ruleId: string, kind: string, token: string, url: string): Record<string, unknown> => ({
    ruleId, kind, file: 'config/.env', line, column: 1, commit, branch: 'main', sha256: sha256(token), preview: `${token.slice(0, 4)}…${token.slice(-4)}`,
    fingerprint: sha256(`${ruleId}${token}`).slice(0, 32), inHistoryOnly: false, source: 'git',
    location: { path: 'config/.env', line, repo: 'acme/console-demo', repoUrl: 'https://github.com/acme/console-demo', commit, branch: 'main', url },
  })
  const link = `https://github.com/acme/console-demo/blob/${commit}/config/.env#L1`
  const pushed = await cpFetch<{ leaksCreated: number }>(cp.url, keys.admin, '/v1/scans', {
    method: 'POST',
    body: {
      source: { type: 'git', url: 'https://github.com/acme/console-demo.git' },
      findings: [
        finding(1, 'github-pat', 'github_pat', rawToken('ghp_'), link),
        // An address that is not http(s) (a pushed finding may carry anything) is shown, never linked.
        finding(2, 'gitlab-token', 'gitlab_token', rawToken('glpat-'), 'javascript:alert(1)'),
      ],
    },
  })
  tt.equal(pushed.body.leaksCreated, 2)
  const list = await cpFetch<{ items: LeakItem[] }>(cp.url, keys.admin, `/v1/leaks?q=${encodeURIComponent('acme/console-demo')}`)
  const [first, second] = list.body.items.sort((a, b) => (a.location.line ?? 0) - (b.location.line ?? 0))
  tt.equal(first?.title, 'GitHub token in acme/console-demo config/.env')

  const { page, problems } = await signedIn(tt, keys.analyst)
  await page.goto(`${cp.url}/#/leaks/${first!.id}`)
  await page.getByTestId('leak-detail').waitFor()
  const where = page.getByTestId('location')
  const text = await where.innerText()
  for (const shown of ['acme/console-demo', 'config/.env:1', 'main', commit]) tt.match(text, shown, `shows ${shown}`)
  const lineLink = where.getByTestId('location-link')
  tt.equal(await lineLink.getAttribute('href'), link)
  tt.match(await lineLink.getAttribute('rel'), /noopener/)
  tt.equal(await lineLink.getAttribute('target'), '_blank')
  tt.equal(await where.getByTestId('location-repo-url').getAttribute('href'), 'https://github.com/acme/console-demo')
  const found = where.getByTestId('found-with-link')
  tt.equal(await found.count(), 1)
  tt.equal(await found.innerText(), second!.title)

  await found.click()
  await waitFor('the other leak\'s page', async () => page.url().endsWith(`#/leaks/${second!.id}`))
  await waitFor('its location', async () => /config\/\.env:2/.test(await page.getByTestId('location').innerText()))
  tt.equal(await page.getByTestId('location').getByTestId('location-link').count(), 0, 'a javascript: address is not a link')
  tt.match(await page.getByTestId('location').innerText(), /javascript:alert\(1\)/, 'but it is shown')
  tt.equal(await page.getByTestId('found-with-link').innerText(), first!.title, 'found with the first')
  tt.same(problems, [])
})

/**
 * The GitHub source against a small server that answers as the GitHub REST API does (pages
 * through Link, rate-limit headers, 404 for an unknown organisation) and lists git repositories
 * made by the test, cloned through file:// URLs.
 */
import t from 'tap'
import { createServer, type IncomingMessage } from 'node:http'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { scanSource } from '../index.js'
import { listRepos, nextLink } from './github.js'
import { PROVIDER_TOKENS } from '../corpus/tokens.js'
import { Rng } from '../corpus/random.js'
import { sha256Hex } from '../findings.js'
import { gitRepo, tempDir, type Teardown } from '../test/helpers.js'

/** A repository `root/name` holding one commit for each entry of `commits` (path → content). */
function makeRepo(root: string, name: string, commits: Array<Record<string, string>>): string {
  const repo = gitRepo(root, name)
  for (const [i, files] of commits.entries()) repo.commit(`commit ${i}`, files)
  return repo.dir
}

interface Seen { url: string; at: number; auth: string | undefined }

async function fakeGitHub(t: Teardown, repos: Array<{ name: string; path: string; fork?: boolean }>): Promise<{ api: string; seen: Seen[]; resetAt: () => number }> {
  const seen: Seen[] = []
  let resetAt = 0
  let limited = false
  const server = createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    seen.push({ url: url.pathname + url.search, at: Date.now(), auth: req.headers.authorization })
    const json = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers })
      res.end(JSON.stringify(body))
    }
    if (url.pathname !== '/api/v3/orgs/acme/repos') return json(404, { message: 'Not Found' })
    // The first request is refused for the secondary rate limit, as GitHub does.
    if (!limited) {
      limited = true
      return json(403, { message: 'You have exceeded a secondary rate limit' }, { 'retry-after': '1' })
    }
    const page = Number(url.searchParams.get('page') ?? '1')
    const item = repos[page - 1]
    const base = `http://${req.headers.host}/api/v3/orgs/acme/repos?type=public&per_page=100`
    const headers: Record<string, string> = {}
    if (page < repos.length) headers.link = `<${base}&page=${page + 1}>; rel="next", <${base}&page=${repos.length}>; rel="last"`
    if (page === 1) {
      // Quota spent by this answer: the client must wait for the reset before page 2.
      resetAt = Math.ceil(Date.now() / 1000) + 1
      headers['x-ratelimit-remaining'] = '0'
      headers['x-ratelimit-reset'] = String(resetAt)
    }
    json(200, item === undefined ? [] : [{ full_name: `acme/${item.name}`, clone_url: `file://${item.path}`, html_url: `https://ghe.example.test/acme/${item.name}`, fork: item.fork ?? false, private: false }], headers)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  return { api: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v3`, seen, resetAt: () => resetAt }
}

t.test('an organisation: pages, rate limits, forks skipped, every repository scanned with its history', async (t) => {
  const root = tempDir(t, 'leakgate-gh-')
  const rng = new Rng(99)
  const current = PROVIDER_TOKENS.githubClassic!(rng).value
  const old = PROVIDER_TOKENS.stripeSecret!(rng).value
  const forked = PROVIDER_TOKENS.npm!(rng).value
  const api1 = makeRepo(root, 'api', [{ 'config.env': `GITHUB_TOKEN=${current}\n` }])
  const web = makeRepo(root, 'web', [{ 'pay.js': `const k = "${old}"\n` }, { 'pay.js': 'const k = process.env.STRIPE_KEY\n' }])
  const fork = makeRepo(root, 'fork', [{ 'x.env': `NPM_TOKEN=${forked}\n` }])
  const gh = await fakeGitHub(t, [{ name: 'api', path: api1 }, { name: 'fork', path: fork, fork: true }, { name: 'web', path: web }])

  const { findings, progress, state } = await scanSource({ type: 'github', org: 'acme', history: true }, {
    cacheDir: join(root, 'cache'),
    github: { apiUrl: gh.api, token: 'test-token-123', maxRateLimitWait: 30 },
    // The fake API lists file:// clone URLs: local clones need the folder allowed.
    reach: { allowedPaths: [root] },
  })
  t.same(findings.map((f) => [f.location.repo, f.file, f.sha256, f.inHistoryOnly, f.source]).sort(), [
    ['acme/api', 'config.env', sha256Hex(current), false, 'github'],
    ['acme/web', 'pay.js', sha256Hex(old), true, 'github'],
  ])
  t.match(findings.find((f) => f.location.repo === 'acme/api')?.location.url, /^https:\/\/ghe\.example\.test\/acme\/api\/blob\/[0-9a-f]{40}\/config\.env#L1$/)
  t.equal(progress.repos, 2)
  t.same(Object.keys(state.repos ?? {}).sort(), ['acme/api', 'acme/web'])

  t.equal(gh.seen.length, 4, 'refused once, then three pages')
  t.ok(gh.seen.every((s) => s.auth === 'Bearer test-token-123'), 'the token is sent')
  t.ok(gh.seen[1]!.at - gh.seen[0]!.at >= 1000, 'retry-after honoured')
  t.ok(gh.seen[2]!.at >= gh.resetAt() * 1000, 'page 2 asked for only after the rate-limit reset')
})

t.test('an unknown organisation is a GitHub error; a reset too far away fails instead of hanging', async (t) => {
  const gh = await fakeGitHub(t, [])
  await t.rejects(listRepos({ org: 'nobody', apiUrl: gh.api, history: false, cacheDir: '/nonexistent', limits: { maxFileSize: 1 } }), { code: 'LEAKGATE_ERR_GITHUB' })
  await t.rejects(listRepos({ org: 'acme', apiUrl: gh.api, history: false, cacheDir: '/nonexistent', limits: { maxFileSize: 1 }, maxRateLimitWait: 0 }), { code: 'LEAKGATE_ERR_GITHUB', message: /rate limit/ })
  await t.rejects(listRepos({ org: '../etc', apiUrl: gh.api, history: false, cacheDir: '/nonexistent', limits: { maxFileSize: 1 } }), { code: 'LEAKGATE_ERR_GITHUB' })
})

t.test('Link header parsing', async (t) => {
  t.equal(nextLink('<https://api/x?page=2>; rel="next", <https://api/x?page=9>; rel="last"'), 'https://api/x?page=2')
  t.equal(nextLink('<https://api/x?page=1>; rel="prev"'), undefined)
  t.equal(nextLink(null), undefined)
})

t.test('the token goes to the API origin only, and clones come only from its host', async (t) => {
  const elsewhere: Array<string | undefined> = []
  const other = createServer((req, res) => {
    elsewhere.push(req.headers.authorization)
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('[]')
  })
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => other.close(() => r())))
  const otherOrigin = `http://localhost:${(other.address() as AddressInfo).port}`
  const api = createServer((req, res) => {
    const host = `http://${req.headers.host}`
    res.writeHead(200, { 'content-type': 'application/json', link: `<${otherOrigin}/api/v3/orgs/acme/repos?page=2>; rel="next"` })
    res.end(JSON.stringify([
      { full_name: 'acme/local', clone_url: '/etc', html_url: 'x', fork: false },
      { full_name: 'acme/file', clone_url: 'file:///etc', html_url: 'x', fork: false },
      { full_name: 'acme/other', clone_url: `${otherOrigin}/acme/other.git`, html_url: 'x', fork: false },
      { full_name: 'acme/creds', clone_url: `${host.replace('//', '//u:p@')}/acme/creds.git`, html_url: 'x', fork: false },
    ]))
  })
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => api.close(() => r())))
  const apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}/api/v3`
  const listed = await listRepos({ org: 'acme', apiUrl, token: 'secret-token-1', history: false, cacheDir: '/nonexistent', limits: { maxFileSize: 1 } })
  t.equal(listed.length, 4, 'the first page is read')
  t.same(elsewhere, [], 'a next page on another origin is not asked for, with or without the token')
  const { progress, findings } = await scanSource({ type: 'github', org: 'acme' }, { cacheDir: tempDir(t, 'leakgate-gh-origin-'), github: { apiUrl, token: 'secret-token-1' } })
  t.equal(progress.repos, 0, 'no repository cloned')
  t.equal(progress.skipped, 4, 'a local path, a file URL, another host, a URL with credentials: skipped')
  t.same(findings, [])
  t.same(elsewhere, [])
})

t.test('with reach rules, an API on a forbidden address is asked nothing', async (t) => {
  const gh = await fakeGitHub(t, [])
  await t.rejects(scanSource({ type: 'github', org: 'acme' }, { cacheDir: tempDir(t, 'leakgate-gh-reach-'), github: { apiUrl: gh.api, token: 'secret-token-2' }, reach: { allowedHosts: ['*'] } }), { code: 'LEAKGATE_ERR_GITHUB', message: /not allowed \(scan\.allowedHosts\)/ })
  t.same(gh.seen, [], 'loopback is not public: nothing sent, the token least of all')
})

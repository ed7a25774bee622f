import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { sha256Hex } from '../../protocol/token-hash.js'
import { Rng } from '../detect/corpus/random.js'
import { regexRule } from '../detect/rule.js'
import { expandSample } from '../detect/detectors/provider-spec.js'
import { openTestStore, tempDir } from '../test/harness.js'
import type { Teardown } from '../../test/support.js'
import { codeSearchQueries, GitHubCodeSearchSource } from './github-code-search.js'
import { PublicSourceRunner } from './runner.js'

const rng = new Rng(1530)
const issued = `acme_live_${expandSample('{a62:40}', rng)}`
const foreign = expandSample('xoxe-1-{a62:146}', rng)
const hex = (n: number): string => rng.chars(n, '0123456789abcdef')

interface IndexedFile { repo: string; path: string; sha: string; commit: string; content: string }

/**
 * GitHub's code search as the source reads it: `GET /search/code` (`q` matched as a substring of the
 * files, `per_page` pages with `Link`, `incomplete_results`, the search budget in `X-RateLimit-*`) and
 * `GET /repos/{repo}/contents/{path}?ref=` (base64). Scripted answers go first: a status, a rate
 * limit, JSON cut off.
 */
async function startFakeSearch(t: Teardown): Promise<{ api: string; files: IndexedFile[]; seen: string[]; script: Array<{ path: string; status?: number; rateLimit?: number; cut?: true }>; remaining: number; incomplete: boolean }> {
  const fake = { api: '', files: [] as IndexedFile[], seen: [] as string[], script: [] as Array<{ path: string; status?: number; rateLimit?: number; cut?: true }>, remaining: 30, incomplete: false }
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', fake.api)
    fake.seen.push(url.pathname)
    const reset = String(Math.floor(Date.now() / 1000) + 60)
    // A search costs one request of the search budget, as the answer to it says.
    if (url.pathname === '/search/code') fake.remaining = Math.max(0, fake.remaining - 1)
    const budget = { 'x-ratelimit-limit': '30', 'x-ratelimit-remaining': String(fake.remaining), 'x-ratelimit-reset': reset, 'x-ratelimit-resource': 'search' }
    const i = fake.script.findIndex((s) => url.pathname.startsWith(s.path))
    const scripted = i < 0 ? undefined : fake.script.splice(i, 1)[0]
    if (scripted?.rateLimit !== undefined) {
      res.writeHead(403, { 'content-type': 'application/json', 'retry-after': String(scripted.rateLimit), ...budget, 'x-ratelimit-remaining': '0' })
      res.end(JSON.stringify({ message: 'You have exceeded a secondary rate limit.' }))
      return
    }
    if (scripted?.status !== undefined) {
      res.writeHead(scripted.status, { 'content-type': 'application/json', ...budget }).end('{"message":"Server Error"}')
      return
    }
    const send = (body: unknown, headers: Record<string, string> = {}): void => {
      const text = JSON.stringify(body)
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', ...(url.pathname === '/search/code' ? budget : {}), ...headers })
      res.end(scripted?.cut === true ? text.slice(0, text.length >> 1) : text)
    }
    if (url.pathname === '/search/code') {
      const q = (url.searchParams.get('q') ?? '').replace(/"/g, '').toLowerCase()
      const perPage = Math.min(Number(url.searchParams.get('per_page') ?? 30), 2)
      const page = Number(url.searchParams.get('page') ?? 1)
      const hits = fake.files.filter((f) => f.content.toLowerCase().includes(q))
      const items = hits.slice((page - 1) * perPage, page * perPage).map((f) => ({
        name: f.path.split('/').pop(), path: f.path, sha: f.sha, score: 1,
        url: `${fake.api}/repos/${f.repo}/contents/${f.path}?ref=${f.commit}`,
        git_url: `${fake.api}/repos/${f.repo}/git/blobs/${f.sha}`,
        html_url: `https://github.com/${f.repo}/blob/${f.commit}/${f.path}`,
        repository: { id: 1, full_name: f.repo, private: false },
      }))
      const next = page * perPage < hits.length ? { link: `<${fake.api}/search/code?q=${encodeURIComponent(q)}&per_page=${perPage}&page=${page + 1}>; rel="next"` } : {}
      send({ total_count: hits.length, incomplete_results: fake.incomplete, items }, next)
      return
    }
    const m = /^\/repos\/([^/]+\/[^/]+)\/contents\/(.+)$/.exec(url.pathname)
    const file = m === null ? undefined : fake.files.find((f) => f.repo === m[1] && f.path === m[2] && f.commit === url.searchParams.get('ref'))
    if (file === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Not Found"}')
      return
    }
    res.setHeader('x-ratelimit-remaining', '4999')
    res.setHeader('x-ratelimit-limit', '5000')
    res.setHeader('x-ratelimit-resource', 'core')
    send({ type: 'file', encoding: 'base64', size: Buffer.byteLength(file.content), name: file.path, path: file.path, sha: file.sha, content: Buffer.from(file.content).toString('base64') })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  fake.api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  return fake
}

const acmeRule = regexRule({ id: 'acme-live', kind: 'acme_live', description: 'Acme live token', regex: /acme_live_[A-Za-z0-9]{40}/, keywords: ['acme_live_'] })

t.test('queries: the rules\' keywords quoted, short ones left out, --query strings as given', async (t) => {
  t.same(codeSearchQueries([acmeRule, regexRule({ id: 'x', description: 'x', regex: /ab[0-9]{9}/, keywords: ['ab'] })], ['org:acme "token"', ' ']), ['"acme_live_"', 'org:acme "token"'])
  t.throws(() => new GitHubCodeSearchSource({ queries: [] }), /needs something to search/)
})

t.test('code search: our token becomes a leak linked to its line; another provider\'s is not kept; a restart yields nothing again; a 500 or JSON cut off keeps the cursor; a rate limit waits', async (t) => {
  const fake = await startFakeSearch(t)
  const dir = tempDir(t)
  let store = await openTestStore(t, dir)
  await store.issuedHashes.add([sha256Hex(issued)])
  const leakyCommit = hex(40)
  fake.files.push(
    { repo: 'bob/site', path: 'config/deploy.env', sha: hex(40), commit: leakyCommit, content: `# deploy\nA=1\nACME=${issued}\n` },
    { repo: 'carol/tools', path: 'notes.md', sha: hex(40), commit: hex(40), content: `acme_live_ is our prefix\nSLACK_REFRESH=${foreign}\n` },
    { repo: 'dave/x', path: 'x.txt', sha: hex(40), commit: hex(40), content: 'acme_live_ nothing here\n' },
  )
  const options = { apiUrl: fake.api, queries: codeSearchQueries([acmeRule]), pollSeconds: 1, maxFilesPerBatch: 2 }
  const runner = new PublicSourceRunner(store, { ourRules: [acmeRule] })
  const first = await runner.runBatch(new GitHubCodeSearchSource(options))
  t.match(first, { units: 2, scanned: 2, leaksCreated: 1, otherFindings: 1, more: true }, 'two files of three: the batch holds two')
  const leaks = (await store.leaks.list({})).items
  t.equal(leaks.length, 1, 'only our token is kept')
  t.match(leaks[0], {
    source: 'github', kind: 'acme_live',
    location: { repo: 'bob/site', repoUrl: 'https://github.com/bob/site', commit: leakyCommit, path: 'config/deploy.env', line: 3, url: `https://github.com/bob/site/blob/${leakyCommit}/config/deploy.env#L3` },
  })
  t.equal(fake.seen.filter((p) => p === '/search/code').length, 2, 'the results\' two pages, by Link')

  // A restart: the third file only; then the round is over, and the source waits its poll interval.
  await store.close()
  store = await openTestStore(t, dir)
  t.teardown(() => store.close())
  const again = new PublicSourceRunner(store, { ourRules: [acmeRule] })
  const source = new GitHubCodeSearchSource(options)
  const contentsBefore = fake.seen.filter((p) => p.includes('/contents/')).length
  t.match(await again.runBatch(source), { units: 1, scanned: 1, leaksCreated: 0, more: false })
  t.equal(fake.seen.filter((p) => p.includes('/contents/')).length, contentsBefore + 1, 'files yielded before are not read again')
  const waiting = await store.publicSources.cursor('github-code-search')
  t.ok(Date.parse(String(waiting?.state.nextPollAt)) > Date.now(), 'the next round is scheduled')
  t.match(await again.runBatch(source), { units: 0 }, 'not before its time')
  await new Promise((resolve) => setTimeout(resolve, Date.parse(String(waiting?.state.nextPollAt)) - Date.now() + 20))
  t.match(await again.runBatch(source), { units: 0, scanned: 0, leaksCreated: 0 }, 'the next round: nothing new')

  // Failures: the cursor stays.
  const cursor = (await store.publicSources.cursor('github-code-search'))?.cursor
  const newCommit = hex(40)
  fake.files.push({ repo: 'erin/app', path: 'src/a.ts', sha: hex(40), commit: newCommit, content: `const k = '${issued}'\n` })
  const skip = async (): Promise<void> => {
    const at = Date.parse(String((await store.publicSources.cursor('github-code-search'))?.state.nextPollAt))
    if (at > Date.now()) await new Promise((resolve) => setTimeout(resolve, at - Date.now() + 20))
  }
  await skip()
  fake.script.push({ path: '/search/code', status: 500 })
  await t.rejects(again.runBatch(source), /answered 500/)
  fake.script.push({ path: '/search/code', cut: true })
  await t.rejects(again.runBatch(source), /does not parse/)
  fake.script.push({ path: '/repos/', cut: true })
  await t.rejects(again.runBatch(source), /does not parse/)
  t.equal((await store.publicSources.cursor('github-code-search'))?.cursor, cursor, 'the cursor stays')

  // A rate limit: no error, the state says when.
  fake.script.push({ path: '/search/code', rateLimit: 2 })
  t.match(await again.runBatch(source), { units: 0, more: false })
  const limited = await store.publicSources.cursor('github-code-search')
  t.equal(limited?.cursor, cursor)
  const wait = Date.parse(String(limited?.state.nextPollAt)) - Date.now()
  t.ok(wait > 1000 && wait <= 2000, `waits the Retry-After (${wait} ms)`)
  t.equal(limited?.state.rateLimitRemaining, 0)

  // Once it passed: the new file, its leak updated with a second place.
  t.match(await again.runBatch(source), { units: 0 }, 'not before it passed')
  await new Promise((resolve) => setTimeout(resolve, wait + 20))
  t.match(await again.runBatch(source), { units: 1, scanned: 1, leaksUpdated: 1 })
  t.equal((await store.publicSources.placesOf(leaks[0]!.id)).length, 2)
})

t.test('an exhausted search budget waits for its reset; incomplete results are said in the state', async (t) => {
  const fake = await startFakeSearch(t)
  const store = await openTestStore(t, tempDir(t))
  t.teardown(() => store.close())
  fake.files.push({ repo: 'bob/a', path: 'a', sha: hex(40), commit: hex(40), content: 'acme_live_ x\n' })
  fake.remaining = 1
  fake.incomplete = true
  const source = new GitHubCodeSearchSource({ apiUrl: fake.api, queries: ['"acme_live_"', '"other"'], pollSeconds: 1 })
  t.match(await new PublicSourceRunner(store).runBatch(source), { units: 1, more: false }, 'a query left, but no budget')
  const s = await store.publicSources.cursor('github-code-search')
  t.match(s?.state, { rateLimitRemaining: 0, incompleteResults: true })
  const wait = Date.parse(String(s?.state.nextPollAt)) - Date.now()
  t.ok(wait > 50_000 && wait <= 61_000, `waits for the reset (${wait} ms)`)
})

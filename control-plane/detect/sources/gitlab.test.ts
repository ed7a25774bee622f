/**
 * The GitLab source against a server that answers as the GitLab REST API (v4) does (offset pages
 * through `x-next-page`, keyset pages through `Link`, subgroups only with `include_subgroups`),
 * listing git repositories made by the test and cloned through file:// URLs, as the GitHub
 * source's test does. Then what the reach rules refuse, and where the token goes.
 */
import t from 'tap'
import { createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { scanSource } from '../index.js'
import { listProjects } from './gitlab.js'
import { PROVIDER_TOKENS } from '../corpus/tokens.js'
import { Rng } from '../corpus/random.js'
import { sha256Hex } from '../findings.js'
import { gitRepo, tempDir, type Teardown } from '../test/helpers.js'
import { fakeGitLab } from '../test/fake-apis.js'

const TOKEN = 'glpat-test-token-for-the-fake-api'

/** A repository `root/name` holding one commit for each entry of `commits` (path → content); answers its directory and commits. */
function makeRepo(root: string, name: string, commits: Array<Record<string, string>>): { dir: string; commits: string[] } {
  const repo = gitRepo(root, name)
  return { dir: repo.dir, commits: commits.map((files, i) => repo.commit(`commit ${i}`, files)) }
}

t.test('a group: its subgroups, every page, forks, private and empty projects left out, each project scanned with its history', async (t) => {
  const root = tempDir(t, 'leakgate-gl-')
  const rng = new Rng(1301)
  const current = PROVIDER_TOKENS.gitlab!(rng).value
  const old = PROVIDER_TOKENS.stripeSecret!(rng).value
  const inArchived = PROVIDER_TOKENS.npm!(rng).value
  const inFork = PROVIDER_TOKENS.githubClassic!(rng).value
  const inPrivate = PROVIDER_TOKENS.slackBot!(rng).value
  const api = makeRepo(root, 'api', [{ 'deploy/config.env': `GITLAB_TOKEN=${current}\n` }])
  const web = makeRepo(root, 'web', [{ 'pay.js': `const k = "${old}"\n` }, { 'pay.js': 'const k = process.env.STRIPE_KEY\n' }])
  const legacy = makeRepo(root, 'legacy', [{ '.npmrc': `//registry.npmjs.org/:_authToken=${inArchived}\n` }])
  const fork = makeRepo(root, 'fork', [{ 'x.env': `GITHUB_TOKEN=${inFork}\n` }])
  const secret = makeRepo(root, 'secret', [{ 'x.env': `SLACK_TOKEN=${inPrivate}\n` }])
  const gl = await fakeGitLab(t, [
    { path: 'acme/platform/api', cloneUrl: `file://${api.dir}` },
    { path: 'acme/platform/fork', cloneUrl: `file://${fork.dir}`, fork: true },
    { path: 'acme/platform/frontend/web', cloneUrl: `file://${web.dir}` },
    { path: 'acme/platform/empty', cloneUrl: `file://${join(root, 'none')}`, empty: true },
    { path: 'acme/platform/secret', cloneUrl: `file://${secret.dir}`, visibility: 'private' },
    { path: 'acme/platform/old/legacy', cloneUrl: `file://${legacy.dir}`, archived: true },
    { path: 'other/unrelated', cloneUrl: `file://${api.dir}` },
  ], { token: TOKEN })

  const { findings, progress, state } = await scanSource({ type: 'gitlab', group: 'acme/platform', history: true }, {
    cacheDir: join(root, 'cache'),
    gitlab: { apiUrl: gl.api, token: TOKEN },
    // The fake API lists file:// clone URLs: local clones need the folder allowed.
    reach: { allowedPaths: [root] },
  })
  t.same(findings.map((f) => [f.location.repo, f.file, f.sha256, f.inHistoryOnly, f.source]).sort(), [
    ['acme/platform/api', 'deploy/config.env', sha256Hex(current), false, 'gitlab'],
    ['acme/platform/frontend/web', 'pay.js', sha256Hex(old), true, 'gitlab'],
    ['acme/platform/old/legacy', '.npmrc', sha256Hex(inArchived), false, 'gitlab'],
  ], 'subgroups and the archived project scanned; the fork, the private and the empty project not')
  const apiFinding = findings.find((f) => f.location.repo === 'acme/platform/api')!
  t.equal(apiFinding.location.url, `https://gitlab.example.test/acme/platform/api/-/blob/${api.commits[0]}/deploy/config.env#L1`, 'a link to the line at the commit')
  t.equal(apiFinding.location.commit, api.commits[0])
  t.equal(apiFinding.location.line, 1)
  t.equal(findings.find((f) => f.location.repo === 'acme/platform/frontend/web')?.location.commit, web.commits[0], 'history: the commit that held it')
  t.equal(progress.repos, 3)
  t.same(Object.keys(state.repos ?? {}).sort(), ['acme/platform/api', 'acme/platform/frontend/web', 'acme/platform/old/legacy'])

  const listings = gl.seen.filter((s) => s.path === '/api/v4/groups/acme%2Fplatform/projects')
  t.same(listings.map((s) => s.query.get('page') ?? '1'), ['1', '2', '3'], 'x-next-page followed to the last page')
  t.ok(listings.every((s) => s.query.get('include_subgroups') === 'true'), 'subgroups asked for')
  t.ok(gl.seen.every((s) => s.privateToken === TOKEN && s.authorization === undefined), 'the token goes as PRIVATE-TOKEN')
})

t.test('a user (keyset pages through Link) and a single project', async (t) => {
  const root = tempDir(t, 'leakgate-gl-user-')
  const rng = new Rng(1302)
  const tokens = [0, 1, 2].map(() => PROVIDER_TOKENS.gitlab!(rng).value)
  const repos = tokens.map((tok, i) => makeRepo(root, `r${i}`, [{ [`dir ${i}/a#b.env`]: `GITLAB_TOKEN=${tok}\n` }]))
  const gl = await fakeGitLab(t, repos.map((r, i) => ({ path: `bob/r${i}`, cloneUrl: `file://${r.dir}` })), { users: { 'bob.smith': ['bob/r0', 'bob/r1', 'bob/r2'] } })
  const options = { cacheDir: join(root, 'cache'), gitlab: { apiUrl: gl.api }, reach: { allowedPaths: [root] } }

  const user = await scanSource({ type: 'gitlab', user: 'bob.smith' }, options)
  t.same(user.findings.map((f) => f.location.repo).sort(), ['bob/r0', 'bob/r1', 'bob/r2'], 'every keyset page read')
  t.same(gl.seen.map((s) => s.query.get('id_after') ?? '-'), ['-', '2'], 'the second page asked for through the Link')
  t.ok(gl.seen.every((s) => s.privateToken === undefined), 'no token configured: none sent')

  const one = await scanSource({ type: 'gitlab', project: 'bob/r1' }, options)
  t.same(one.findings.map((f) => [f.location.repo, f.file, f.sha256]), [['bob/r1', 'dir 1/a#b.env', sha256Hex(tokens[1]!)]])
  t.equal(one.findings[0]!.location.url, `https://gitlab.example.test/bob/r1/-/blob/${repos[1]!.commits[0]}/dir%201/a%23b.env#L1`, 'the file path is encoded in the link')
  t.equal(gl.seen.at(-1)!.path, '/api/v4/projects/bob%2Fr1', 'the project is named by its encoded path')

  await t.rejects(scanSource({ type: 'gitlab', project: 'bob/missing' }, options), { code: 'LEAKGATE_ERR_GITLAB', message: /project bob\/missing not found/ })
  await t.rejects(scanSource({ type: 'gitlab', group: 'nobody' }, options), { code: 'LEAKGATE_ERR_GITLAB', message: /group nobody not found/ })
  const asked = gl.seen.length
  for (const group of ['../etc', 'acme/../x', '-x', 'a//b', '']) {
    await t.rejects(listProjects({ group, apiUrl: gl.api, history: false, cacheDir: '/nonexistent', limits: { maxFileSize: 1 } }), { code: 'LEAKGATE_ERR_GITLAB' }, JSON.stringify(group))
  }
  t.equal(gl.seen.length, asked, 'a bad path is refused before anything is sent')
})

/** A TCP listener on `address` that counts connections. */
async function listener(t: Teardown, address: string): Promise<{ port: number; connections: () => number }> {
  let n = 0
  const sockets = new Set<Socket>()
  const server = createServer((s) => {
    n++
    sockets.add(s)
    s.on('error', () => undefined)
    s.end()
  })
  await new Promise<void>((r) => server.listen(0, address, r))
  t.teardown(() => new Promise<void>((r) => {
    for (const s of sockets) s.destroy()
    server.close(() => r())
  }))
  return { port: (server.address() as AddressInfo).port, connections: () => n }
}

t.test('with reach rules: an API on a forbidden address is not asked, and clone URLs elsewhere are not followed', async (t) => {
  const root = tempDir(t, 'leakgate-gl-reach-')
  const repo = makeRepo(root, 'api', [{ 'a.env': `GITLAB_TOKEN=${PROVIDER_TOKENS.gitlab!(new Rng(1303)).value}\n` }])
  const internal = await listener(t, '127.0.0.2')
  const gl = await fakeGitLab(t, [
    { path: 'acme/local', cloneUrl: `file://${repo.dir}` },
    { path: 'acme/internal', cloneUrl: `http://127.0.0.2:${internal.port}/acme/internal.git` },
    { path: 'acme/metadata', cloneUrl: 'http://169.254.169.254/latest/meta-data.git' },
    { path: 'acme/creds', cloneUrl: 'http://u:p@127.0.0.1/acme/creds.git' },
  ])
  const options = { cacheDir: join(root, 'cache'), gitlab: { apiUrl: gl.api, token: TOKEN } }

  // The control plane's default: any host with public addresses only. Loopback is not one.
  await t.rejects(scanSource({ type: 'gitlab', group: 'acme' }, { ...options, reach: { allowedHosts: ['*'], allowedPaths: [root] } }), { code: 'LEAKGATE_ERR_GITLAB', message: /not allowed \(scan\.allowedHosts\)/ })
  t.equal(gl.seen.length, 0, 'nothing sent to a forbidden API host, the token least of all')

  // The API's address allowed, no local path: the listing is read, and no listed clone is followed.
  const { findings, progress } = await scanSource({ type: 'gitlab', group: 'acme' }, { ...options, reach: { allowedHosts: ['127.0.0.1'] } })
  t.ok(gl.seen.length > 0, 'the allowed API is asked')
  t.same(findings, [])
  t.equal(progress.repos, 0)
  t.equal(progress.skipped, 4, 'a file URL without allowed paths, another host (private, link-local), a URL with credentials: skipped')
  t.equal(internal.connections(), 0, 'nothing connects to the private address a clone URL named')

  // An API named by a host name: resolved and checked, then reached at the addresses checked.
  const byName = gl.api.replace('127.0.0.1', 'localhost')
  const listed = await listProjects({ group: 'acme', apiUrl: byName, history: false, cacheDir: '/nonexistent', limits: { maxFileSize: 1 }, reach: { allowedHosts: ['127.0.0.0/8', '::1'] } })
  t.equal(listed.length, 4, 'listed through the pinned addresses')
  await t.rejects(listProjects({ group: 'acme', apiUrl: byName, history: false, cacheDir: '/nonexistent', limits: { maxFileSize: 1 }, reach: { allowedHosts: ['localhost'] } }), { code: 'LEAKGATE_ERR_GITLAB' }, 'a name entry does not make a loopback address allowed')
})

t.test('the token is sent to the API only: never to git, never in an error or a diagnostic', async (t) => {
  const root = tempDir(t, 'leakgate-gl-token-')
  // A clone URL on the API's own host (allowed): git asks the fake API's server, which has no repository.
  const gl = await fakeGitLab(t, [])
  const broken = await fakeGitLab(t, [{ path: 'acme/broken', cloneUrl: `${gl.origin}/acme/broken.git` }])
  // The listing server is `broken`; its clone URL points at `gl`, another port on the same host.
  const diagnostics: string[] = []
  const err = await scanSource({ type: 'gitlab', group: 'acme' }, {
    cacheDir: join(root, 'cache'),
    gitlab: { apiUrl: broken.api, token: TOKEN },
    reach: { allowedHosts: ['127.0.0.1'] },
    onDiagnostic: (text) => diagnostics.push(text),
  }).then(() => undefined, (e: Error) => e)
  t.match(err, { code: 'LEAKGATE_ERR_SCAN_SOURCE' }, 'the failed clone fails the scan')
  const gitRequests = gl.seen.filter((s) => s.path.startsWith('/acme/broken.git'))
  t.ok(gitRequests.length > 0, 'git asked the clone URL')
  t.ok(gitRequests.every((s) => s.privateToken === undefined && s.authorization === undefined), 'git carries no token')
  t.notMatch(`${err?.message ?? ''}\n${diagnostics.join('\n')}`, TOKEN)

  const refused = await fakeGitLab(t, [{ path: 'acme/x', cloneUrl: 'file:///nonexistent' }], { token: 'another-token' })
  const denied = await scanSource({ type: 'gitlab', group: 'acme' }, { cacheDir: join(root, 'cache'), gitlab: { apiUrl: refused.api, token: TOKEN } }).then(() => undefined, (e: Error) => e)
  t.match(denied, { code: 'LEAKGATE_ERR_GITLAB', message: /token was refused \(401\); check LEAKGATE_GITLAB_TOKEN/ })
  t.notMatch(denied?.message ?? '', TOKEN)
})

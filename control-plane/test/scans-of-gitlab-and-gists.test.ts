/**
 * GitLab groups and GitHub gists scanned through the real control plane (its API, its scan process,
 * its store), against servers that answer as those APIs do, configured the way an operator does it:
 * `LEAKGATE_GITLAB_API_URL` / `LEAKGATE_GITLAB_TOKEN`, `LEAKGATE_GITHUB_API_URL` / `LEAKGATE_GITHUB_TOKEN`.
 * The scan's reach rules hold for the APIs' hosts; tokens reach the APIs and no record or log line.
 */
import t from 'tap'
import { scanEnded, startPlane, tempDir, waitFor, type TestPlane } from './harness.js'
import { PROVIDER_TOKENS } from '../detect/corpus/tokens.js'
import { Rng } from '../detect/corpus/random.js'
import { sha256Hex } from '../detect/findings.js'
import { gitRepo } from '../detect/test/helpers.js'
import { fakeGists, fakeGitLab, type FakeApi } from '../detect/test/fake-apis.js'

const GITLAB_TOKEN = 'glpat-operator-token-for-the-fake-api'
const GITHUB_TOKEN = 'github-operator-token-for-the-fake-api'

interface Scan { id: number; status: string; error?: string; progress: Record<string, number>; findings: Array<{ sha256: string; location: { repo?: string; url?: string } }> }
interface Leak { source: string; location: { repo?: string; path?: string; url?: string; commit?: string } }

async function finished(plane: TestPlane, id: number): Promise<Scan> {
  let scan: Scan | undefined
  await waitFor(`scan ${id} to end`, async () => {
    scan = (await plane.call('GET', `/v1/scans/${id}`, plane.keys.analyst)).json() as Scan
    return scanEnded(scan)
  }, 60_000)
  return scan!
}

/** Starts a control plane with the APIs in its environment, as an operator configures them. */
async function planeFor(t: Parameters<typeof tempDir>[0], gitlab: FakeApi, gists: FakeApi, scan: Record<string, unknown>): Promise<TestPlane> {
  const names = ['LEAKGATE_GITLAB_API_URL', 'LEAKGATE_GITLAB_TOKEN', 'LEAKGATE_GITHUB_API_URL', 'LEAKGATE_GITHUB_TOKEN'] as const
  const saved = Object.fromEntries(names.map((n) => [n, process.env[n]]))
  Object.assign(process.env, { LEAKGATE_GITLAB_API_URL: gitlab.api, LEAKGATE_GITLAB_TOKEN: GITLAB_TOKEN, LEAKGATE_GITHUB_API_URL: gists.api, LEAKGATE_GITHUB_TOKEN: GITHUB_TOKEN })
  try {
    return await startPlane(t, { scan })
  } finally {
    for (const n of names) {
      if (saved[n] === undefined) delete process.env[n]
      else process.env[n] = saved[n]
    }
  }
}

t.test('a GitLab group and a user\'s gists become leaks located in their projects and gists', async (t) => {
  const root = tempDir(t, 'leakgate-cp-gl-')
  const rng = new Rng(1321)
  const inProject = PROVIDER_TOKENS.gitlab!(rng).value
  const inGist = PROVIDER_TOKENS.githubClassic!(rng).value
  const project = gitRepo(root, 'api')
  const commit = project.commit('one', { 'ci/deploy.env': `GITLAB_TOKEN=${inProject}\n` })
  const gist = gitRepo(root, 'ff00')
  const revision = gist.commit('one', { 'notes.sh': `export GITHUB_TOKEN=${inGist}\n` })
  const gitlab = await fakeGitLab(t, [{ path: 'acme/platform/api', cloneUrl: `file://${project.dir}` }])
  const gists = await fakeGists(t, { bob: [{ id: 'ff00', pullUrl: `file://${gist.dir}` }] })
  // The fake APIs listen on loopback: the operator lists that address; the repositories' folder is allowed.
  const plane = await planeFor(t, gitlab, gists, { allowedPaths: [root], allowedHosts: ['127.0.0.1'] })

  const started = await plane.call('POST', '/v1/scans', plane.keys.admin, { source: { type: 'gitlab', group: 'acme', history: true } })
  t.equal(started.statusCode, 202)
  const scan = await finished(plane, started.json().id as number)
  t.equal(scan.status, 'done', scan.error ?? '')
  t.same(scan.findings.map((f) => [f.sha256, f.location.repo, f.location.url]), [[sha256Hex(inProject), 'acme/platform/api', `https://gitlab.example.test/acme/platform/api/-/blob/${commit}/ci/deploy.env#L1`]])
  t.ok(gitlab.seen.length > 0 && gitlab.seen.every((s) => s.privateToken === GITLAB_TOKEN), 'the configured token reached the GitLab API')

  const gistScan = await finished(plane, (await plane.call('POST', '/v1/scans', plane.keys.admin, { source: { type: 'github', gists: 'bob' } })).json().id as number)
  t.equal(gistScan.status, 'done', gistScan.error ?? '')
  t.ok(gists.seen.length > 0 && gists.seen.every((s) => s.authorization === `Bearer ${GITHUB_TOKEN}`), 'the configured token reached the GitHub API')

  const leaks = ((await plane.call('GET', '/v1/leaks', plane.keys.analyst)).json() as { items: Leak[] }).items
  t.same(leaks.map((l) => [l.source, l.location.repo, l.location.path, l.location.url]).sort(), [
    ['github', 'gist:ff00', 'notes.sh', `https://gist.example.test/ff00/${revision}#file-notes-sh-L1`],
    ['gitlab', 'acme/platform/api', 'ci/deploy.env', `https://gitlab.example.test/acme/platform/api/-/blob/${commit}/ci/deploy.env#L1`],
  ])
  const said = plane.logs.join('\n') + JSON.stringify(scan) + JSON.stringify(gistScan)
  t.notMatch(said, GITLAB_TOKEN, 'the GitLab token is in no log line nor scan record')
  t.notMatch(said, GITHUB_TOKEN, 'the GitHub token is in no log line nor scan record')
})

t.test('with the default reach rules an API on loopback is refused, and asked nothing (GitHub organisations too)', async (t) => {
  const gitlab = await fakeGitLab(t, [{ path: 'acme/api', cloneUrl: 'file:///nonexistent' }])
  const gists = await fakeGists(t, { bob: [] })
  const plane = await planeFor(t, gitlab, gists, {})
  for (const source of [{ type: 'gitlab', group: 'acme' }, { type: 'gitlab', project: 'acme/api' }, { type: 'github', gists: 'bob' }, { type: 'github', org: 'acme' }]) {
    const res = await plane.call('POST', '/v1/scans', plane.keys.admin, { source })
    t.equal(res.statusCode, 202)
    const scan = await finished(plane, res.json().id as number)
    t.equal(scan.status, 'failed', JSON.stringify(source))
    t.match(scan.error, /cannot be reached, or its host is not allowed \(scan\.allowedHosts\)/)
  }
  t.same([...gitlab.seen, ...gists.seen], [], 'no request reached either API')
  t.notMatch(plane.logs.join('\n'), new RegExp(`${GITLAB_TOKEN}|${GITHUB_TOKEN}`))
})

t.test('sources that name too much, too little or a bad path get 400', async (t) => {
  const gitlab = await fakeGitLab(t, [])
  const gists = await fakeGists(t, {})
  const plane = await planeFor(t, gitlab, gists, {})
  for (const source of [
    { type: 'gitlab', group: '../etc' },
    { type: 'gitlab', group: 'acme/../x' },
    { type: 'gitlab', group: 'acme', user: 'bob' },
    { type: 'gitlab', org: 'acme' },
    { type: 'gitlab' },
    { type: 'github', gists: 'bob', org: 'acme' },
    { type: 'github', gists: 'bob_x' },
    { type: 'github', user: 'bob.smith' },
  ]) {
    const res = await plane.call('POST', '/v1/scans', plane.keys.admin, { source })
    t.equal(res.statusCode, 400, JSON.stringify(source))
  }
  for (const source of [{ type: 'gitlab', user: 'bob.smith' }, { type: 'gitlab', project: 'acme/sub_group/my.project' }]) {
    const res = await plane.call('POST', '/v1/scans', plane.keys.admin, { source })
    t.equal(res.statusCode, 202, JSON.stringify(source))
    await finished(plane, res.json().id as number)
  }
})

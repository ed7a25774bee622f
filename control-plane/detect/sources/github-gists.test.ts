/**
 * A GitHub user's gists against a server that answers as GitHub's gists API does (a page a gist,
 * `Link` with `next` and `last`), listing git repositories made by the test and cloned through
 * file:// URLs, as the GitHub source's test does.
 */
import t from 'tap'
import { join } from 'node:path'
import { scanSource } from '../index.js'
import { gistFileAnchor, listGists } from './github-gists.js'
import { PROVIDER_TOKENS } from '../corpus/tokens.js'
import { Rng } from '../corpus/random.js'
import { sha256Hex } from '../findings.js'
import { gitRepo, tempDir } from '../test/helpers.js'
import { fakeGists } from '../test/fake-apis.js'

const TOKEN = 'github-test-token-for-the-fake-api'

t.test("a user's gists: every page, every revision, secret gists left out, findings linked to the file's line", async (t) => {
  const root = tempDir(t, 'leakgate-gists-')
  const rng = new Rng(1311)
  const removed = PROVIDER_TOKENS.openai!(rng).value
  const current = PROVIDER_TOKENS.githubClassic!(rng).value
  const hidden = PROVIDER_TOKENS.npm!(rng).value
  const first = gitRepo(root, 'aa11')
  const leaked = first.commit('first', { 'Config.env': `\nOPENAI_API_KEY=${removed}\n` })
  first.commit('second', { 'Config.env': '\nOPENAI_API_KEY=${OPENAI_API_KEY}\n' })
  const second = gitRepo(root, 'bb22')
  const now = second.commit('one', { 'deploy.sh': `export GITHUB_TOKEN=${current}\n` })
  const secret = gitRepo(root, 'cc33')
  secret.commit('one', { 'x.env': `NPM_TOKEN=${hidden}\n` })
  const gh = await fakeGists(t, {
    bob: [
      { id: 'aa11', pullUrl: `file://${first.dir}`, files: ['Config.env'] },
      { id: 'cc33', pullUrl: `file://${secret.dir}`, public: false },
      { id: 'bb22', pullUrl: `file://${second.dir}` },
    ],
  })

  const { findings, progress, state } = await scanSource({ type: 'github', gists: 'bob', history: true }, {
    cacheDir: join(root, 'cache'),
    github: { apiUrl: gh.api, token: TOKEN },
    reach: { allowedPaths: [root] },
  })
  t.same(findings.map((f) => [f.location.repo, f.file, f.line, f.sha256, f.inHistoryOnly, f.source]).sort(), [
    ['gist:aa11', 'Config.env', 2, sha256Hex(removed), true, 'github'],
    ['gist:bb22', 'deploy.sh', 1, sha256Hex(current), false, 'github'],
  ])
  t.equal(findings.find((f) => f.location.repo === 'gist:aa11')?.location.url, `https://gist.example.test/aa11/${leaked}#file-config-env-L2`, 'the revision that held it, at the line')
  t.equal(findings.find((f) => f.location.repo === 'gist:bb22')?.location.url, `https://gist.example.test/bb22/${now}#file-deploy-sh-L1`)
  t.equal(progress.repos, 2)
  t.same(Object.keys(state.repos ?? {}).sort(), ['gist:aa11', 'gist:bb22'])
  t.same(gh.seen.map((s) => [s.path, s.query.get('page') ?? '1']), [1, 2, 3].map((p) => ['/api/v3/users/bob/gists', String(p)]), 'every page, through Link')
  t.ok(gh.seen.every((s) => s.authorization === `Bearer ${TOKEN}`), 'the token is sent as GitHub takes it')
})

t.test('an unknown user, a bad name, and a next page on another origin', async (t) => {
  const other = await fakeGists(t, { bob: [{ id: 'x1', pullUrl: 'file:///nonexistent' }] })
  const gh = await fakeGists(t, { bob: [{ id: 'a1', pullUrl: 'file:///nonexistent' }, { id: 'a2', pullUrl: 'file:///nonexistent' }] }, { nextOrigin: other.origin })
  const base = { apiUrl: gh.api, token: TOKEN, history: false, cacheDir: '/nonexistent', limits: { maxFileSize: 1 } }
  await t.rejects(listGists({ ...base, user: 'nobody' }), { code: 'LEAKGATE_ERR_GITHUB', message: /user nobody not found/ })
  await t.rejects(listGists({ ...base, user: '../etc' }), { code: 'LEAKGATE_ERR_GITHUB' })
  t.same((await listGists({ ...base, user: 'bob' })).map((g) => g.id), ['a1'], 'the first page is read')
  t.same(other.seen, [], 'a next page on another origin is not asked for, with or without the token')
})

t.test("a gist file's anchor is GitHub's", async (t) => {
  t.equal(gistFileAnchor('Config.env'), 'file-config-env')
  t.equal(gistFileAnchor('my script.sh'), 'file-my-script-sh')
})

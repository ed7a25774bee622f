/**
 * `leakgate scan --gitlab-…` and `--github-gists` as a user runs them: the real binary in a child
 * process, configured through the environment, against servers that answer as the APIs do.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PROVIDER_TOKENS } from '../corpus/tokens.js'
import { Rng } from '../corpus/random.js'
import { sha256Hex } from '../findings.js'
import { gitRepo, tempDir } from './helpers.js'
import { fakeGists, fakeGitLab, servableRepo } from './fake-apis.js'

const cli = fileURLToPath(new URL('../../../cli.ts', import.meta.url))

/** The CLI in a child process, without blocking this process's event loop (the fake APIs answer from it). */
function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', new URL('../../../scripts/register-ts.js', import.meta.url).href, cli, 'scan', ...args], {
      encoding: 'utf8',
      env: { ...process.env, LEAKGATE_API_KEY: '', LEAKGATE_ADMIN_KEY: '', GITHUB_TOKEN: '', LEAKGATE_GITHUB_TOKEN: '', LEAKGATE_GITLAB_TOKEN: '', GITLAB_TOKEN: '', ...env },
      timeout: 120_000,
    }, (err, stdout, stderr) => resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr }))
  })
}

interface Finding { sha256: string; location: { repo: string; url: string } }

t.test('a GitLab project and a user\'s gists, from the environment; one hosted source at a time', async (t) => {
  const root = tempDir(t, 'leakgate-cli-hosted-')
  const rng = new Rng(1331)
  const inProject = PROVIDER_TOKENS.gitlab!(rng).value
  const inGist = PROVIDER_TOKENS.githubClassic!(rng).value
  const project = gitRepo(root, 'api')
  const commit = project.commit('one', { 'a.env': `GITLAB_TOKEN=${inProject}\n` })
  const gist = gitRepo(root, 'ab12')
  gist.commit('one', { 'b.sh': `export GITHUB_TOKEN=${inGist}\n` })
  const apiToken = 'gitlab-cli-token-from-the-environment'
  // The CLI clones no file:// URL an API lists: the fakes serve the repositories over http on their own host.
  const gitlab = await fakeGitLab(t, [{ path: 'acme/api', cloneUrl: '{origin}/acme/api.git' }], { token: apiToken, repos: { '/acme/api.git': servableRepo(project.dir, join(root, 'api.git')) } })
  const gists = await fakeGists(t, { bob: [{ id: 'ab12', pullUrl: '{origin}/ab12.git' }] }, { repos: { '/ab12.git': servableRepo(gist.dir, join(root, 'ab12.git')) } })
  const env = { LEAKGATE_GITLAB_API_URL: gitlab.api, GITLAB_TOKEN: apiToken, LEAKGATE_GITHUB_API_URL: gists.api, LEAKGATE_SCAN_CACHE_DIR: join(root, 'cache') }

  const lab = await run(['--gitlab-project', 'acme/api', '--format', 'json', '--quiet'], env)
  t.equal(lab.code, 1, lab.stderr)
  t.same((JSON.parse(lab.stdout) as Finding[]).map((f) => [f.sha256, f.location.repo, f.location.url]), [[sha256Hex(inProject), 'acme/api', `https://gitlab.example.test/acme/api/-/blob/${commit}/a.env#L1`]])
  const [apiCalls, gitCalls] = [gitlab.seen.filter((s) => s.path.startsWith('/api/v4/')), gitlab.seen.filter((s) => s.path.startsWith('/acme/api.git/'))]
  t.ok(apiCalls.length > 0 && apiCalls.every((s) => s.privateToken === apiToken), 'GITLAB_TOKEN sent to the API as PRIVATE-TOKEN')
  t.ok(gitCalls.length > 0 && gitCalls.every((s) => s.privateToken === undefined && s.authorization === undefined), 'cloned over http, without the token')
  t.notMatch(lab.stdout + lab.stderr, apiToken)

  const hub = await run(['--github-gists', 'bob', '--format', 'json', '--quiet'], env)
  t.equal(hub.code, 1, hub.stderr)
  t.same((JSON.parse(hub.stdout) as Finding[]).map((f) => [f.sha256, f.location.repo]), [[sha256Hex(inGist), 'gist:ab12']])

  const both = await run(['--github-gists', 'bob', '--gitlab-group', 'acme'], env)
  t.equal(both.code, 2)
  t.match(both.stderr, /give one of --github-gists, --gitlab-group, not several/)
  const refused = await run(['--gitlab-group', 'acme'], { ...env, GITLAB_TOKEN: 'wrong' })
  t.equal(refused.code, 2)
  t.match(refused.stderr, /token was refused \(401\); check LEAKGATE_GITLAB_TOKEN/)
})

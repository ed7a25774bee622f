/**
 * Security regression: a folder under `scan.allowedPaths` could make a git scan read a repository
 * outside them: a `.git` file (`gitdir: /elsewhere/.git`), alternates naming another repository's
 * objects, or a folder that is no repository, so that git looked in the folders above. A scan through
 * the API read the control plane's own repository that way. Now the git directory, its common
 * directory and every alternate must lie under an allowed path, or the scan is refused like any path
 * outside them. Real control plane, real git repositories.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { PROVIDER_TOKENS } from '../detect/corpus/tokens.js'
import { Rng } from '../detect/corpus/random.js'
import { gitRepo } from '../detect/test/helpers.js'
import { scanEnded, startPlane, tempDir, waitFor, type TestPlane } from './harness.js'

const rng = new Rng(404)

interface Scan { status: string; error?: string; findings: unknown[] }

async function scanOf(plane: TestPlane, path: string): Promise<Scan> {
  const id = (await plane.call('POST', '/v1/scans', plane.keys.admin, { source: { type: 'git', url: path, history: true } })).json().id as number
  let scan: Scan = { status: 'running', findings: [] }
  await waitFor('the scan', async () => {
    scan = (await plane.call('GET', `/v1/scans/${id}`, plane.keys.analyst)).json() as Scan
    return scanEnded(scan)
  }, 30_000)
  return scan
}

t.test('a folder under an allowed path cannot point a git scan at a repository outside them', async (t) => {
  const root = tempDir(t, 'leakgate-reach-')
  // The repository nobody allowed, holding a secret.
  const outside = gitRepo(root, 'outside')
  const head = outside.commit('secret', { '.env': `GITHUB_TOKEN=${PROVIDER_TOKENS.githubClassic!(rng).value}\n` })
  const allowed = join(root, 'allowed')
  mkdirSync(allowed)

  const pointer = join(allowed, 'pointer')
  mkdirSync(pointer)
  writeFileSync(join(pointer, '.git'), `gitdir: ${join(outside.dir, '.git')}\n`)

  const borrowing = gitRepo(allowed, 'borrowing')
  writeFileSync(join(borrowing.dir, '.git', 'objects', 'info', 'alternates'), `${join(outside.dir, '.git', 'objects')}\n`)
  borrowing.git('update-ref', 'refs/heads/main', head)

  // A folder that is no repository, inside a repository outside the allowed paths.
  const nested = join(outside.dir, 'sub')
  mkdirSync(nested)

  // A repository whose worktree lives in the allowed folder too: allowed.
  const main = gitRepo(allowed, 'main')
  main.commit('one', { 'app.env': `GITHUB_TOKEN=${PROVIDER_TOKENS.githubClassic!(rng).value}\n` })
  main.git('worktree', 'add', '-q', join(allowed, 'feature'))

  const plane = await startPlane(t, { scan: { allowedPaths: [allowed, nested] } })
  for (const path of [pointer, borrowing.dir, nested]) {
    const scan = await scanOf(plane, path)
    t.equal(scan.status, 'failed', `${path}: refused`)
    t.match(scan.error ?? '', /not allowed/, 'read as any path outside the allowed ones')
    t.same(scan.findings, [])
  }
  t.equal((await plane.call('GET', '/v1/leaks', plane.keys.analyst)).json().total, 0, 'no leak from the repository outside')
  const worktree = await scanOf(plane, join(allowed, 'feature'))
  t.equal(worktree.status, 'done', 'a worktree whose repository is allowed too is scanned')
  t.equal(worktree.findings.length, 1)
})

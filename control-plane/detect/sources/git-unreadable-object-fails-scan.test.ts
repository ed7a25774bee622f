/**
 * Regression: a blob `git cat-file` cannot read (a missing object, or a corrupt one that makes
 * cat-file die halfway through its output) used to end the scan early without a word, reporting
 * fewer files and no finding in them. The scan must fail with a source error instead.
 */
import t from 'tap'
import { chmodSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { scanSource } from '../index.js'
import { Rng } from '../corpus/random.js'
import { PROVIDER_TOKENS } from '../corpus/tokens.js'
import { gitRepo, tempDir, type Teardown } from '../test/helpers.js'

/** A repository whose `broken.txt` comes before `later.txt` in tree order, and the path of its object file. */
function repoWithObject(t: Teardown): { dir: string; objectFile: string } {
  const { dir, git, commit } = gitRepo(tempDir(t, 'leakgate-git-broken-'), 'repo', ['-c', 'core.compression=0'])
  commit('files', {
    // Large enough that the object's header and its content are far apart in the file.
    'broken.txt': 'line of text\n'.repeat(2000),
    'later.txt': `api_key = "${PROVIDER_TOKENS.stripeSecret!(new Rng(7)).value}"\n`,
  })
  const sha = git('rev-parse', 'HEAD:broken.txt')
  return { dir, objectFile: join(dir, '.git', 'objects', sha.slice(0, 2), sha.slice(2)) }
}

const scan = (dir: string, history: boolean): Promise<unknown> =>
  scanSource({ type: 'git', url: dir, history }, { cacheDir: join(dir, '..', 'cache') })

t.test('a missing blob fails the scan with a source error', async (t) => {
  for (const history of [false, true]) {
    const r = repoWithObject(t)
    unlinkSync(r.objectFile)
    await t.rejects(scan(r.dir, history), { code: 'LEAKGATE_ERR_SCAN_SOURCE', message: /cannot read object [0-9a-f]{40}.*incomplete or corrupt/ }, `history: ${history}`)
  }
})

t.test('a corrupt blob that makes cat-file die mid-output fails the scan with a source error', async (t) => {
  for (const history of [false, true]) {
    const r = repoWithObject(t)
    // Its header still reads (cat-file --batch-check answers), its content does not.
    chmodSync(r.objectFile, 0o644)
    const bytes = readFileSync(r.objectFile)
    writeFileSync(r.objectFile, bytes.subarray(0, bytes.length >> 1))
    await t.rejects(scan(r.dir, history), { code: 'LEAKGATE_ERR_SCAN_SOURCE', message: /git cat-file failed|ended after/ }, `history: ${history}`)
  }
})

t.test('the same repository, intact, scans and finds the secret after the large file', async (t) => {
  const r = repoWithObject(t)
  const result = await scanSource({ type: 'git', url: r.dir, history: false }, { cacheDir: join(r.dir, '..', 'cache') })
  t.equal(result.progress.files, 2)
  t.same(result.findings.map((f) => f.file), ['later.txt'])
})

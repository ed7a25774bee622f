import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gitSource, shownRepoUrl, webLinksOf, webUrlOf, type GitState } from './git.js'
import { redactUrl } from './reach.js'
import { newProgress, type ScanItem } from './source.js'
import { gitRepo, tempDir, type GitRepo, type Teardown } from '../test/helpers.js'

/** A new repository in a temp folder of its own (the mirror cache goes beside it, in `../cache`). */
const repo = (t: Teardown): GitRepo => gitRepo(tempDir(t, 'leakgate-git-'))

async function collect(gen: AsyncGenerator<ScanItem>): Promise<ScanItem[]> {
  const out: ScanItem[] = []
  for await (const i of gen) out.push(i)
  return out
}

t.test('history: every blob once with the commit that introduced it, deleted files, branches, tags, messages', async (t) => {
  const r = repo(t)
  r.write('a.txt', 'one\n')
  const c1 = r.commit('first')
  r.write('a.txt', 'two\n')
  r.write('b.txt', 'one\n') // the same content as a.txt at c1: the same blob, read once
  const c2 = r.commit('second')
  r.git('rm', '-q', 'b.txt')
  r.commit('remove b')
  r.git('checkout', '-q', '-b', 'feature')
  r.write('f.txt', 'feature work\n')
  const cf = r.commit('feature commit')
  r.git('tag', 'v1')
  r.git('checkout', '-q', 'main')
  const progress = newProgress()
  const state: GitState = { tips: [] }
  const items = await collect(gitSource({ url: r.dir, history: true, cacheDir: join(r.dir, '..', 'cache'), limits: { maxFileSize: 1e6 } }, progress, state))
  const files = items.filter((i) => i.origin.file !== '(commit message)')
  t.same(files.map((i) => [i.origin.file, i.text, i.origin.commit, i.origin.branch, i.origin.inHistoryOnly]), [
    ['a.txt', 'one\n', c1, 'main', true],
    ['a.txt', 'two\n', c2, 'main', false],
    ['f.txt', 'feature work\n', cf, 'feature', true],
  ])
  const messages = items.filter((i) => i.origin.file === '(commit message)').map((i) => i.text.trim())
  t.same(messages.sort(), ['feature commit', 'first', 'remove b', 'second'])
  t.equal(progress.commits, 4)
  t.equal(progress.files, 3)
  t.same(new Set(state.tips), new Set([r.git('rev-parse', 'main'), cf]))

  // Incremental: only what is new since the recorded tips.
  r.write('c.txt', 'new\n')
  const c5 = r.commit('after the scan')
  const again = await collect(gitSource({ url: r.dir, history: true, cacheDir: join(r.dir, '..', 'cache'), limits: { maxFileSize: 1e6 }, since: state.tips }, newProgress()))
  t.same(again.map((i) => [i.origin.file, i.origin.commit]), [['(commit message)', c5], ['c.txt', c5]])
})

t.test('a remote repository is mirrored into the cache and updated on the next scan', async (t) => {
  const r = repo(t)
  r.write('x.txt', 'x\n')
  r.commit('x')
  const cache = join(r.dir, '..', 'cache')
  const url = `file://${r.dir}`
  const first = await collect(gitSource({ url, history: false, cacheDir: cache, limits: { maxFileSize: 1e6 } }, newProgress()))
  t.same(first.map((i) => i.origin.file), ['x.txt'])
  t.equal(readdirSync(cache).length, 1)
  r.write('y.txt', 'y\n')
  r.commit('y')
  const second = await collect(gitSource({ url, history: false, cacheDir: cache, limits: { maxFileSize: 1e6 } }, newProgress()))
  t.same(second.map((i) => i.origin.file).sort(), ['x.txt', 'y.txt'])
  t.equal(readdirSync(cache).length, 1, 'the same mirror, fetched again')
})

t.test('oversized and binary blobs are skipped; a bad URL fails without echoing credentials', async (t) => {
  const r = repo(t)
  r.write('big.txt', 'z'.repeat(5000))
  r.write('bin.dat', '\u0000\u0001binary')
  r.write('ok.txt', 'fine\n')
  r.commit('mixed')
  const progress = newProgress()
  const items = await collect(gitSource({ url: r.dir, history: false, cacheDir: join(r.dir, '..', 'cache'), limits: { maxFileSize: 1000 } }, progress))
  t.same(items.map((i) => i.origin.file), ['ok.txt'])
  t.equal(progress.skipped, 2)
  const err = await collect(gitSource({ url: 'https://leakuser:s3cretTok3n@127.0.0.1:1/nope.git', history: false, cacheDir: join(r.dir, '..', 'cache'), limits: { maxFileSize: 1000 } }, newProgress())).catch((e: Error & { code?: string }) => e)
  t.equal((err as { code?: string }).code, 'LEAKGATE_ERR_SCAN_SOURCE')
  t.notMatch((err as Error).message, /s3cretTok3n/)
})

t.test('git runs in its own environment: GIT_* variables of the scanning process do not redirect it', async (t) => {
  const scanned = repo(t)
  scanned.write('scanned.txt', 'here\n')
  scanned.commit('scanned')
  const other = repo(t)
  other.write('other.txt', 'elsewhere\n')
  other.commit('other')
  const saved = { GIT_DIR: process.env.GIT_DIR, GIT_WORK_TREE: process.env.GIT_WORK_TREE }
  // As inside a git hook: without a clean environment every git command would read the other repository.
  process.env.GIT_DIR = join(other.dir, '.git')
  process.env.GIT_WORK_TREE = other.dir
  t.teardown(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  })
  const items = await collect(gitSource({ url: scanned.dir, history: false, cacheDir: join(scanned.dir, '..', 'cache'), limits: { maxFileSize: 1e6 } }, newProgress()))
  t.same(items.map((i) => i.origin.file), ['scanned.txt'])
})

t.test('option-like and ext:: URLs are refused before git runs', async (t) => {
  for (const url of ['--upload-pack=touch /tmp/x', 'ext::sh -c touch% /tmp/x']) {
    await t.rejects(collect(gitSource({ url, history: false, cacheDir: '/nonexistent', limits: { maxFileSize: 1 } }, newProgress())), { code: 'LEAKGATE_ERR_SCAN_SOURCE' }, url)
  }
})

t.test('URL helpers', async (t) => {
  t.equal(redactUrl('https://u:tok@github.com/a/b.git'), 'https://***@github.com/a/b.git')
  t.equal(webUrlOf('https://github.com/acme/api.git'), 'https://github.com/acme/api')
  t.equal(webUrlOf('git@github.com:acme/api.git'), 'https://github.com/acme/api')
  t.equal(webUrlOf('/srv/repo'), undefined)
  t.equal(webUrlOf('ssh://git@gitlab.com/acme/platform/api.git'), 'https://gitlab.com/acme/platform/api', 'a GitLab project in a subgroup')
  t.equal(webUrlOf('https://github.com/acme/api/extra.git'), undefined, 'GitHub has owner/name only')
  t.equal(webUrlOf('https://gitlab.com/acme/../api.git'), undefined)
  t.equal(webLinksOf('https://gitlab.com/g/p').blob('c0ffee', 'a b/.env', 3), 'https://gitlab.com/g/p/-/blob/c0ffee/a%20b/.env#L3')
  t.equal(webLinksOf('https://github.com/o/r').blob('c0ffee', '.env', 3), 'https://github.com/o/r/blob/c0ffee/.env#L3')
  t.equal(shownRepoUrl('https://u:tok@git.example.test/a/b.git?x=1#y'), 'https://git.example.test/a/b.git', 'user-info, query and fragment removed')
  t.equal(shownRepoUrl('deploy:pw@git.example.test:a/b.git'), 'git.example.test:a/b.git')
  t.equal(shownRepoUrl('https://git.example.test/a;token=abc/b.git'), undefined, 'a credential that cannot be cut out: no address')
  t.equal(shownRepoUrl('/srv/repo'), undefined, 'a local path is no address')
  t.equal(shownRepoUrl('file:///srv/repo'), undefined)
  t.equal(shownRepoUrl('javascript:alert(1)'), undefined)
})

t.test('git children get a clean environment: no Leakgate keys, no GitHub token, no system config, no prompt', async (t) => {
  const scanned = repo(t)
  scanned.write('a.txt', 'a\n')
  scanned.commit('a')
  // A git first on PATH that writes down its environment, then runs the real one.
  const bin = join(scanned.dir, '..', 'bin')
  const dump = join(scanned.dir, '..', 'env.txt')
  mkdirSync(bin, { recursive: true })
  const real = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim()
  writeFileSync(join(bin, 'git'), `#!/bin/sh\nenv >> '${dump}'\necho ---- >> '${dump}'\nexec '${real}' "$@"\n`, { mode: 0o755 })
  const saved = { PATH: process.env.PATH, LEAKGATE_ADMIN_KEY: process.env.LEAKGATE_ADMIN_KEY, LEAKGATE_NODE_KEY: process.env.LEAKGATE_NODE_KEY, GITHUB_TOKEN: process.env.GITHUB_TOKEN, LEAKGATE_GITHUB_TOKEN: process.env.LEAKGATE_GITHUB_TOKEN }
  process.env.PATH = `${bin}:${process.env.PATH ?? ''}`
  process.env.LEAKGATE_ADMIN_KEY = 'admin-key-that-git-must-not-see-0000'
  process.env.LEAKGATE_NODE_KEY = 'node-key-that-git-must-not-see-00000'
  process.env.GITHUB_TOKEN = 'ghp_tokenThatGitMustNotSee000000000000'
  process.env.LEAKGATE_GITHUB_TOKEN = 'ghp_otherTokenGitMustNotSee00000000000'
  t.teardown(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  })
  const cache = join(scanned.dir, '..', 'cache')
  await collect(gitSource({ url: scanned.dir, history: true, cacheDir: cache, limits: { maxFileSize: 1e6 } }, newProgress()))
  await collect(gitSource({ url: `file://${scanned.dir}`, history: false, cacheDir: cache, limits: { maxFileSize: 1e6 }, reach: { allowedPaths: [scanned.dir], allowedHosts: ['*'] } }, newProgress()))
  const seen = readFileSync(dump, 'utf8')
  t.ok(seen.split('----').length > 3, 'several git children ran')
  t.notMatch(seen, /LEAKGATE_|GITHUB_TOKEN|ghp_|must-not-see/)
  for (const block of seen.split('----\n').filter((b) => b.trim() !== '')) {
    t.match(block, /GIT_CONFIG_NOSYSTEM=1/)
    t.match(block, /GIT_TERMINAL_PROMPT=0/)
    t.match(block, /GIT_ALLOW_PROTOCOL=/)
    t.notMatch(block, /GIT_ALLOW_PROTOCOL=.*(?:ext|fd|ssh)/, 'with a policy or on a repository on disk, no ssh/ext/fd')
  }
})

t.test('fd:: and other transport:: URLs are refused before git runs', async (t) => {
  for (const url of ['fd::0', 'fd::0,1/x', 'FD::3', 'ext::git-upload-pack .', 'foo::bar']) {
    await t.rejects(collect(gitSource({ url, history: false, cacheDir: '/nonexistent', limits: { maxFileSize: 1 } }, newProgress())), { code: 'LEAKGATE_ERR_SCAN_SOURCE' }, url)
  }
})

/**
 * Leaks from scans say what they are and where they were found: one leak a credential (a GitHub
 * token and an AWS key pair in one file are two leaks, each of its provider's kind, titled by what
 * and where, found with each other), located by repository address, commit, branch, file, line and
 * a link to the line where the host has one; a rescan makes no duplicate; and tokens dropped for a
 * checksum that does not verify are counted, in the scan's record and in `leakgate scan`'s output,
 * never shown. Real git repositories, made here; the scans run in their own processes.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Rng, ALPHA } from '../detect/corpus/random.js'
import { awsSecret, PROVIDER_TOKENS } from '../detect/corpus/tokens.js'
import { hasValidCrc32Checksum } from '../detect/detectors/checksums.js'
import { scanSource } from '../detect/index.js'
import { gitRepo } from '../detect/test/helpers.js'
import { ScanService } from '../scans.js'
import { openTestStore, tempDir } from './harness.js'

const rng = new Rng(20261202)
const cli = fileURLToPath(new URL('../../cli.ts', import.meta.url))

/** A GitHub classic token whose checksum does not verify (a typo, a made-up sample). */
function badChecksumToken(): string {
  for (;;) {
    const token = `ghp_${rng.chars(36, ALPHA.base62)}`
    if (!hasValidCrc32Checksum(token)) return token
  }
}

t.test('a GitHub token and an AWS key pair in one file of a GitHub repository: two leaks that say what and where, found with each other; a rescan adds none', async (t) => {
  const dir = tempDir(t)
  const store = await openTestStore(t, join(dir, 'data'))
  t.teardown(() => store.close())
  const scans = await ScanService.open(store, { cacheDir: join(dir, 'cache') })
  t.teardown(() => scans.close())

  const repo = gitRepo(dir)
  // A checkout of a GitHub repository, cloned with a token in its remote: the token must go nowhere.
  repo.git('remote', 'add', 'origin', 'https://x-access-token:not-a-real-one@github.com/acme/api.git')
  const github = PROVIDER_TOKENS.githubClassic!(rng).value
  const keyId = PROVIDER_TOKENS.awsKeyId!(rng).value
  const secret = awsSecret(rng).value
  const bad = [badChecksumToken(), badChecksumToken(), badChecksumToken()]
  const commit = repo.commit('config', {
    '.env': `GITHUB_TOKEN=${github}\nAWS_ACCESS_KEY_ID=${keyId}\nAWS_SECRET_ACCESS_KEY=${secret}\n`,
    'fixtures.txt': bad.map((b) => `  ${b}\n`).join(''),
  })
  repo.commit('later', { 'README.md': 'nothing here\n' })

  const source = { type: 'git', url: repo.dir, history: true } as const
  const started = await scans.start(source, 'key-1')
  await scans.settled(started.id)
  const scan = await scans.get(started.id)
  t.match(scan, { status: 'done', leaksCreated: 2, leaksUpdated: 0, progress: { checksumDropped: 3 }, dropped: '3 candidates dropped: checksum did not match' })
  const recordText = JSON.stringify(scan)
  t.notOk(bad.some((b) => recordText.includes(b) || recordText.includes(b.slice(4, 20))), 'the record names no dropped token')
  t.notMatch(recordText, /not-a-real-one|x-access-token/, 'nor the credential of the remote')

  const items = (await store.leaks.list({ limit: 10 })).items.sort((a, b) => (a.location.line ?? 0) - (b.location.line ?? 0))
  t.same(items.map((l) => [l.title, l.kind, l.tokenCount]), [
    ['GitHub token in acme/api .env', 'github_pat', 1],
    ['AWS access key in acme/api .env', 'aws_access_key', 2],
  ], 'one leak a credential (the key id and its secret are one), each of its provider\'s kind')
  const [gh, aws] = items
  t.same(gh!.location, {
    path: '.env', line: 1, repo: 'acme/api', repoUrl: 'https://github.com/acme/api', commit, branch: 'main',
    url: `https://github.com/acme/api/blob/${commit}/.env#L1`,
  }, 'where: repository, its address, commit, branch, file, line and a link to the line')
  t.same([aws!.location.line, aws!.location.url], [2, `https://github.com/acme/api/blob/${commit}/.env#L2`])

  const ghDetail = await store.leaks.get(gh!.id)
  const awsDetail = await store.leaks.get(aws!.id)
  t.same(ghDetail?.foundWith, [{ id: aws!.id, title: 'AWS access key in acme/api .env', kind: 'aws_access_key', status: 'open' }], 'found with the AWS key')
  t.same(awsDetail?.foundWith.map((f) => f.id), [gh!.id], 'and the AWS key with the GitHub token')
  t.same(awsDetail?.tokens.map((k) => k.kind), ['aws_access_key', 'aws_secret_key'], 'both parts of the AWS key')
  t.ok(['high', 'critical'].includes(gh!.risk), `a verified token in a public repository is at least high without traffic (${gh!.risk})`)
  t.ok(gh!.riskFactors.some((f) => f.factor === 'verified_format'), 'its checksum counts in its risk')

  const again = await scans.start(source, 'key-1')
  await scans.settled(again.id)
  t.match(await scans.get(again.id), { status: 'done', leaksCreated: 0 })
  t.equal((await store.leaks.list({ limit: 10 })).total, 2, 'a rescan of the same place duplicates nothing')
})

t.test('links follow the host of the remote: GitHub and GitLab shapes; another host has its address and no link', async (t) => {
  const dir = tempDir(t)
  const cases: Array<[string, string, string | undefined, (commit: string) => string | undefined]> = [
    ['git@github.com:acme/api.git', 'https://github.com/acme/api', 'acme/api', (c) => `https://github.com/acme/api/blob/${c}/config/app.env#L2`],
    ['https://gitlab.com/acme/platform/api.git', 'https://gitlab.com/acme/platform/api', 'acme/platform/api', (c) => `https://gitlab.com/acme/platform/api/-/blob/${c}/config/app.env#L2`],
    ['https://deploy:hunter22@git.example.test/acme/api.git?private_token=abc', 'https://git.example.test/acme/api.git', undefined, () => undefined],
  ]
  for (const [i, [remote, repoUrl, repoName, link]] of cases.entries()) {
    const repo = gitRepo(dir, `repo-${i}`)
    repo.git('remote', 'add', 'origin', remote)
    const commit = repo.commit('add', { 'config/app.env': `# app\nGITLAB_TOKEN=${PROVIDER_TOKENS.gitlab!(rng).value}\n` })
    const { findings } = await scanSource({ type: 'git', url: repo.dir, history: false }, { cacheDir: join(dir, 'cache') })
    t.equal(findings.length, 1, remote)
    const location = findings[0]!.location
    t.same(location, {
      path: 'config/app.env', line: 2, commit, branch: 'main', repoUrl,
      ...(repoName === undefined ? {} : { repo: repoName }),
      ...(link(commit) === undefined ? {} : { url: link(commit) }),
    }, `${repoUrl}: address, link`)
  }
})

t.test('leakgate scan counts the tokens it dropped for a bad checksum, and shows none of them', async (t) => {
  const dir = tempDir(t)
  const src = join(dir, 'src')
  mkdirSync(src)
  const bad = [badChecksumToken(), badChecksumToken(), badChecksumToken()]
  writeFileSync(join(src, 'fixtures.txt'), bad.map((b) => `  ${b}\n`).join(''))
  const out = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
    execFile(process.execPath, ['--import', new URL('../../scripts/register-ts.js', import.meta.url).href, cli, 'scan', src], { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      if (err !== null && err.code !== 0 && err.code !== 1) reject(err)
      else resolve({ stdout, stderr })
    })
  })
  t.match(out.stderr, /0 findings in 1 files.*; 3 candidates dropped: checksum did not match/)
  const all = out.stdout + out.stderr
  t.notOk(bad.some((b) => all.includes(b.slice(4, 20))), 'no dropped token in the output')
})

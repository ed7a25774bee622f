/**
 * `leakgate watch github-events` as an operator runs it: a process on the control plane's store,
 * reading a local server that answers as GitHub's API does. A token of ours pushed to a public
 * repository becomes a leak linked to its line; a kill -9 in the middle loses nothing and doubles
 * nothing; no raw token reaches the store's files or the process's output.
 */
import { spawn, spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { sha256Hex } from '../../protocol/token-hash.js'
import { Rng } from '../detect/corpus/random.js'
import { startFakeGitHub } from '../public-sources/test/fake-github.js'
import { openTestStore, sqliteOnly, tempDir, testDatabaseEnv, TEST_STORE, waitFor } from './harness.js'

const root = new URL('../../', import.meta.url)
const rng = new Rng(1518)
const issued = `acme_live_${rng.chars(40, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789')}`
const ownFormat = `acmeint_${rng.chars(32, 'abcdefghijklmnopqrstuvwxyz0123456789')}`
const sha = (): string => rng.chars(40, '0123456789abcdef')

/** Runs a command to its end. */
async function run(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString() })
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const status = await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  clearTimeout(timer)
  return { status, stdout, stderr }
}

t.test('watch github-events: our pushed tokens become leaks; kill -9 loses and doubles nothing; no raw token written', async (t) => {
  const dataDir = tempDir(t)
  const fake = await startFakeGitHub(t)
  const rules = join(tempDir(t), 'acme.toml')
  writeFileSync(rules, '[[rules]]\nid = "acme-internal"\ndescription = "Acme internal token"\nregex = \'\'\'acmeint_[a-z0-9]{32}\'\'\'\nkeywords = ["acmeint_"]\n')
  {
    const store = await openTestStore(t, dataDir)
    await store.issuedHashes.add([sha256Hex(issued)])
    await store.close()
  }
  const leaky = sha()
  const own = sha()
  for (let i = 0; i < 6; i++) fake.push(`quiet/r${i}`, [{ sha: sha(), files: [{ filename: 'a.txt', status: 'added', patch: `@@ -0,0 +1 @@\n+line ${i}` }] }])
  fake.push('someone/app', [{ sha: leaky, files: [{ filename: 'deploy/.env', status: 'modified', patch: `@@ -3,2 +3,3 @@\n A=1\n+TOKEN=${issued}\n B=2` }] }])
  fake.push('other/tool', [{ sha: own, files: [{ filename: 'main.go', status: 'added', patch: `@@ -0,0 +1,2 @@\n+package main\n+const k = "${ownFormat}"` }] }])
  const env = {
    PATH: process.env.PATH ?? '', LEAKGATE_DATA_DIR: dataDir, LEAKGATE_LOG_LEVEL: 'debug', ...await testDatabaseEnv(t, dataDir),
  }
  const args = ['--import', './scripts/register-ts.js', 'cli.ts', 'watch', 'github-events', '--api-url', fake.api, '--rules', rules]

  // First run: killed with SIGKILL in the middle of its batch (the API slowed so that it is).
  fake.commitDelayMs = 300
  const first = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  first.stdout.on('data', (b: Buffer) => { output += b.toString() })
  first.stderr.on('data', (b: Buffer) => { output += b.toString() })
  await waitFor('the watcher reads a commit', () => fake.seen.some((r) => r.path.includes('/commits/')), 60_000)
  first.kill('SIGKILL')
  await new Promise((resolve) => first.once('exit', resolve))
  fake.commitDelayMs = 0
  const killedMidBatch = await openTestStore(t, dataDir)
  t.equal((await killedMidBatch.publicSources.cursor('github-events'))?.cursor ?? null, null, 'killed before its batch committed: the cursor has not moved')
  await killedMidBatch.close()

  // Second run, to the end of the feed.
  // Not spawnSync: the fake API answers from this process's event loop.
  const second = await run([...args, '--once'], env)
  output += second.stdout + second.stderr
  t.equal(second.status, 0, second.stderr)
  t.match(second.stdout, /"msg":"batch committed"/)

  const store = await openTestStore(t, dataDir)
  t.teardown(() => store.close())
  const leaks = (await store.leaks.list({})).items
  t.equal(leaks.length, 2, 'each token one leak, however many times the batch was read')
  t.match(leaks.find((l) => l.kind === 'issued_token'), { location: { repo: 'someone/app', commit: leaky, line: 4, url: `https://github.com/someone/app/blob/${leaky}/deploy/.env#L4` } })
  t.match(leaks.find((l) => l.kind !== 'issued_token'), { location: { repo: 'other/tool', line: 2 } })
  for (const l of leaks) t.equal((await store.publicSources.placesOf(l.id)).length, 1, 'one place each')
  t.match(await store.publicSources.cursor('github-events'), { cursor: fake.events[0]!.id, units: 8, lastError: null })

  for (const token of [issued, ownFormat]) t.notOk(output.includes(token), 'the output holds no token')
  if (TEST_STORE === 'sqlite') {
    for (const f of readdirSync(dataDir)) {
      const bytes = readFileSync(join(dataDir, f))
      for (const token of [issued, ownFormat]) t.notOk(bytes.includes(token), `no token in ${f}`)
    }
  }
})

t.test('watch: an unknown source and --help', sqliteOnly, async (t) => {
  const unknown = spawnSync(process.execPath, ['--import', './scripts/register-ts.js', 'cli.ts', 'watch', 'pastebin'], { cwd: root, encoding: 'utf8' })
  t.equal(unknown.status, 2)
  t.match(unknown.stderr, /unknown source "pastebin" \(the sources: github-events, gharchive, github-gists, github-code-search, gitlab-events, paste-feed, npm, pypi\)/)
  const dataDir = tempDir(t)
  const noFrom = spawnSync(process.execPath, ['--import', './scripts/register-ts.js', 'cli.ts', 'watch', 'gharchive', '--data-dir', dataDir], { cwd: root, encoding: 'utf8' })
  t.equal(noFrom.status, 2)
  t.match(noFrom.stderr, /needs --from YYYY-MM-DD-H/)
  const badFrom = spawnSync(process.execPath, ['--import', './scripts/register-ts.js', 'cli.ts', 'watch', 'gharchive', '--from', '2026-11-30-09', '--data-dir', dataDir], { cwd: root, encoding: 'utf8' })
  t.equal(badFrom.status, 2)
  t.match(badFrom.stderr, /from must be an hour as GH Archive names its files/)
  const help = spawnSync(process.execPath, ['--import', './scripts/register-ts.js', 'cli.ts', 'watch', 'github-events', '--help'], { cwd: root, encoding: 'utf8' })
  t.equal(help.status, 0)
  t.match(help.stdout, /usage: leakgate watch github-events/)
})

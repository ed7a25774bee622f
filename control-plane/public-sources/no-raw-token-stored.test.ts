/**
 * No raw token, ours or anyone else's, is stored or shown on the public-sources path: real `leakgate
 * watch` processes (GitHub's events with a gap read from GH Archive, GH Archive's hours, a paste feed,
 * npm) read content planted with tokens of ours (issued hashes and a rules file's format), other
 * providers' tokens, and tokens in repository names, file paths, branch names and commit messages; then every
 * file of the data directory (the SQLite file, its WAL and anything beside them) or, on PostgreSQL,
 * the database's dump, the processes' logs at their most verbose, and the control plane's answers are
 * searched for each planted value, as written and encoded.
 */
import { spawn, spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import t from 'tap'
import { echoesSecret } from '../../lib/echo.js'
import { sha256Hex } from '../../protocol/token-hash.js'
import { Rng } from '../detect/corpus/random.js'
import { crc32Base62 } from '../detect/detectors/checksums.js'
import { expandSample } from '../detect/detectors/provider-spec.js'
import { generateKey } from '../store/keys.js'
import { openTestStore, tempDir, testDatabaseEnv, testDatabaseUrl, TEST_STORE } from '../test/harness.js'
import { request, spawnPlane } from '../test/process.js'
import { hourName } from './gharchive.js'
import { makeTar } from './tar-reader.js'
import { startFakeArchive } from './test/fake-archive.js'
import { startFakeFeeds } from './test/fake-feeds.js'
import { startFakeGitHub, type FakeFile, type FakeGitHub } from './test/fake-github.js'

const root = new URL('../../', import.meta.url)
const rng = new Rng(1533)
const ours = (): string => `acme_live_${expandSample('{a62:40}', rng)}`
const sha = (): string => rng.chars(40, '0123456789abcdef')

/** Tokens of ours: their hashes are issued. */
const issued = {
  content: ours(), gap: ours(), archive: ours(), paste: ours(), pathAndContent: ours(),
  repoName: ours(), branch: ours(), message: ours(), pasteKey: ours(), npm: ours(), npmPath: ours(),
}
/** Of our own format (the rules file), never issued. */
const ownFormat = `acmeint_${rng.chars(32, 'abcdefghijklmnopqrstuvwxyz0123456789')}`
/** Other providers' tokens, and one shaped like ours but never issued. */
/** A GitHub classic token with its checksum right, as real ones have (a rule vouches for it). */
function githubPat(): string {
  const random = rng.chars(30, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789')
  return `ghp_${random}${crc32Base62(random)}`
}
const others = {
  githubPat: githubPat(),
  slack: expandSample('xoxb-{d:11}-{d:12}-{a62:24}', rng),
  aws: expandSample('AKIA{b32:16}', rng),
  pathPat: githubPat(),
  branchAws: expandSample('AKIA{b32:16}', rng),
  notIssued: ours(),
}
/** Every planted value, by what it stands for (the name is what a failure shows, never the value). */
const planted: Array<[string, string]> = [
  ...Object.entries(issued).map(([k, v]): [string, string] => [`ours in ${k}`, v]), ['our own format', ownFormat],
  ...Object.entries(others).map(([k, v]): [string, string] => [`someone else's ${k}`, v]),
]

/** Runs a command to its end (not spawnSync: the fakes answer from this process's event loop). */
async function run(args: string[], env: Record<string, string>): Promise<{ status: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', './scripts/register-ts.js', 'cli.ts', ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (b: Buffer) => { output += b.toString() })
  child.stderr.on('data', (b: Buffer) => { output += b.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000)
  const status = await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  clearTimeout(timer)
  return { status, output }
}

/** A patch adding a file of `lines`. */
function added(lines: string[]): string {
  return `@@ -0,0 +1,${lines.length} @@\n${lines.map((l) => `+${l}`).join('\n')}`
}

/** Pushes to the fake, dated `at`, its commit message `message`; answers the event. */
function pushAt(fake: FakeGitHub, at: number, repo: string, files: FakeFile[], options: { ref?: string; message?: string } = {}): FakeGitHub['events'][number] {
  fake.push(repo, [{ sha: sha(), files }], options.ref === undefined ? {} : { ref: options.ref })
  const event = fake.events[0]!
  event.created_at = new Date(at).toISOString()
  const commits = event.payload.commits as Array<{ message: string }>
  if (options.message !== undefined) commits[0]!.message = options.message
  return event
}

/** Bytes that stand for `value`: as written, UTF-16, percent-encoded, and base64 / base64url at each alignment. */
function byteForms(value: string): Buffer[] {
  const forms = [Buffer.from(value), Buffer.from(value, 'utf16le'), Buffer.from(encodeURIComponent(value))]
  const bytes = Buffer.from(value)
  for (let shift = 0; shift < 3; shift++) {
    const encoded = Buffer.concat([Buffer.alloc(shift), bytes]).toString('base64')
    const stable = encoded.slice(Math.ceil((shift * 4) / 3), Math.floor(((shift + bytes.length) * 4) / 3))
    forms.push(Buffer.from(stable), Buffer.from(stable.replace(/\+/g, '-').replace(/\//g, '_')))
  }
  return forms
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? filesUnder(path) : [path]
  })
}

t.test('watching public sources stores and shows no raw token: not in the store\'s files, the logs or the API\'s answers', async (t) => {
  const dataDir = tempDir(t)
  const github = await startFakeGitHub(t)
  const archive = await startFakeArchive(t)
  const feeds = await startFakeFeeds(t)
  const rules = join(tempDir(t), 'acme.toml')
  writeFileSync(rules, '[[rules]]\nid = "acme-internal"\ndescription = "Acme internal token"\nregex = \'\'\'acmeint_[a-z0-9]{32}\'\'\'\nkeywords = ["acmeint_"]\n')
  {
    const store = await openTestStore(t, dataDir)
    await store.issuedHashes.add(Object.values(issued).map(sha256Hex))
    await store.close()
  }
  const env = { PATH: process.env.PATH ?? '', LEAKGATE_DATA_DIR: dataDir, LEAKGATE_LOG_LEVEL: 'trace', ...await testDatabaseEnv(t, dataDir) }
  let logs = ''

  // The live feed, a gap in it that only GH Archive holds, then GH Archive's next hour on its own.
  const hourStart = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3 * 3_600_000
  const minute = (n: number): number => hourStart + n * 60_000
  const gapHour = hourName(new Date(hourStart))
  const nextHour = hourName(new Date(hourStart + 3_600_000))
  github.pageSize = 1
  pushAt(github, minute(1), 'before/quiet', [{ filename: 'README.md', status: 'added', patch: added(['hello']) }])
  const first = await run(['watch', 'github-events', '--api-url', github.api, '--archive-url', archive.url, '--rules', rules, '--once'], env)
  logs += first.output
  t.equal(first.status, 0, first.output)

  const gap = pushAt(github, minute(10), 'gap/app', [{ filename: 'deploy.sh', status: 'added', patch: added([`export TOKEN=${issued.gap}`, `export AWS_ACCESS_KEY_ID=${others.aws}`]) }], { ref: `refs/heads/rotate-${others.branchAws}` })
  github.events.shift()
  pushAt(github, minute(20), 'leak/app', [{ filename: 'config/.env', status: 'added', patch: added([`TOKEN=${issued.content}`, `GH=${others.githubPat}`, `SLACK=${others.slack}`, `LOOKALIKE=${others.notIssued}`]) }])
  pushAt(github, minute(21), `acme/${issued.repoName}`, [{ filename: `keys/${others.pathPat}.txt`, status: 'added', patch: added([`const k = "${ownFormat}"`]) }], { ref: `refs/heads/${issued.branch}`, message: `add ${issued.message}` })
  pushAt(github, minute(22), 'leak/named', [{ filename: `secrets/${issued.pathAndContent}.txt`, status: 'added', patch: added([issued.pathAndContent]) }])
  archive.publish(gapHour, [gap])
  const laterPush = pushAt(github, minute(70), 'later/app', [{ filename: 'app.py', status: 'added', patch: added([`API = "${issued.archive}"`]) }])
  github.events.shift()
  archive.publish(nextHour, [laterPush])
  await new Promise((resolve) => setTimeout(resolve, 1100))
  // The repository named after our token answers 502 once: the failure's message names it.
  github.failures.set(`/repos/acme/${issued.repoName}/commits/`, [{ status: 502 }])
  const failed = await run(['watch', 'github-events', '--api-url', github.api, '--archive-url', archive.url, '--rules', rules, '--once'], env)
  logs += failed.output
  t.equal(failed.status, 1, 'the batch failed')
  t.match(failed.output, /batch failed; the cursor stays/)
  {
    const store = await openTestStore(t, dataDir)
    const lastError = (await store.publicSources.cursor('github-events'))?.lastError ?? ''
    t.match(lastError, /answered 502/, 'the failure is the source\'s last error')
    t.notOk(echoesSecret(lastError, issued.repoName), 'with the repository\'s token hidden')
    await store.close()
  }
  const second = await run(['watch', 'github-events', '--api-url', github.api, '--archive-url', archive.url, '--rules', rules, '--once'], env)
  logs += second.output
  t.equal(second.status, 0, second.output)
  const hours = await run(['watch', 'gharchive', '--from', nextHour, '--to', nextHour, '--api-url', github.api, '--archive-url', archive.url, '--rules', rules, '--once'], env)
  logs += hours.output
  t.equal(hours.status, 0, hours.output)

  feeds.pastes.push({ key: 'Xq3nP0aZ', date: Math.floor(Date.now() / 1000) - 10, title: `creds ${issued.pasteKey}`, content: `prod: ${issued.paste}\nslack: ${others.slack}\n` })
  const pastes = await run(['watch', 'paste-feed', '--list-url', `${feeds.url}/api_scraping.php`, '--rules', rules, '--once'], env)
  logs += pastes.output
  t.equal(pastes.status, 0, pastes.output)

  // A package whose file is named after a token of ours, and holds another.
  const tarball = gzipSync(makeTar([
    { path: 'package/package.json', data: '{"name":"acme-client"}' },
    { path: `package/keys/${issued.npmPath}.js`, data: `module.exports = '${issued.npm}'\n// ${others.githubPat}\n` },
  ]))
  feeds.packages.set('acme-client', [{ version: '1.0.0', tarball }])
  feeds.changes.push({ id: 'acme-client' })
  const npm = await run(['watch', 'npm', '--registry-url', feeds.url, '--since', '0', '--rules', rules, '--once'], env)
  logs += npm.output
  t.equal(npm.status, 0, npm.output)

  // What was found: each token of ours in content one leak (the repository and branch names are not
  // content: they only show, hidden, in a place).
  const admin = generateKey()
  const plane = await spawnPlane(t, { LEAKGATE_DATA_DIR: dataDir, LEAKGATE_ADMIN_KEY: admin, LEAKGATE_LOG_LEVEL: 'trace' })
  const answers: string[] = []
  const get = async (path: string): Promise<unknown> => {
    const res = await request(`${plane.url}${path}`, admin)
    t.equal(res.status, 200, path)
    answers.push(res.bytes.toString('utf8'))
    return res.json()
  }
  const leaks = (await get('/v1/leaks?limit=100') as { items: Array<{ id: number; location: { repo?: string } }> }).items
  t.equal(leaks.length, 7, 'content, gap, archive, the named file, our own format, the paste, the package')
  for (const leak of leaks) {
    await get(`/v1/leaks/${leak.id}`)
    await get(`/v1/leaks/${leak.id}/public-places`)
  }
  t.ok(leaks.some((l) => l.location.repo === 'gap/app'), 'the gap was read from the archive')
  t.ok(leaks.some((l) => l.location.repo === 'later/app'), 'the archive\'s hour was read')
  await get('/v1/public-sources')
  answers.push((await request(`${plane.url}/metrics`, admin)).bytes.toString('utf8'))
  await plane.kill('SIGKILL')
  logs += plane.output()

  t.match(logs, /"msg":"batch committed"/)
  for (const [name, value] of planted) {
    t.notOk(echoesSecret(logs, value), `the logs do not give ${name} away`)
    t.notOk(answers.some((a) => echoesSecret(a, value)), `no answer gives ${name} away`)
  }
  if (TEST_STORE === 'sqlite') {
    const files = filesUnder(dataDir)
    t.ok(files.some((f) => f.endsWith('-wal')), 'the WAL is there to search')
    for (const f of files) {
      const bytes = readFileSync(f)
      for (const [name, value] of planted) t.notOk(byteForms(value).some((form) => bytes.includes(form)), `${name} not in ${f.slice(dataDir.length)}`)
    }
  } else {
    const url = await testDatabaseUrl(t, dataDir)
    const dump = spawnSync('pg_dump', ['--no-owner', '--data-only', url!], { encoding: 'buffer', maxBuffer: 512 * 1024 * 1024 })
    t.equal(dump.status, 0, dump.stderr.toString())
    t.ok(dump.stdout.includes('public_places'), 'the dump holds the public places')
    for (const [name, value] of planted) t.notOk(byteForms(value).some((form) => dump.stdout.includes(form)), `${name} not in the database`)
  }
})

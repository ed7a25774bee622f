/**
 * A leak found in public content keeps where it was: its repository, branch and file. Those names may
 * hold a token (a repository named after ours, a branch or a file named after a provider's), and were
 * stored raw in the leak's location, title and public places. They are hidden now.
 */
import t from 'tap'
import { echoesSecret } from '../../lib/echo.js'
import { sha256Hex } from '../../protocol/token-hash.js'
import { Rng } from '../detect/corpus/random.js'
import { crc32Base62 } from '../detect/detectors/checksums.js'
import { expandSample } from '../detect/detectors/provider-spec.js'
import { openTestStore, tempDir } from '../test/harness.js'
import { GitHubEventsSource } from './github-events.js'
import { PublicSourceRunner } from './runner.js'
import { startFakeGitHub } from './test/fake-github.js'

const rng = new Rng(1537)
const ours = (): string => `acme_live_${expandSample('{a62:40}', rng)}`
const random = rng.chars(30, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789')
const githubPat = `ghp_${random}${crc32Base62(random)}`
const aws = expandSample('AKIA{b32:16}', rng)
const inContent = ours()
const inRepo = ours()
const notIssued = ours()
const sha = (): string => rng.chars(40, '0123456789abcdef')

t.test('tokens in the repository, branch and file names of a public leak are hidden; other names are kept', async (t) => {
  const fake = await startFakeGitHub(t)
  const store = await openTestStore(t, tempDir(t))
  t.teardown(() => store.close())
  await store.issuedHashes.add([sha256Hex(inContent), sha256Hex(inRepo)])
  const named = sha()
  const plain = sha()
  fake.push(`acme/${inRepo}`, [{ sha: named, files: [{ filename: `keys/${githubPat}.txt`, status: 'added', patch: `@@ -0,0 +1 @@\n+${inContent}` }] }], { ref: `refs/heads/rotate-${aws}` })
  fake.push('someone/app', [{ sha: plain, files: [{ filename: `config/${notIssued}.env`, status: 'added', patch: `@@ -0,0 +1 @@\n+T=${inContent}` }] }], { ref: 'refs/heads/main' })
  const runner = new PublicSourceRunner(store)
  t.match(await runner.runBatch(new GitHubEventsSource({ apiUrl: fake.api })), { scanned: 2, leaksCreated: 1, leaksUpdated: 1 })

  const [leak] = (await store.leaks.list({})).items
  const places = await store.publicSources.placesOf(leak!.id)
  const stored = JSON.stringify([await store.leaks.require(leak!.id), places])
  for (const secret of [inRepo, githubPat, aws]) t.notOk(echoesSecret(stored, secret), 'no token of a name is stored')
  const hiddenPlace = places.find((p) => p.location.commit === named)
  t.match(hiddenPlace?.location, { repo: 'acme/[secret]', branch: 'rotate-[secret]', path: 'keys/[secret].txt' })
  t.match(places.find((p) => p.location.commit === plain)?.location, {
    repo: 'someone/app', branch: 'main', path: `config/${notIssued}.env`,
    url: `https://github.com/someone/app/blob/${plain}/config/${notIssued}.env#L1`,
  }, 'a name holding a string no rule knows and not issued is kept as it is')
})

t.test('a failed read whose message names a repository named after a token stores and throws it hidden', async (t) => {
  const fake = await startFakeGitHub(t)
  const store = await openTestStore(t, tempDir(t))
  t.teardown(() => store.close())
  await store.issuedHashes.add([sha256Hex(inRepo)])
  fake.push(`acme/${inRepo}`, [{ sha: sha(), files: [{ filename: 'a.txt', status: 'added', patch: '@@ -0,0 +1 @@\n+x' }] }])
  fake.push(`acme/${githubPat}`, [{ sha: sha(), files: [{ filename: 'b.txt', status: 'added', patch: '@@ -0,0 +1 @@\n+y' }] }])
  const runner = new PublicSourceRunner(store)
  for (const [repo, secret] of [[inRepo, inRepo], [githubPat, githubPat]] as const) {
    fake.failures.set(`/repos/acme/${repo}/commits/`, [{ status: 502 }])
    const err = await runner.runBatch(new GitHubEventsSource({ apiUrl: fake.api })).then(() => undefined, (e: unknown) => e as Error)
    t.match(err?.message, /GET \/repos\/acme\/\[secret\]\/commits\/[0-9a-f]+ answered 502/)
    const row = await store.publicSources.cursor('github-events')
    t.match(row?.lastError, /\[secret\]/)
    t.notOk(echoesSecret(row?.lastError ?? '', secret), 'not in the stored error')
  }
})

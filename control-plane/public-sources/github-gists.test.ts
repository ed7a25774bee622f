import t from 'tap'
import { sha256Hex } from '../../protocol/token-hash.js'
import { Rng } from '../detect/corpus/random.js'
import { openTestStore, tempDir } from '../test/harness.js'
import { GitHubGistsSource } from './github-gists.js'
import { PublicSourceRunner } from './runner.js'
import { startFakeGitHub } from './test/fake-github.js'

const rng = new Rng(1520)
const issued = `acme_live_${rng.chars(40, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789')}`
const hex = (n: number): string => rng.chars(n, '0123456789abcdef')

t.test('public gists: our token becomes a leak linked to the line at its revision; the same file elsewhere is scanned once; gists of one second are all read; a restart resumes; a 500 keeps the cursor', async (t) => {
  const fake = await startFakeGitHub(t)
  const dir = tempDir(t)
  let store = await openTestStore(t, dir)
  await store.issuedHashes.add([sha256Hex(issued)])
  const leakyId = hex(32)
  const leakyRev = hex(40)
  const second = '2026-12-01T10:00:05Z'
  fake.gists.push(
    { id: hex(32), owner: 'alice', updatedAt: '2026-12-01T10:00:00Z', revision: hex(40), files: [{ filename: 'notes.md', content: '# nothing\n' }] },
    { id: leakyId, owner: 'bob', updatedAt: second, revision: leakyRev, files: [{ filename: 'Deploy Config.env', content: `A=1\nTOKEN=${issued}\n` }] },
    // The same second, the same file copied: listed, and skipped by its content.
    { id: hex(32), owner: 'carol', updatedAt: second, revision: hex(40), files: [{ filename: 'copy.env', content: `A=1\nTOKEN=${issued}\n` }] },
  )
  const options = { apiUrl: fake.api, maxGistsPerBatch: 2, pollSeconds: 1 }
  const runner = new PublicSourceRunner(store)
  const first = await runner.runBatch(new GitHubGistsSource(options))
  t.match(first, { units: 2, scanned: 2, leaksCreated: 1, more: true }, 'the two oldest gists')
  t.match(first.cursor, new RegExp(`^${second}\\|${leakyId}$`))
  const leaks = (await store.leaks.list({})).items
  t.match(leaks, [{
    source: 'github', kind: 'issued_token',
    location: { repo: `gist:${leakyId}`, repoUrl: `https://gist.github.com/bob/${leakyId}`, commit: leakyRev, path: 'Deploy Config.env', line: 2, url: `https://gist.github.com/bob/${leakyId}/${leakyRev}#file-deploy-config-env-L2` },
  }])

  // A restart: the gist of the same second not handled yet is read, and skipped by its content.
  await store.close()
  store = await openTestStore(t, dir)
  t.teardown(() => store.close())
  const again = new PublicSourceRunner(store)
  const source = new GitHubGistsSource(options)
  t.match(await again.runBatch(source), { units: 1, scanned: 0, leaksCreated: 0, more: false })
  t.equal(fake.seen.filter((r) => r.path.startsWith('/gists/public')).length, 2)

  // A gist updated again after a failure of its raw file: nothing moves until it reads.
  const cursor = (await store.publicSources.cursor('github-gists'))?.cursor
  const rev = hex(40)
  const changedId = hex(32)
  fake.gists.push({ id: changedId, owner: 'dave', updatedAt: '2026-12-01T11:00:00Z', revision: rev, files: [{ filename: 'b.txt', content: `x\ny\nz=${issued}\n` }] })
  const wait = Date.parse(String((await store.publicSources.cursor('github-gists'))?.state.nextPollAt)) - Date.now()
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait + 20))
  fake.failures.set('/gist-raw/', [{ status: 500 }])
  await t.rejects(again.runBatch(source), /answered 500/)
  t.equal((await store.publicSources.cursor('github-gists'))?.cursor, cursor, 'the cursor stays')
  t.match(await again.runBatch(source), { units: 1, scanned: 1, leaksUpdated: 1 })
  const [leak] = (await store.leaks.list({})).items
  t.same((await store.publicSources.placesOf(leak!.id)).map((p) => p.location.repo), [`gist:${leakyId}`, `gist:${changedId}`], 'one leak, two places')
})

t.test('raw files are read only where GitHub serves them', async (t) => {
  const fake = await startFakeGitHub(t)
  const store = await openTestStore(t, tempDir(t))
  t.teardown(() => store.close())
  fake.gists.push({ id: hex(32), owner: 'eve', updatedAt: '2026-12-01T10:00:00Z', revision: hex(40), files: [{ filename: 'a.txt', content: 'hello\n' }] })
  // A listing naming raw files on an origin neither the API's nor GitHub's: not followed.
  fake.rawBase = 'http://127.0.0.2:9'
  const source = new GitHubGistsSource({ apiUrl: fake.api })
  t.match(await new PublicSourceRunner(store).runBatch(source), { units: 0, more: false })
  t.equal(fake.seen.length, 1, 'only the listing was asked')
})

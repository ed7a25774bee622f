import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { generateKey } from '../store/keys.js'
import { tempDir } from './harness.js'
import { request, spawnPlane } from './process.js'

t.test('a planted raw token is nowhere: not in the SQLite file, its WAL, the logs or the sync stream', async (t) => {
  const dataDir = tempDir(t)
  const admin = generateKey()
  const node = generateKey()
  const planted = `ghp_PLANTED${Date.now()}secretVALUE0123456789`
  const plane = await spawnPlane(t, { LEAKGATE_DATA_DIR: dataDir, LEAKGATE_ADMIN_KEY: admin, LEAKGATE_NODE_KEY: node, LEAKGATE_LOG_LEVEL: 'trace' })

  const created = await request(`${plane.url}/v1/leaks`, admin, 'POST', { tokens: [{ value: planted }], kind: 'github_pat', comment: 'planted' })
  t.equal(created.status, 201)
  const leak = created.json() as { id: number; tokens: { preview: string }[] }
  t.notOk(created.bytes.includes(planted), 'the 201 does not echo it')
  t.equal(leak.tokens[0]?.preview, 'ghp_…6789')
  // The same token in a refused request, in a search and in a decision's path: still never written.
  const refused = await request(`${plane.url}/v1/leaks`, admin, 'POST', { tokens: [{ value: planted }], bogus: planted })
  t.equal(refused.status, 400)
  t.notOk(refused.bytes.includes(planted))
  await request(`${plane.url}/v1/leaks?q=${encodeURIComponent(planted)}`, admin)
  await request(`${plane.url}/v1/leaks/${leak.id}`, admin, 'PATCH', { action: 'block' })

  const snapshot = await request(`${plane.url}/v1/sync/snapshot`, node)
  const changes = await request(`${plane.url}/v1/sync/changes?since=0`, node)
  t.equal(snapshot.status, 200)
  t.equal(changes.status, 200)
  t.notOk(snapshot.bytes.includes(planted), 'not in the snapshot')
  t.notOk(changes.bytes.includes(planted), 'not in the changes')

  // The console's live stream, replayed from its first event: ids and types, nothing of the token.
  const live = await readStream(`${plane.url}/v1/events/stream`, admin, '0', 1500)
  t.match(live, /"type":"leak.decided"/, 'the live stream replays the changes')
  t.notOk(live.includes(planted), 'not in the live event stream')

  // `leakgate check` of the planted token, and of one never seen: found and clean, and neither the
  // command's output nor the control plane's log holds either.
  const unseen = `ghp_UNSEEN${Date.now()}secretVALUE9876543210`
  for (const [value, code] of [[planted, 1], [unseen, 0]] as const) {
    const run = spawnSync(process.execPath, ['--import', './scripts/register-ts.js', 'cli.ts', 'check', '--url', plane.url, '--key-env', 'CHECK_KEY'], {
      cwd: new URL('../../', import.meta.url), input: value, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', CHECK_KEY: admin },
    })
    t.equal(run.status, code, `leakgate check exits ${code}`)
    t.notOk(`${run.stdout}${run.stderr}`.includes(value), 'leakgate check does not print the token')
  }

  // API keys made and rotated through the API, and used (their last use written): only their hashes
  // are stored, and neither the log nor the list shows them.
  const made = await request(`${plane.url}/v1/keys`, admin, 'POST', { role: 'analyst', name: 'planted', owner: 'alice@example.com' })
  t.equal(made.status, 201)
  const madeKey = made.json() as { key: string; keyId: string }
  const rotated = await request(`${plane.url}/v1/keys/${madeKey.keyId}/rotate`, admin, 'POST', { overlapSeconds: 60 })
  t.equal(rotated.status, 200)
  const rotatedKey = (rotated.json() as { key: string }).key
  t.equal((await request(`${plane.url}/v1/me`, madeKey.key)).status, 200)
  t.equal((await request(`${plane.url}/v1/me`, rotatedKey)).status, 200)
  const listed = await request(`${plane.url}/v1/keys`, admin)
  for (const key of [admin, node, madeKey.key, rotatedKey]) t.notOk(listed.bytes.includes(key), 'the key list shows no key')
  const apiKeys = [admin, node, madeKey.key, rotatedKey]

  // kill -9 leaves the WAL in place, so the last writes are still there to search.
  await plane.kill('SIGKILL')
  const files = readdirSync(dataDir)
  t.ok(files.includes('leakgate.db'))
  t.ok(files.includes('leakgate.db-wal'), 'the WAL is there to search')
  for (const f of files) {
    const bytes = readFileSync(join(dataDir, f))
    t.notOk(bytes.includes(planted), `not in ${f}`)
    t.notOk(bytes.includes(Buffer.from(planted, 'utf16le')), `not in ${f} as UTF-16`)
    for (const key of apiKeys) t.notOk(bytes.includes(key), `no API key in ${f}`)
  }
  const logs = plane.output()
  t.ok(logs.includes('"statusCode":201'), 'the log has the requests')
  t.notOk(logs.includes(planted), 'not in the logs')
  t.notOk(logs.includes(unseen), 'nor the checked token')
  for (const key of apiKeys) t.notOk(logs.includes(key), 'nor any API key')
})

/** What an event stream sends within `ms` (from after `lastEventId`). */
async function readStream(url: string, key: string, lastEventId: string, ms: number): Promise<string> {
  const abort = new AbortController()
  const timer = setTimeout(() => abort.abort(), ms)
  let text = ''
  try {
    const res = await fetch(url, { headers: { authorization: `Bearer ${key}`, 'last-event-id': lastEventId }, signal: abort.signal })
    if (res.body === null) return ''
    const decoder = new TextDecoder()
    for await (const chunk of res.body) text += decoder.decode(chunk as Uint8Array, { stream: true })
  } catch {
    // aborted when the time is up
  } finally {
    clearTimeout(timer)
  }
  return text
}

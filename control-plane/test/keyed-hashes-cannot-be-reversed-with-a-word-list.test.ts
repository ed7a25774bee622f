/**
 * A weak password added by value is stored, shown and synced as a hash. Without a hash key that hash is
 * its plain SHA-256, and hashing a word list finds it again; with one (LEAKGATE_HASH_KEY on the control
 * plane and the node), nothing a word list hashed with plain SHA-256 gives is found anywhere: the SQLite
 * file, the API, the sync answers, the node's cache. The node with the key still blocks the password,
 * and the key itself is in none of those places, nor in any log line.
 */
import { readdirSync, readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { Rng } from '../detect/corpus/random.js'
import { LeakIndex } from '../../node/leakdb/index.js'
import { startNode, startUpstream, type RunningNode } from '../../node/test/helpers.js'
import { HASH_KEY_ID_HEADER, hashKeyId, sha256Digest, sha256Hex } from '../../protocol/token-hash.js'
import { startPlane, tempDir, waitFor, type TestPlane } from './harness.js'

// 256 passwords of the kind people choose: 16 words, 16 endings.
const STEMS = ['summer', 'winter', 'dragon', 'monkey', 'shadow', 'master', 'sunshine', 'football', 'welcome', 'princess', 'letmein', 'freedom', 'charlie', 'flower', 'hunter', 'orange']
const ENDINGS = ['', '1', '12', '123', '!', '2019', '2020', '2021', '2022', '2023', '2024', '01', '99', '#1', '007', '2025!']
const WORDS = STEMS.flatMap((s) => ENDINGS.map((e) => `${s}${e}`))
const LEAKED = WORDS[137]! // one of them, added by value

/** Everything a reader of the deployment could get hold of, as bytes. */
interface Exposure {
  plane: TestPlane
  node: RunningNode
  places: Record<string, Buffer>
}

async function expose(t: Test, hashKey: string | undefined): Promise<Exposure> {
  const plane = await startPlane(t, hashKey === undefined ? {} : { hashKey })
  await plane.app.listen({ port: 0, host: '127.0.0.1' })
  const cpUrl = `http://127.0.0.1:${(plane.app.server.address() as AddressInfo).port}`
  const upstream = await startUpstream(t)
  const cacheDir = tempDir(t, 'leakgate-node-cache-')
  const node = await startNode(t, {
    upstream: upstream.url,
    env: {
      LEAKGATE_CONTROL_PLANE: cpUrl, LEAKGATE_NODE_KEY: plane.keys.node, LEAKGATE_CACHE_DIR: cacheDir, LEAKGATE_NODE_ID: 'edge-words',
      LEAKGATE_PERSIST_DEBOUNCE_MS: '20', LEAKGATE_SIGHTING_FLUSH_MS: '50', LEAKGATE_HEARTBEAT_MS: '200',
      ...(hashKey === undefined ? {} : { LEAKGATE_HASH_KEY: hashKey }),
    },
  })
  await waitFor('the node to be ready', async () => (await fetch(`${node.adminUrl}/readyz`)).status === 200, 30_000)

  const created = await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: LEAKED }], action: 'block', title: 'shared password' })
  t.equal(created.statusCode, 201)
  const id = (created.json() as { id: number }).id
  await waitFor('the node to block the leaked password', async () => (await fetch(`${node.url}/x`, { headers: { 'x-api-key': LEAKED } })).status === 403, 30_000)
  await waitFor('a sighting to reach the control plane', async () => (plane.call('GET', `/v1/leaks/${id}`, plane.keys.analyst)).then((r) => (r.json() as { hits: number }).hits > 0), 30_000)
  // The node has cached the leak once its cache holds the hash the control plane stores for it.
  const stored = ((await plane.call('GET', `/v1/leaks/${id}`, plane.keys.analyst)).json() as { tokens: Array<{ sha256: string }> }).tokens[0]!.sha256
  const cache = (): Buffer => Buffer.concat(readdirSync(cacheDir).map((f) => readFileSync(join(cacheDir, f))))
  await waitFor('the node to cache the leak', () => cache().toString('latin1').includes(stored) || cache().includes(Buffer.from(stored, 'hex')), 30_000)

  const headers = hashKey === undefined ? {} : { [HASH_KEY_ID_HEADER]: hashKeyId(Buffer.from(hashKey, 'hex')) }
  const snapshot = await plane.call('GET', '/v1/sync/snapshot', plane.keys.node, undefined, headers)
  const changes = await plane.call('GET', '/v1/sync/changes?since=0&wait=0', plane.keys.node, undefined, headers)
  t.equal(snapshot.statusCode, 200)
  t.equal(changes.statusCode, 200)
  const places: Record<string, Buffer> = {
    'the SQLite file': Buffer.concat(readdirSync(plane.dir).filter((f) => f.startsWith('leakgate.db')).map((f) => readFileSync(join(plane.dir, f)))),
    'the leak in the API': Buffer.from((await plane.call('GET', `/v1/leaks/${id}`, plane.keys.analyst)).body),
    'the sync snapshot': snapshot.rawPayload,
    'the sync changes': Buffer.from(changes.body),
    "the node's cache": cache(),
  }
  return { plane, node, places }
}

/**
 * Which of the word list's plain SHA-256s show up in `bytes`: as hex, its first 8 characters or raw bytes;
 * and, for a snapshot (whose layout keeps only some digest bits, in the index's arrays), as a word the
 * snapshot loaded as an index (as anyone holding the file could) takes for a leaked credential.
 */
function wordsFoundIn(bytes: Buffer): string[] {
  const text = bytes.toString('latin1')
  let index: LeakIndex | undefined
  try {
    index = LeakIndex.fromSnapshot(bytes, { cacheSize: 0 })
  } catch {
    // not a snapshot: the byte searches alone
  }
  return WORDS.filter((w) => {
    const hex = sha256Hex(w)
    return text.includes(hex) || text.includes(hex.slice(0, 8)) || bytes.includes(sha256Digest(w)) || index?.check(w) !== undefined
  })
}

t.test('without a hash key, a word list finds the password in every place (the check can fail)', async (t) => {
  const { places } = await expose(t, undefined)
  for (const [where, bytes] of Object.entries(places)) t.same(wordsFoundIn(bytes), [LEAKED], where)
})

t.test('with a hash key, a word list finds nothing, the node still blocks, and the key is nowhere', async (t) => {
  const key = new Rng(0x6b657931).bytes(32)
  const keyHex = key.toString('hex')
  const { plane, node, places } = await expose(t, keyHex)
  for (const [where, bytes] of Object.entries(places)) t.same(wordsFoundIn(bytes), [], where)

  const answer = await fetch(`${node.url}/x`, { headers: { 'x-api-key': LEAKED } })
  t.equal(answer.status, 403, 'the node with the key blocks the password')
  t.equal(((await answer.json()) as { code: string }).code, 'LEAKGATE_ERR_LEAKED_CREDENTIAL')

  // The key planted in both processes: not in any file the control plane wrote, any answer, any log line.
  await plane.app.close()
  const everything: Record<string, Buffer> = {
    ...places,
    'the SQLite file after close': Buffer.concat(readdirSync(plane.dir).filter((f) => f.startsWith('leakgate.db')).map((f) => readFileSync(join(plane.dir, f)))),
    "the control plane's log": Buffer.from(plane.logs.join('')),
    "the node's log": Buffer.from(node.logs.text),
  }
  t.ok(plane.logs.length > 0 && node.logs.lines.length > 0, 'both processes logged')
  for (const [where, bytes] of Object.entries(everything)) {
    const text = bytes.toString('latin1').toLowerCase()
    t.notOk(text.includes(keyHex) || bytes.includes(key) || bytes.includes(key.subarray(0, 16)), `no key in ${where}`)
  }
})

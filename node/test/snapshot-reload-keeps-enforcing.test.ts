/**
 * A full snapshot taken while an index is in force (the control plane answered 410): the node goes on
 * blocking a leaked token at every moment of the reload, including while the new snapshot is read in
 * place from the cache folder; a corrupt new snapshot is refused and the old index kept; a cache folder
 * that cannot take the snapshot makes the node load it beside the old index instead, said once.
 * The control plane is a stand-in serving snapshot bytes and answering 410 on demand.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { Rng, ALPHA } from '../../control-plane/detect/corpus/random.js'
import { encodeSnapshot, type SnapshotEntry } from '../../protocol/snapshot.js'
import { SyncGoneError } from '../../lib/errors.js'
import { sha256Hex } from '../../protocol/token-hash.js'
import { SnapshotFileView } from '../leakdb/snapshot-file.js'
import { pooledGet, startNode, startUpstream, tempDir, waitFor, type RunningNode } from './helpers.js'
import type { Teardown } from '../../test/support.js'

const rng = new Rng(0x2e10ad)
const token = (): string => `lgtest_${rng.chars(40, ALPHA.base62)}`
const BLOCKED = token()
const ADDED = token()
// Enough entries that loading the new snapshot spans many turns of the event loop.
const filler: SnapshotEntry[] = Array.from({ length: 300_000 }, (_, i) => ({ sha256: rng.bytes(32), action: 'block', leakId: i + 10 }))
const first = encodeSnapshot([{ sha256: sha256Hex(BLOCKED), action: 'block', leakId: 1 }, ...filler], 1)
const second = encodeSnapshot([{ sha256: sha256Hex(BLOCKED), action: 'block', leakId: 1 }, { sha256: sha256Hex(ADDED), action: 'block', leakId: 2 }, ...filler], 2)

/** A stand-in control plane: serves `snapshot`, holds change polls briefly, answers one 410 when `gone` is set. */
async function standIn(t: Teardown): Promise<{ url: string; state: { snapshot: Buffer; gone: boolean; served: number } }> {
  const state = { snapshot: first, gone: false, served: 0 }
  const server = createServer((req, res) => {
    req.resume()
    if (req.url?.startsWith('/v1/sync/snapshot') === true) {
      state.served++
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': state.snapshot.length }).end(state.snapshot)
    } else if (req.url?.startsWith('/v1/sync/changes') === true) {
      if (state.gone) {
        state.gone = false
        res.writeHead(410, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ code: SyncGoneError.code }))
        return
      }
      const since = Number(new URL(req.url, 'http://x').searchParams.get('since'))
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ revision: since, changes: [] })), 100)
    } else {
      res.writeHead(204).end()
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, state }
}

function env(cpUrl: string, cacheDir: string): Record<string, string> {
  return { LEAKGATE_CONTROL_PLANE: cpUrl, LEAKGATE_NODE_KEY: 'test', LEAKGATE_CACHE_DIR: cacheDir, LEAKGATE_SYNC_WAIT_SECONDS: '1', LEAKGATE_PERSIST_DEBOUNCE_MS: '20', LEAKGATE_HEARTBEAT_MS: '60000' }
}

/** Requests with the blocked token, four at a time, until `stop`: every status seen, and how many were judged while the file was read in place. */
function hammer(node: RunningNode, get: ReturnType<typeof pooledGet>): { stop: () => Promise<{ statuses: Map<number, number>; duringView: number }> } {
  const statuses = new Map<number, number>()
  let duringView = 0
  let running = true
  const loops = Array.from({ length: 4 }, async () => {
    while (running) {
      const view = node.node.holder.current instanceof SnapshotFileView
      const { status } = await get(`${node.url}/x`, { authorization: `Bearer ${BLOCKED}` })
      if (view && node.node.holder.current instanceof SnapshotFileView) duringView++
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
    }
  })
  return {
    async stop() {
      running = false
      await Promise.all(loops)
      return { statuses, duringView }
    },
  }
}

/** A node synced from a stand-in control plane, enforcing its first snapshot; `status(token)` asks the node. */
async function enforcingNode(t: Teardown, cacheDir: string): Promise<{ node: RunningNode; plane: Awaited<ReturnType<typeof standIn>>; get: ReturnType<typeof pooledGet>; status: (token: string) => Promise<number> }> {
  const upstream = await startUpstream(t)
  const plane = await standIn(t)
  const node = await startNode(t, { upstream: upstream.url, env: env(plane.url, cacheDir) })
  const get = pooledGet(t)
  const status = async (tk: string): Promise<number> => (await get(`${node.url}/x`, { authorization: `Bearer ${tk}` })).status
  await waitFor('the first snapshot to be enforced', async () => (await status(BLOCKED)) === 403, 30_000)
  return { node, plane, get, status }
}

/**
 * The control plane answers 410 and then serves `snapshot`, while the blocked token is sent without
 * pause; `settled` waits for what the test expects of the reload. Answers what `hammer` saw.
 */
async function reloadUnderLoad(n: Awaited<ReturnType<typeof enforcingNode>>, snapshot: Buffer, settled: () => Promise<void>): Promise<{ statuses: Map<number, number>; duringView: number }> {
  const load = hammer(n.node, n.get)
  n.plane.state.snapshot = snapshot
  n.plane.state.gone = true
  await settled()
  return load.stop()
}

t.test('a reload while an index is in force: the blocked token is blocked at every moment, through the file read in place', async (t) => {
  const cacheDir = tempDir(t)
  const n = await enforcingNode(t, cacheDir)
  const { node, status } = n
  await waitFor('the first snapshot to be cached', () => existsSync(join(cacheDir, 'index.snapshot')) && readFileSync(join(cacheDir, 'index.snapshot')).equals(first), 30_000)

  const { statuses, duringView } = await reloadUnderLoad(n, second, async () => {
    await waitFor('the new snapshot to be enforced', async () => (await status(ADDED)) === 403, 60_000)
    await waitFor('the new index to be loaded', () => node.logs.lines.filter((l) => l.includes('loaded a snapshot from the control plane')).length === 2, 60_000)
  })

  t.same([...statuses.keys()], [403], `every request with the blocked token was blocked (${[...statuses.values()][0]} requests)`)
  t.ok(duringView > 0, `some were judged while the new snapshot was read in place from its file (${duringView})`)
  t.match(node.logs.text, /enforcing the new snapshot from its file while it loads/)
  t.notMatch(node.logs.text, /loading it beside the index in force/, 'no second index in memory')
  t.equal(node.node.holder.current?.revision, 2)
  t.notOk(node.node.holder.current instanceof SnapshotFileView, 'a loaded index in force at the end')
  await waitFor('the cache to hold the new snapshot, renamed into place', () => readFileSync(join(cacheDir, 'index.snapshot')).equals(second) && JSON.parse(readFileSync(join(cacheDir, 'index.changes.json'), 'utf8')).base === 2, 10_000)
  t.same(readdirSync(cacheDir).filter((f) => f.startsWith('.')), [], 'no temporary file left')
})

t.test('a corrupt snapshot after a 410 is refused: the old index stays in force and nothing is left in the cache folder', async (t) => {
  const cacheDir = tempDir(t)
  const n = await enforcingNode(t, cacheDir)
  const { node, plane, status } = n

  const corrupt = Buffer.from(second)
  corrupt[corrupt.length - 100]! ^= 1
  const served = plane.state.served
  const { statuses } = await reloadUnderLoad(n, corrupt, async () => {
    await waitFor('the corrupt snapshot to be refused', () => /LEAKGATE_ERR_SNAPSHOT_CHECKSUM/.test(node.logs.text) && plane.state.served > served, 60_000)
  })
  t.same([...statuses.keys()], [403], 'the blocked token stayed blocked throughout')
  t.equal(await status(ADDED), 200, 'nothing of the corrupt snapshot is enforced')
  t.equal(node.node.holder.current?.revision, 1, 'the old index is in force')
  t.notOk(node.node.holder.current instanceof SnapshotFileView)
  t.same(readdirSync(cacheDir).filter((f) => f.startsWith('.')), [], 'the refused download is removed')
  t.ok(readFileSync(join(cacheDir, 'index.snapshot')).equals(first), 'the cached snapshot is the old one')
})

t.test('a cache folder that cannot take the snapshot: loaded beside the old index instead, said once', async (t) => {
  const blocker = join(tempDir(t), 'a-file')
  writeFileSync(blocker, 'not a folder')
  const n = await enforcingNode(t, join(blocker, 'cache'))
  const { node, status } = n

  const { statuses } = await reloadUnderLoad(n, second, async () => {
    await waitFor('the new snapshot to be enforced', async () => (await status(ADDED)) === 403, 60_000)
  })
  t.same([...statuses.keys()], [403], 'the blocked token stayed blocked throughout')
  const fallbacks = node.logs.lines.filter((l) => l.includes('loading it beside the index in force'))
  t.equal(fallbacks.length, 1, 'the fallback is logged')
  t.match(fallbacks[0], /"level":40/, 'at warn')
  t.equal(node.node.holder.current?.revision, 2)
})

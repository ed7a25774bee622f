/**
 * The node's sync client against the real control plane (listening on port 0, SQLite in a temp
 * folder): a reset control plane (410) makes the node take a fresh snapshot; changes received after
 * a restart from the cache are kept in the cache with the ones before it; no raw token in the cache.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { buildControlPlane } from '../../control-plane/app.js'
import { startPlane, tempDir, type TestPlane } from '../../control-plane/test/harness.js'
import { startNode, startUpstream, waitFor, type RunningNode } from './helpers.js'
import { FORMAT_VERSION, readSnapshotHeader } from '../../protocol/snapshot.js'
import { goldenV1 } from '../../protocol/test/snapshots.js'

const tokens = Array.from({ length: 6 }, (_, i) => `sk_live_SyncTestToken${i}_0123456789abcdef`)

async function status(node: RunningNode, token: string): Promise<number> {
  const res = await fetch(`${node.url}/v1/x`, { headers: { authorization: `Bearer ${token}` } })
  await res.arrayBuffer()
  return res.status
}

async function listen(plane: TestPlane, port = 0): Promise<string> {
  await plane.app.listen({ port, host: '127.0.0.1' })
  return `http://127.0.0.1:${(plane.app.server.address() as AddressInfo).port}`
}

async function addLeak(plane: TestPlane, token: string): Promise<number> {
  const res = await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: token }], action: 'block' })
  if (res.statusCode !== 201) throw new Error(`POST /v1/leaks: ${res.statusCode} ${res.body}`)
  return (res.json() as { id: number }).id
}

/** What every test here starts from: an upstream, a control plane listening on port 0, an empty cache folder. */
async function setup(t: Parameters<typeof startPlane>[0]) {
  const upstream = await startUpstream(t)
  const plane = await startPlane(t)
  const cpUrl = await listen(plane)
  return { upstream, plane, cpUrl, cacheDir: tempDir(t, 'leakgate-node-cache-') }
}

function nodeEnv(cpUrl: string, key: string, cacheDir: string): Record<string, string> {
  return {
    LEAKGATE_CONTROL_PLANE: cpUrl, LEAKGATE_NODE_KEY: key, LEAKGATE_CACHE_DIR: cacheDir, LEAKGATE_NODE_ID: 'edge-sync-test',
    LEAKGATE_SYNC_WAIT_SECONDS: '1', LEAKGATE_PERSIST_DEBOUNCE_MS: '20', LEAKGATE_HEARTBEAT_MS: '200',
  }
}

t.test('a control plane whose store was reset answers 410; the node takes its snapshot instead', async (t) => {
  const { upstream, plane: first, cpUrl, cacheDir } = await setup(t)
  const port = Number(new URL(cpUrl).port)
  for (const token of tokens.slice(0, 3)) await addLeak(first, token)
  const node = await startNode(t, { upstream: upstream.url, env: nodeEnv(cpUrl, first.keys.node, cacheDir) })
  await waitFor('the first leaks to be blocked', async () => (await status(node, tokens[2] as string)) === 403, 10_000)
  const before = node.node.holder.current?.revision ?? 0
  await first.app.close()

  // A new, empty store on the same address: its revision is below the node's.
  const second = await startPlane(t)
  await second.store.keys.add(first.keys.node, 'node')
  await listen(second, port)
  await addLeak(second, tokens[5] as string)
  await waitFor('the new control plane\'s leak to be blocked', async () => (await status(node, tokens[5] as string)) === 403, 15_000)
  t.equal(await status(node, tokens[0] as string), 200, 'leaks of the old store are gone with it')
  t.ok((node.node.holder.current?.revision ?? 0) < before, 'the node follows the new, lower revision')
  t.match(node.logs.text, /loaded a snapshot from the control plane/)
})

t.test('changes after a restart from the cache join the cached ones; no raw token on disk', async (t) => {
  const { upstream, plane, cpUrl, cacheDir } = await setup(t)
  const env = nodeEnv(cpUrl, plane.keys.node, cacheDir)

  await addLeak(plane, tokens[0] as string)
  const one = await startNode(t, { upstream: upstream.url, env })
  await waitFor('the snapshot leak to be blocked', async () => (await status(one, tokens[0] as string)) === 403, 10_000)
  await addLeak(plane, tokens[1] as string) // arrives as a change, journaled after the snapshot
  await waitFor('the first change', async () => (await status(one, tokens[1] as string)) === 403, 10_000)
  await one.node.close() // writes pending changes

  const two = await startNode(t, { upstream: upstream.url, env })
  await waitFor('a start from the cache', () => /started from the cached index/.test(two.logs.text), 10_000)
  await addLeak(plane, tokens[2] as string)
  await waitFor('a change after the restart', async () => (await status(two, tokens[2] as string)) === 403, 10_000)
  await two.node.close()
  await plane.app.close()

  // Control plane gone: a third start has only the cache, which must hold all three.
  const three = await startNode(t, { upstream: upstream.url, env })
  await waitFor('ready from the cache', async () => (await fetch(`${three.adminUrl}/readyz`)).status === 200, 10_000)
  for (const token of tokens.slice(0, 3)) t.equal(await status(three, token), 403, `${token.slice(0, 22)}… blocked from the cache`)
  t.equal(await status(three, tokens[4] as string), 200)

  const files = readdirSync(cacheDir)
  t.ok(files.length >= 2, 'snapshot and journal written')
  for (const f of files) {
    const bytes = readFileSync(join(cacheDir, f))
    for (const token of tokens) t.notOk(bytes.includes(Buffer.from(token)), `${f} holds no raw token`)
  }
  for (const node of [one, two, three]) for (const token of tokens) t.notOk(node.logs.text.includes(token), 'no raw token in the node logs')
})

t.test('sightings wait in the buffer while the control plane is away, and arrive when it is back', async (t) => {
  const { upstream, plane, cpUrl, cacheDir } = await setup(t)
  const port = Number(new URL(cpUrl).port)
  const leakId = await addLeak(plane, tokens[3] as string)
  const node = await startNode(t, { upstream: upstream.url, env: { ...nodeEnv(cpUrl, plane.keys.node, cacheDir), LEAKGATE_SIGHTING_FLUSH_MS: '50' } })
  await waitFor('the leak to be blocked', async () => (await status(node, tokens[3] as string)) === 403, 10_000)
  await waitFor('the first sighting to arrive', async () => ((await plane.call('GET', `/v1/leaks/${leakId}`, plane.keys.analyst)).json() as { hits: number }).hits === 1, 10_000)
  await plane.app.close()

  for (let i = 0; i < 5; i++) t.equal(await status(node, tokens[3] as string), 403, 'still blocked without the control plane')
  await waitFor('a failed send to be counted', () => node.node.metrics.counters.syncErrors > 0, 10_000)
  // A batch is out of the buffer while it is being sent: wait for the failed one to be given back.
  await waitFor('the unsent sightings to be back in the buffer', () => node.node.sightings.size === 5, 10_000)
  t.equal(node.node.sightings.size, 5, 'sightings kept while the control plane is away')

  // The same store behind a new app on the same address: the control plane is back.
  const back = await buildControlPlane(plane.config, { store: plane.store })
  t.teardown(() => back.close())
  await back.listen({ port, host: '127.0.0.1' })
  const hits = async (): Promise<number> => ((await back.inject({ url: `/v1/leaks/${leakId}`, headers: { authorization: `Bearer ${plane.keys.analyst}` } })).json() as { hits: number }).hits
  await waitFor('the kept sightings to arrive', async () => (await hits()) === 6, 40_000)
  t.equal(node.node.sightings.size, 0)
  t.equal(node.node.metrics.counters.sightingsDropped, 0, 'none dropped')
})

t.test('a corrupt journal: the node enforces the cached snapshot, then takes a fresh snapshot from the control plane', async (t) => {
  const { upstream, plane, cpUrl, cacheDir } = await setup(t)
  const port = Number(new URL(cpUrl).port)
  await addLeak(plane, tokens[0] as string)
  const snap = await fetch(`${cpUrl}/v1/sync/snapshot`, { headers: { authorization: `Bearer ${plane.keys.node}` } })
  t.equal(snap.status, 200)
  writeFileSync(join(cacheDir, 'index.snapshot'), Buffer.from(await snap.arrayBuffer()))
  writeFileSync(join(cacheDir, 'index.changes.json'), '{"base": 1, "changes": [')
  await plane.app.close()

  const node = await startNode(t, { upstream: upstream.url, env: nodeEnv(cpUrl, plane.keys.node, cacheDir) })
  t.equal(await status(node, tokens[0] as string), 403, 'control plane away: the cached snapshot is enforced')
  t.match(node.logs.text, /cached change journal dropped/)

  const back = await buildControlPlane(plane.config, { store: plane.store })
  t.teardown(() => back.close())
  await back.listen({ port, host: '127.0.0.1' })
  await waitFor('a fresh snapshot', () => /loaded a snapshot from the control plane/.test(node.logs.text), 15_000)
  await waitFor('the journal to be written again', () => {
    try {
      return (JSON.parse(readFileSync(join(cacheDir, 'index.changes.json'), 'utf8')) as { base: unknown }).base === node.node.holder.current?.revision
    } catch {
      return false
    }
  })
  t.equal(await status(node, tokens[0] as string), 403)
})

t.test('a snapshot the cache could not write is written before the changes that follow it', async (t) => {
  const { upstream, plane, cpUrl, cacheDir } = await setup(t)
  const env = nodeEnv(cpUrl, plane.keys.node, cacheDir)
  // The snapshot's path is a folder: its write fails (as on a full disk), whoever runs the test.
  mkdirSync(join(cacheDir, 'index.snapshot', 'x'), { recursive: true })
  await addLeak(plane, tokens[0] as string)
  const one = await startNode(t, { upstream: upstream.url, env })
  await waitFor('the snapshot leak to be blocked', async () => (await status(one, tokens[0] as string)) === 403, 10_000)
  await waitFor('the failed write to be logged', () => /cannot write the index cache/.test(one.logs.text), 10_000)

  rmSync(join(cacheDir, 'index.snapshot'), { recursive: true })
  await addLeak(plane, tokens[1] as string) // arrives as a change
  await waitFor('the change', async () => (await status(one, tokens[1] as string)) === 403, 10_000)
  await one.node.close()
  await plane.app.close()

  const two = await startNode(t, { upstream: upstream.url, env })
  for (const token of tokens.slice(0, 2)) t.equal(await status(two, token), 403, `${token.slice(0, 22)}… blocked from the cache`)
  t.match(two.logs.text, /started from the cached index/)
})

t.test('a cache in an older snapshot format is refused and replaced by a fresh snapshot from the control plane', async (t) => {
  const { upstream, plane, cpUrl, cacheDir } = await setup(t)
  // What an older node left behind: a version-1 snapshot (the format's golden fixture).
  writeFileSync(join(cacheDir, 'index.snapshot'), goldenV1)
  writeFileSync(join(cacheDir, 'index.changes.json'), JSON.stringify({ base: 42, changes: [] }))
  await addLeak(plane, tokens[0] as string)
  const node = await startNode(t, { upstream: upstream.url, env: nodeEnv(cpUrl, plane.keys.node, cacheDir) })
  await waitFor('the refusal to be logged', () => node.logs.text.includes('cached index refused'), 10_000)
  const line = node.logs.lines.find((l) => l.includes('cached index refused')) ?? ''
  t.match(JSON.parse(line), { level: 50, err: { code: 'LEAKGATE_ERR_SNAPSHOT_VERSION' } })
  await waitFor('the control plane\'s leak to be blocked', async () => (await status(node, tokens[0] as string)) === 403, 15_000)
  t.equal(await status(node, 'leaked-token-1'), 200, 'nothing of the old cache is enforced')
  await waitFor('the cache to be rewritten in the current format', () => {
    try {
      return readSnapshotHeader(readFileSync(join(cacheDir, 'index.snapshot'))).version === FORMAT_VERSION
    } catch {
      return false
    }
  }, 10_000)
  await node.node.close()
  const again = await startNode(t, { upstream: upstream.url, env: nodeEnv('http://127.0.0.1:9', plane.keys.node, cacheDir) })
  await waitFor('a start from the rewritten cache', () => /started from the cached index/.test(again.logs.text), 10_000)
  t.equal(await status(again, tokens[0] as string), 403, 'the rewritten cache loads')
})

t.test('a node confirms a new revision at once, not at its next heartbeat, so a decision is seen enforced', async (t) => {
  const { upstream, plane, cpUrl, cacheDir } = await setup(t)
  await addLeak(plane, tokens[0] as string)
  // Heartbeats every ten minutes: only the early one after a change can report the new revision.
  const node = await startNode(t, { upstream: upstream.url, env: { ...nodeEnv(cpUrl, plane.keys.node, cacheDir), LEAKGATE_HEARTBEAT_MS: '600000' } })
  await waitFor('the first leak to be blocked', async () => (await status(node, tokens[0] as string)) === 403, 10_000)
  const nodeRevision = async (): Promise<number> => {
    const fleet = (await plane.call('GET', '/v1/nodes', plane.keys.analyst)).json() as { items: { id: string; revision: number }[] }
    return fleet.items.find((n) => n.id === 'edge-sync-test')?.revision ?? -1
  }
  await waitFor('the node to report its first revision', async () => (await nodeRevision()) >= (node.node.holder.current?.revision ?? 1), 10_000)

  const id = await addLeak(plane, tokens[1] as string)
  await plane.call('PATCH', `/v1/leaks/${id}`, plane.keys.admin, { action: 'monitor' })
  const decided = await plane.store.index.revision()
  const reported = await waitFor('the fleet view to show the node at the decision\'s revision', async () => {
    const r = await nodeRevision()
    return r >= decided ? r : 0
  }, 10_000)
  t.ok(reported >= decided, `reported revision ${reported} ≥ ${decided}, well before the next heartbeat`)
})

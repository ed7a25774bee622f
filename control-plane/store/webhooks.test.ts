import t from 'tap'
import { openTestStore, storeSql, tempDir, TEST_STORE, type Teardown } from '../test/harness.js'
import type { Store } from './store.js'

const hex = (i: number): string => i.toString(16).padStart(64, '0')

/** Two stores on one database (PostgreSQL replicas); on SQLite, which one control plane owns, one store twice. */
async function twoReplicas(t: Teardown): Promise<[Store, Store]> {
  const dir = tempDir(t)
  const a = await openTestStore(t, dir)
  const b = TEST_STORE === 'postgres' ? await openTestStore(t, dir) : a
  t.teardown(async () => {
    await a.close()
    if (b !== a) await b.close()
  })
  return [a, b]
}

t.test('events fanned out by two replicas at once make one delivery each, and each delivery is claimed by one', async (t) => {
  const [a, b] = await twoReplicas(t)
  const hook = await a.webhooks.create({ url: 'https://example.com/x', events: ['leak.created'] }, 'whsec_test')
  for (let i = 1; i <= 40; i++) await a.leaks.create({ source: 'manual', tokens: [{ sha256: hex(i), preview: `sha256:${i}` }] }, 'k')
  const payload = async (): Promise<string> => '{}'
  // Small batches, so the two interleave.
  const fanOut = async (s: Store): Promise<void> => {
    while (await s.webhooks.fanOut(7, 3600, payload) > 0);
  }
  await Promise.all([fanOut(a), fanOut(b), fanOut(a), fanOut(b)])
  const { items } = await a.webhooks.deliveries(hook.id, 200)
  t.equal(items.length, 40, 'one delivery an event')
  t.equal(new Set(items.map((d) => d.eventId)).size, 40)
  t.equal(await a.webhooks.pendingCount(), 40)

  const now = new Date().toISOString()
  const lease = new Date(Date.now() + 60_000).toISOString()
  const claims = async (s: Store): Promise<number[]> => {
    const got: number[] = []
    for (const id of await s.webhooks.due(now, 100)) if (await s.webhooks.claim(id, now, lease) !== undefined) got.push(id)
    return got
  }
  const [byA, byB] = await Promise.all([claims(a), claims(b)])
  t.equal(byA.length + byB.length, 40, 'every delivery claimed')
  t.same(byA.filter((id) => byB.includes(id)), [], 'none by both')
  t.same(await b.webhooks.due(now, 100), [], 'a leased delivery is not due')
  // Once the lease has run out (a replica died holding it), another takes it.
  const later = new Date(Date.now() + 120_000).toISOString()
  t.equal((await b.webhooks.due(later, 100)).length, 40)
  const claimed = await b.webhooks.claim(byA[0] ?? byB[0]!, later, new Date(Date.now() + 180_000).toISOString())
  t.equal(claimed?.attempt, 2, 'the second attempt')
})

t.test('a node is announced stale once a silence, and again after it came back and went silent', async (t) => {
  const [store] = await twoReplicas(t)
  const sql = storeSql(t, store)
  const reporter = { keyId: 'k1', bound: false }
  await store.nodes.heartbeat({ nodeId: 'edge-1' }, reporter, { maxNodes: 10, pruneSeconds: 3600 })
  const old = new Date(Date.now() - 60_000).toISOString()
  await sql.run('UPDATE nodes SET last_contact_at = ?', [old])
  const before = new Date(Date.now() - 30_000).toISOString()
  const now = new Date().toISOString()
  t.equal(await store.nodes.announceStale(before, now), 1)
  t.equal(await store.nodes.announceStale(before, now), 0, 'not twice for one silence')
  await store.nodes.heartbeat({ nodeId: 'edge-1' }, reporter, { maxNodes: 10, pruneSeconds: 3600 })
  t.equal(await store.nodes.announceStale(before, now), 0, 'not while it is heard from')
  await sql.run('UPDATE nodes SET last_contact_at = ?', [old])
  t.equal(await store.nodes.announceStale(before, now), 1, 'a new silence is announced')
  const events = await sql.all<{ type: string }>("SELECT type FROM events WHERE type = 'node.stale'")
  t.equal(events.length, 2)
})

t.test('events fanned out and deliveries no longer pending are deleted once older than the retention; the rest stay', async (t) => {
  const [store] = await twoReplicas(t)
  const sql = storeSql(t, store)
  const hook = await store.webhooks.create({ url: 'https://example.com/x', events: ['leak.created'] }, 'whsec_test')
  for (let i = 1; i <= 4; i++) await store.leaks.create({ source: 'manual', tokens: [{ sha256: hex(100 + i), preview: `sha256:${i}` }] }, 'k')
  while (await store.webhooks.fanOut(10, 3600, async () => '{}') > 0);
  const { items } = await store.webhooks.deliveries(hook.id, 10)
  t.equal(items.length, 4)
  const [done, failed, pending, recent] = [...items].sort((x, y) => x.id - y.id)
  await sql.run("UPDATE webhook_deliveries SET status = 'delivered' WHERE id = ?", [done!.id])
  await sql.run("UPDATE webhook_deliveries SET status = 'failed' WHERE id = ?", [failed!.id])
  await sql.run("UPDATE webhook_deliveries SET status = 'delivered' WHERE id = ?", [recent!.id])
  // Three of the four (and their events) are a month old; the fourth is recent.
  const old = new Date(Date.now() - 31 * 86_400_000).toISOString()
  await sql.run('UPDATE webhook_deliveries SET created_at = ? WHERE id <> ?', [old, recent!.id])
  await sql.run('UPDATE events SET at = ? WHERE id <> ?', [old, recent!.eventId])
  // One old event not fanned out yet (a replica was down): kept until it is.
  await sql.run("INSERT INTO events (type, data, at, fanned_out) VALUES ('scan.finished', '{}', ?, 0)", [old])

  const pruned = await store.webhooks.prune(new Date(Date.now() - 30 * 86_400_000).toISOString())
  t.same(pruned, { events: 3, deliveries: 2 }, 'the old events fanned out; the delivered and the failed deliveries')
  const left = (await store.webhooks.deliveries(hook.id, 10)).items.map((d) => d.id).sort((x, y) => x - y)
  t.same(left, [pending!.id, recent!.id], 'a pending delivery stays, however old; a recent one stays')
  const events = await sql.all<{ type: string; fanned_out: number }>('SELECT type, fanned_out FROM events ORDER BY id')
  t.same(events.map((e) => [e.type, e.fanned_out]), [['leak.created', 1], ['scan.finished', 0]])
})

/**
 * Webhooks end to end, with real parts: the real control-plane process (killed with SIGKILL in one
 * test) and a real HTTP receiver that checks each signature with the code docs/webhooks.md gives.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { Rng } from '../detect/corpus/random.js'
import { EVENT_TYPES } from '../store/events.js'
import { generateKey } from '../store/keys.js'
import { openTestStore, TEST_STORE, tempDir, waitFor, type Teardown } from './harness.js'
import { request, spawnPlane, type PlaneProcess } from './process.js'
import { startReceiver, type Receiver } from './webhook-receiver.js'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
const rng = new Rng(20261202)
/** A token made now (nothing credential-like is written in this file). */
const token = (): string => `ghp_${rng.chars(36, ALPHABET)}`

interface Plane {
  proc: PlaneProcess
  dataDir: string
  admin: string
  node: string
}

/** The env of a plane whose deliveries go fast (short timeout and retries, frequent passes) and may reach loopback. */
function planeEnv(dataDir: string, admin: string, node: string, webhooks: Record<string, unknown> = {}): Record<string, string> {
  return {
    LEAKGATE_DATA_DIR: dataDir, LEAKGATE_ADMIN_KEY: admin, LEAKGATE_NODE_KEY: node, LEAKGATE_LOG_LEVEL: 'debug',
    LEAKGATE_NODE_STALE_SECONDS: '2', LEAKGATE_PUBLIC_URL: 'https://leakgate.example.com',
    LEAKGATE_WEBHOOKS: JSON.stringify({ allowPrivateTargets: true, timeoutSeconds: 1, retryBaseSeconds: 0.2, pollMilliseconds: 100, ...webhooks }),
  }
}

async function startPlane(t: Teardown, webhooks: Record<string, unknown> = {}, dataDir = tempDir(t)): Promise<Plane> {
  const admin = generateKey()
  const node = generateKey()
  return { proc: await spawnPlane(t, planeEnv(dataDir, admin, node, webhooks)), dataDir, admin, node }
}

async function addEndpoint(plane: Plane, receiver: Receiver, events: readonly string[] = EVENT_TYPES): Promise<{ id: number; secret: string }> {
  const res = await request(`${plane.proc.url}/v1/webhooks`, plane.admin, 'POST', { url: receiver.url, events })
  if (res.status !== 201) throw new Error(`POST /v1/webhooks answered ${res.status}: ${res.bytes.toString()}`)
  const hook = res.json() as { id: number; secret: string }
  receiver.secrets.push(hook.secret)
  return hook
}

interface Delivery { id: number; eventId: number; eventType: string; status: string; attempts: number; responseCode: number | null; lastError: string | null }

async function deliveries(plane: Plane, hookId: number): Promise<{ items: Delivery[]; bytes: Buffer }> {
  const res = await request(`${plane.proc.url}/v1/webhooks/${hookId}/deliveries?limit=200`, plane.admin)
  return { items: (res.json() as { items: Delivery[] }).items, bytes: res.bytes }
}

t.test('every event type the control plane emits is delivered once, signed, and carries no raw token', async (t) => {
  const receiver = await startReceiver(t)
  const plane = await startPlane(t)
  const hook = await addEndpoint(plane, receiver)
  const planted = token()

  const created = await request(`${plane.proc.url}/v1/leaks`, plane.admin, 'POST', { tokens: [{ value: planted }], kind: 'github_pat', location: { repo: 'acme/api', path: '.env' } })
  t.equal(created.status, 201)
  const leak = created.json() as { id: number; tokens: { sha256: string; preview: string }[] }
  t.equal((await request(`${plane.proc.url}/v1/leaks/${leak.id}`, plane.admin, 'PATCH', { action: 'block' })).status, 200)
  // A decision that changes nothing announces nothing.
  t.equal((await request(`${plane.proc.url}/v1/leaks/${leak.id}`, plane.admin, 'PATCH', { action: 'block' })).status, 200)
  t.equal((await request(`${plane.proc.url}/v1/nodes/heartbeat`, plane.node, 'POST', { nodeId: 'edge-1' })).status, 204)
  const sighting = { leakId: leak.id, sha256: leak.tokens[0]?.sha256, at: new Date().toISOString(), verdict: 'block' }
  // Two batches from one node within the interval: the first is the node's first sighting, the second is quiet.
  for (let i = 0; i < 2; i++) {
    t.equal((await request(`${plane.proc.url}/v1/sightings`, plane.node, 'POST', { nodeId: 'edge-1', sightings: [sighting, sighting] })).status, 202)
  }
  const pushed = await request(`${plane.proc.url}/v1/scans`, plane.admin, 'POST', { source: { type: 'dir', path: '/srv' }, findings: [] })
  t.equal(pushed.status, 202)
  // The revocation loop: an operator asks the issuer to rotate, the issuer (its own key) confirms.
  t.equal((await request(`${plane.proc.url}/v1/leaks/${leak.id}/request-rotation`, plane.admin, 'POST', { comment: 'please rotate' })).status, 200)
  const issuer = generateKey()
  const store = await openTestStore(t, plane.dataDir)
  await store.keys.add(issuer, 'issuer', 'the issuer of the test tokens')
  await store.close()
  t.equal((await request(`${plane.proc.url}/v1/leaks/${leak.id}/rotated`, issuer, 'POST', { comment: 'revoked' })).status, 200)

  // The sighting made the leak high (seen by a node): leak.risk_changed.
  const emitted = ['leak.created', 'leak.decided', 'leak.sighted', 'leak.risk_changed', 'leak.rotation_requested', 'leak.rotated', 'scan.finished', 'node.stale']
  await waitFor('a delivery of each event type', () => emitted.every((type) => receiver.accepted().some((b) => b.type === type)), 30_000)
  // Time for a duplicate to show if there were one (deliveries are looked at every 100 ms).
  await new Promise((r) => setTimeout(r, 1500))

  const accepted = receiver.accepted()
  t.equal(receiver.received.length, accepted.length, 'every request was signed and accepted the first time')
  t.same(accepted.map((b) => b.type).sort(), [...emitted].sort(), 'each event once, no other')
  t.equal(new Set(accepted.map((b) => b.id)).size, accepted.length, 'no event twice')
  const first = receiver.received[0]!
  t.equal(first.headers['content-type'], 'application/json')
  t.match(String(first.headers['leakgate-signature']), /^t=\d+,v1=[0-9a-f]{64}$/)

  const byType = new Map(accepted.map((b) => [b.type as string, b]))
  const createdEvent = byType.get('leak.created') as { leak: Record<string, unknown>; url: string }
  t.match(createdEvent.leak, {
    id: leak.id, title: String, source: 'manual', kind: 'github_pat', location: { repo: 'acme/api', path: '.env' },
    risk: String, action: 'monitor', status: 'open', tokens: [{ sha256: leak.tokens[0]?.sha256, preview: leak.tokens[0]?.preview }], tokenCount: 1,
  })
  t.equal(createdEvent.url, `https://leakgate.example.com/#/leaks/${leak.id}`)
  t.match(byType.get('leak.decided'), { leak: { id: leak.id, action: 'block' }, data: { from: { action: 'monitor' }, to: { action: 'block' } } })
  t.match(byType.get('leak.sighted'), { leak: { id: leak.id }, data: { nodeId: 'edge-1', firstByNode: true, hits: 2 } })
  t.match(byType.get('leak.risk_changed'), { leak: { id: leak.id, risk: 'high' }, data: { from: { risk: 'medium' }, to: { risk: 'high' }, cause: 'sighting' } })
  t.match(byType.get('leak.rotation_requested'), { leak: { id: leak.id, status: 'open' }, data: { tokens: [{ sha256: leak.tokens[0]?.sha256 }], comment: 'please rotate' } })
  t.match(byType.get('leak.rotated'), { leak: { id: leak.id, status: 'closed' }, data: { comment: 'revoked' } })
  t.match(byType.get('scan.finished'), { data: { scan: { status: 'done', source: { type: 'dir' } } } })
  t.match(byType.get('node.stale'), { data: { node: { id: 'edge-1' } }, url: 'https://leakgate.example.com/#/nodes' })

  const recorded = await deliveries(plane, hook.id)
  t.equal(recorded.items.length, emitted.length)
  t.ok(recorded.items.every((d) => d.status === 'delivered' && d.attempts === 1 && d.responseCode === 200), 'each recorded delivered at the first attempt')

  const metrics = await request(`${plane.proc.url}/metrics`, plane.admin)
  t.match(metrics.bytes.toString(), new RegExp(`leakgate_cp_webhook_deliveries_total\\{outcome="delivered"\\} ${emitted.length}`))
  t.match(metrics.bytes.toString(), /leakgate_cp_webhook_queue_depth 0/)

  for (const r of receiver.received) t.notOk(r.body.includes(planted), `delivery ${String(r.headers['leakgate-delivery'])} holds no raw token`)
  t.notOk(recorded.bytes.includes(planted), 'nor the delivery records')
  await plane.proc.kill('SIGKILL')
  t.notOk(plane.proc.output().includes(planted), 'nor the log')
  if (TEST_STORE === 'sqlite') {
    for (const f of readdirSync(plane.dataDir)) {
      if (f.startsWith('leakgate.db')) t.notOk(readFileSync(join(plane.dataDir, f)).includes(planted), `nor ${f}`)
    }
  }
})

t.test('a delivery answered 500, then not answered in time, is retried until it is accepted', async (t) => {
  const receiver = await startReceiver(t)
  receiver.answer = (_body, i) => (i === 0 ? 500 : i === 1 ? 'hang' : 200)
  const plane = await startPlane(t)
  const hook = await addEndpoint(plane, receiver, ['leak.created'])
  t.equal((await request(`${plane.proc.url}/v1/leaks`, plane.admin, 'POST', { tokens: [{ value: token() }] })).status, 201)

  await waitFor('the third attempt accepted', () => receiver.accepted().length === 1, 30_000)
  t.same(receiver.received.map((r) => r.answer), [500, 'hang', 200])
  t.equal(new Set(receiver.received.map((r) => JSON.parse(r.body).id)).size, 1, 'the same event each time')
  const [delivery] = (await waitFor('the delivery recorded', async () => {
    const { items } = await deliveries(plane, hook.id)
    return items[0]?.status === 'delivered' ? items : undefined
  }))
  t.match(delivery, { status: 'delivered', attempts: 3, responseCode: 200 })
  const metrics = (await request(`${plane.proc.url}/metrics`, plane.admin)).bytes.toString()
  t.match(metrics, /leakgate_cp_webhook_deliveries_total\{outcome="retrying"\} 2/)
})

t.test('a delivery under way when the control plane is killed (-9) is delivered after it restarts', async (t) => {
  const receiver = await startReceiver(t)
  receiver.answer = () => 'hang'
  // A long timeout: the attempt is still under way when the process dies.
  const webhooks = { timeoutSeconds: 5 }
  const dataDir = tempDir(t)
  const first = await startPlane(t, webhooks, dataDir)
  await addEndpoint(first, receiver, ['leak.created'])
  const created = await request(`${first.proc.url}/v1/leaks`, first.admin, 'POST', { tokens: [{ value: token() }] })
  t.equal(created.status, 201)
  await waitFor('the attempt to reach the receiver', () => receiver.received.length === 1, 20_000)
  await first.proc.kill('SIGKILL')

  receiver.answer = () => 200
  // The lease of the dead process's attempt (twice the timeout plus 5 s) must end before another takes it:
  // restarted with a short timeout, the new process still honours the lease the old one wrote.
  const second = await startPlane(t, { timeoutSeconds: 1 }, dataDir)
  await waitFor('the delivery after the restart', () => receiver.accepted().length === 1, 90_000)
  t.equal(receiver.accepted()[0]?.type, 'leak.created')
  t.equal(receiver.accepted()[0]?.id, receiver.received[0] === undefined ? undefined : JSON.parse(receiver.received[0].body).id, 'the same event')
  const hooks = (await request(`${second.proc.url}/v1/webhooks`, second.admin)).json() as { items: { id: number }[] }
  const { items } = await waitFor('the delivery recorded', async () => {
    const d = await deliveries(second, hooks.items[0]!.id)
    return d.items[0]?.status === 'delivered' ? d : undefined
  })
  t.equal(items.length, 1, 'one delivery')
  t.match(items[0], { status: 'delivered', attempts: 2, responseCode: 200 })
})

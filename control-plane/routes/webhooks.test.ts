import t from 'tap'
import { Rng } from '../detect/corpus/random.js'
import { EVENT_TYPES } from '../store/events.js'
import { startPlane, waitFor, type TestPlane } from '../test/harness.js'
import { startReceiver, type Receiver } from '../test/webhook-receiver.js'

const rng = new Rng(7)
const token = (): string => `glpat-${rng.chars(20, 'abcdefghijklmnopqrstuvwxyz0123456789')}`
const FAST = { allowPrivateTargets: true, timeoutSeconds: 1, retryBaseSeconds: 0.1, pollMilliseconds: 50 }

async function addLeak(plane: TestPlane): Promise<number> {
  const res = await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: token() }] })
  return (res.json() as { id: number }).id
}

async function addHook(plane: TestPlane, receiver: Receiver, body: Record<string, unknown> = {}): Promise<{ id: number; secret: string }> {
  const res = await plane.call('POST', '/v1/webhooks', plane.keys.admin, { url: receiver.url, events: ['leak.created'], ...body })
  if (res.statusCode !== 201) throw new Error(res.body)
  return res.json() as { id: number; secret: string }
}

t.test('webhook routes are for admins only', async (t) => {
  const plane = await startPlane(t)
  for (const [method, url] of [['GET', '/v1/webhooks'], ['POST', '/v1/webhooks'], ['GET', '/v1/webhooks/1'], ['PATCH', '/v1/webhooks/1'], ['DELETE', '/v1/webhooks/1'],
    ['POST', '/v1/webhooks/1/rotate-secret'], ['GET', '/v1/webhooks/1/deliveries'], ['POST', '/v1/webhooks/deliveries/1/redeliver']] as const) {
    t.equal((await plane.call(method, url, plane.keys.analyst, method === 'GET' || method === 'DELETE' ? undefined : {})).statusCode, 403, `${method} ${url} refuses an analyst`)
    t.equal((await plane.call(method, url)).statusCode, 401, `${method} ${url} refuses no key`)
  }
})

t.test('a bad endpoint gets a clear 400 and nothing is made', async (t) => {
  const plane = await startPlane(t)
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ url: 'ftp://example.com/x', events: ['leak.created'] }, /https or http/],
    [{ url: 'not a url', events: ['leak.created'] }, /not a URL/],
    [{ url: 'https://user:pw@example.com/x', events: ['leak.created'] }, /user name or password/],
    [{ url: 'http://127.0.0.1:9/x', events: ['leak.created'] }, /allowPrivateTargets/],
    [{ url: 'http://[::1]:9/x', events: ['leak.created'] }, /allowPrivateTargets/],
    [{ url: 'http://10.1.2.3/x', events: ['leak.created'] }, /allowPrivateTargets/],
    [{ url: 'http://localhost:9/x', events: ['leak.created'] }, /allowPrivateTargets/],
    [{ url: 'https://example.com/x', events: [] }, /events/],
    [{ url: 'https://example.com/x', events: ['leak.exploded'] }, /events/],
    [{ url: 'https://example.com/x', events: ['leak.created'], format: 'xml' }, /format/],
    [{ url: 'https://example.com/x' }, /events/],
  ]
  for (const [body, message] of cases) {
    const res = await plane.call('POST', '/v1/webhooks', plane.keys.admin, body)
    t.equal(res.statusCode, 400, JSON.stringify(body))
    t.match(res.json().detail, message)
  }
  t.same((await plane.call('GET', '/v1/webhooks', plane.keys.admin)).json(), { items: [] }, 'nothing was made')
  const made = await plane.call('POST', '/v1/webhooks', plane.keys.admin, { url: 'https://example.com/x', events: ['leak.created'] })
  t.equal(made.statusCode, 201)
  const patched = await plane.call('PATCH', `/v1/webhooks/${made.json().id}`, plane.keys.admin, { url: 'http://192.168.1.1/' })
  t.equal(patched.statusCode, 400)
  t.equal((await plane.call('GET', `/v1/webhooks/${made.json().id}`, plane.keys.admin)).json().url, 'https://example.com/x', 'the refused change changed nothing')
  t.equal((await plane.call('GET', '/v1/webhooks/99', plane.keys.admin)).statusCode, 404)
})

t.test('the secret is shown once; a rotated secret keeps signing beside the new one during the overlap', async (t) => {
  const receiver = await startReceiver(t)
  const plane = await startPlane(t, { webhooks: FAST })
  const hook = await addHook(plane, receiver)
  t.match(hook.secret, /^whsec_[A-Za-z0-9_-]{43}$/)
  const listed = (await plane.call('GET', '/v1/webhooks', plane.keys.admin)).body
  const one = (await plane.call('GET', `/v1/webhooks/${hook.id}`, plane.keys.admin)).body
  t.notOk(listed.includes(hook.secret) || one.includes(hook.secret) || listed.includes('secret"'), 'never answered again')

  const rotated = (await plane.call('POST', `/v1/webhooks/${hook.id}/rotate-secret`, plane.keys.admin, { overlapSeconds: 3600 })).json() as { secret: string; previousSecretExpiresAt: string }
  t.not(rotated.secret, hook.secret)
  t.ok(Date.parse(rotated.previousSecretExpiresAt) > Date.now())
  // A receiver that knows only the old secret, then one that knows only the new: both accept.
  receiver.secrets = [hook.secret]
  await addLeak(plane)
  await waitFor('the delivery', () => receiver.received.length === 1)
  t.equal(receiver.received[0]?.verified, true, 'the old secret still verifies')
  t.equal(String(receiver.received[0]?.headers['leakgate-signature']).match(/v1=/g)?.length, 2, 'two signatures during the overlap')
  receiver.secrets = [rotated.secret]
  await addLeak(plane)
  await waitFor('the second delivery', () => receiver.received.length === 2)
  t.equal(receiver.received[1]?.verified, true, 'the new secret verifies')

  // Without an overlap, the old secret stops signing at once.
  const again = (await plane.call('POST', `/v1/webhooks/${hook.id}/rotate-secret`, plane.keys.admin, { overlapSeconds: 0 })).json() as { secret: string; previousSecretExpiresAt: string | null }
  t.equal(again.previousSecretExpiresAt, null)
  receiver.secrets = [rotated.secret]
  await addLeak(plane)
  await waitFor('the third delivery', () => receiver.received.length >= 3)
  t.equal(receiver.received[2]?.verified, false, 'the replaced secret no longer verifies')
  t.equal(String(receiver.received[2]?.headers['leakgate-signature']).match(/v1=/g)?.length, 1)
  // No body: the default overlap, a day.
  const byDefault = await plane.call('POST', `/v1/webhooks/${hook.id}/rotate-secret`, plane.keys.admin)
  t.equal(byDefault.statusCode, 200, byDefault.body)
  t.ok(Math.abs(Date.parse(byDefault.json().previousSecretExpiresAt) - Date.now() - 86_400_000) < 60_000)
  t.equal((await plane.call('POST', '/v1/webhooks/99/rotate-secret', plane.keys.admin, {})).statusCode, 404)
})

t.test('a failed delivery is redelivered on request, and an endpoint subscribed elsewhere gets nothing', async (t) => {
  const receiver = await startReceiver(t)
  receiver.answer = () => 410
  const plane = await startPlane(t, { webhooks: { ...FAST, giveUpSeconds: 1 } })
  const hook = await addHook(plane, receiver)
  const quiet = await addHook(plane, receiver, { events: ['scan.finished'] })
  receiver.secrets = [hook.secret]
  await addLeak(plane)
  const failed = await waitFor('the delivery given up', async () => {
    const items = (await plane.call('GET', `/v1/webhooks/${hook.id}/deliveries`, plane.keys.admin)).json().items as Array<{ id: number; status: string; lastError: string; responseCode: number }>
    return items[0]?.status === 'failed' ? items[0] : undefined
  }, 10_000)
  t.equal(failed.responseCode, 410)
  t.equal(failed.lastError, 'the endpoint answered 410')
  receiver.answer = () => 204
  const redelivered = await plane.call('POST', `/v1/webhooks/deliveries/${failed.id}/redeliver`, plane.keys.admin)
  t.equal(redelivered.statusCode, 202)
  t.equal(redelivered.json().status, 'pending')
  await waitFor('the redelivery accepted', () => receiver.accepted().length === 1)
  t.same((await plane.call('GET', `/v1/webhooks/${quiet.id}/deliveries`, plane.keys.admin)).json().items, [], 'no delivery to an endpoint not subscribed')
  t.equal((await plane.call('POST', '/v1/webhooks/deliveries/999/redeliver', plane.keys.admin)).statusCode, 404)
})

t.test('a Slack endpoint gets text and blocks, with the console link and previews only', async (t) => {
  const receiver = await startReceiver(t)
  const plane = await startPlane(t, { webhooks: FAST, publicUrl: 'https://lg.example.com/' })
  const hook = await addHook(plane, receiver, { format: 'slack', events: [...EVENT_TYPES] })
  receiver.secrets = [hook.secret]
  const id = await addLeak(plane)
  const [message] = await waitFor('the message', () => (receiver.accepted().length === 1 ? receiver.accepted() : undefined))
  const body = message as { text: string; blocks: Array<{ type: string }> }
  t.match(body.text, new RegExp(`leak\\.created: leak ${id} .*https://lg\\.example\\.com/#/leaks/${id}`))
  t.same(body.blocks.map((b) => b.type), ['section', 'context'])
  t.match(JSON.stringify(body.blocks), `<https://lg.example.com/#/leaks/${id}|Open in the console>`)
})

t.test('a disabled endpoint gets nothing; a deleted one goes with its deliveries', async (t) => {
  const receiver = await startReceiver(t)
  const plane = await startPlane(t, { webhooks: FAST })
  const hook = await addHook(plane, receiver, { enabled: false })
  receiver.secrets = [hook.secret]
  await addLeak(plane)
  await new Promise((r) => setTimeout(r, 500))
  t.equal(receiver.received.length, 0)
  const enabled = await plane.call('PATCH', `/v1/webhooks/${hook.id}`, plane.keys.admin, { enabled: true, description: 'on call' })
  t.match(enabled.json(), { enabled: true, description: 'on call', events: ['leak.created'] })
  await addLeak(plane)
  await waitFor('the delivery once enabled', () => receiver.accepted().length === 1)
  t.equal((await plane.call('DELETE', `/v1/webhooks/${hook.id}`, plane.keys.admin)).statusCode, 204)
  t.equal((await plane.call('GET', `/v1/webhooks/${hook.id}/deliveries`, plane.keys.admin)).statusCode, 404)
  t.equal((await plane.call('DELETE', `/v1/webhooks/${hook.id}`, plane.keys.admin)).statusCode, 404)
})

t.test('an endpoint that never answers slows neither the API nor the sync', async (t) => {
  const receiver = await startReceiver(t)
  receiver.answer = () => 'hang'
  const plane = await startPlane(t, { webhooks: { ...FAST, timeoutSeconds: 5, concurrency: 2 } })
  const hook = await addHook(plane, receiver)
  receiver.secrets = [hook.secret]
  await addLeak(plane)
  await waitFor('an attempt held open by the endpoint', () => receiver.received.length >= 1)
  const slowest = { api: 0, sync: 0 }
  for (let i = 0; i < 10; i++) {
    let started = performance.now()
    t.equal((await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: token() }] })).statusCode, 201)
    slowest.api = Math.max(slowest.api, performance.now() - started)
    started = performance.now()
    t.equal((await plane.call('GET', '/v1/sync/changes?since=0', plane.keys.node)).statusCode, 200)
    slowest.sync = Math.max(slowest.sync, performance.now() - started)
  }
  t.ok(receiver.received.length <= 2, 'no more attempts at once than the concurrency')
  t.ok(slowest.api < 1000, `the slowest leak created in ${Math.round(slowest.api)} ms`)
  t.ok(slowest.sync < 1000, `the slowest changes answered in ${Math.round(slowest.sync)} ms`)
})

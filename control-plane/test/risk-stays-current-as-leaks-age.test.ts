/**
 * Risk that stays current: the control plane scores open leaks again on a schedule, so a level that
 * depends on time alone (an exposure ageing past 7 and 30 days) moves without any event touching the
 * leak, and each move is one `leak.risk_changed` event. Time is the app's injected clock, moved by the
 * test, not waited for. Levels moved by sightings and decisions record the same event.
 */
import t from 'tap'
import { ALPHA, Rng } from '../detect/corpus/random.js'
import { RiskSchedule } from '../risk-schedule.js'
import { eventsAfter, type StoredEvent } from '../store/events.js'
import { keyIdOf } from '../store/keys.js'
import type { LeakDetail } from '../store/leaks.js'
import { startPlane, storeSql, TEST_STORE, waitFor, type TestPlane } from './harness.js'

const rng = new Rng(0x61676564)
const DAY = 86_400_000

/** A leak of unknown kind in a public source, still present: 15 + 30 + 20 = 65 points (medium); 5 more at 8 days make it high. */
async function githubLeak(plane: TestPlane, body: Record<string, unknown> = {}): Promise<LeakDetail> {
  const res = await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: `tok_${rng.chars(40, ALPHA.base62)}` }], source: 'github', ...body })
  if (res.statusCode !== 201) throw new Error(`create answered ${res.statusCode}: ${res.body}`)
  return res.json() as LeakDetail
}

async function leak(plane: TestPlane, id: number): Promise<LeakDetail> {
  return (await plane.call('GET', `/v1/leaks/${id}`, plane.keys.analyst)).json() as LeakDetail
}

function riskEvents(events: StoredEvent[]): StoredEvent[] {
  return events.filter((e) => e.type === 'leak.risk_changed')
}

t.test('the scheduled recompute moves an ageing leak\'s level, records one risk_changed, and leaves overridden and closed leaks alone', async (t) => {
  let now = new Date()
  const plane = await startPlane(t, { riskRecomputeSeconds: 3600 }, { risk: { clock: () => now, batchSize: 2 } })
  const sql = storeSql(t, plane.store)
  const ageing = await githubLeak(plane)
  t.equal(ageing.risk, 'medium')
  t.equal(ageing.riskFactors.reduce((sum, f) => sum + f.points, 0), 65)
  const overridden = await githubLeak(plane, { risk: 'low' })
  const closed = await githubLeak(plane)
  await plane.call('PATCH', `/v1/leaks/${closed.id}`, plane.keys.admin, { status: 'closed' })
  for (let i = 0; i < 3; i++) await githubLeak(plane, { kind: 'stripe_test_key' })
  const before = await eventsAfter(sql, 0, 1000)

  const first = await plane.app.riskSchedule.runNow()
  t.same(first && { scanned: first.scanned, changed: first.changed, batches: first.batches }, { scanned: 4, changed: 0, batches: 3 }, 'the four open, unoverridden leaks, two a batch')
  t.equal(await plane.app.riskSchedule.runNow(), undefined, 'within the interval, no second run')

  now = new Date(now.getTime() + 8 * DAY + 60_000)
  const aged = await plane.app.riskSchedule.runNow()
  t.equal(aged?.changed, 1, 'one level moved')
  const after = await leak(plane, ageing.id)
  t.equal(after.risk, 'high', 'eight days on, the exposure\'s age makes it high')
  t.ok(after.riskFactors.some((f) => f.factor === 'aging_exposure' && f.points === 5))
  const events = riskEvents((await eventsAfter(sql, 0, 1000)).slice(before.length))
  t.equal(events.length, 1, 'one risk_changed event')
  t.equal(events[0]?.leakId, ageing.id)
  t.same(events[0]?.data.from, { risk: 'medium', score: 65 })
  t.same(events[0]?.data.to, { risk: 'high', score: 70 })
  t.equal(events[0]?.data.cause, 'schedule')
  t.same(events[0]?.data.factors, after.riskFactors, 'with the factors that made it')

  const untouched = await leak(plane, overridden.id)
  t.equal(untouched.risk, 'low', 'an operator\'s level stays')
  t.same(untouched.riskFactors, overridden.riskFactors, 'and its factors are not recomputed')
  t.same((await leak(plane, closed.id)).riskFactors, closed.riskFactors, 'a closed leak is left as it was')

  // A day later the detail moves (9 days), the level does not: no event.
  now = new Date(now.getTime() + DAY)
  t.equal((await plane.app.riskSchedule.runNow())?.changed, 0)
  t.match((await leak(plane, ageing.id)).riskFactors.find((f) => f.factor === 'aging_exposure')?.detail, /9 days/)
  t.equal(riskEvents((await eventsAfter(sql, 0, 1000)).slice(before.length)).length, 1, 'still one event')

  // The lease is in the database: another control plane on it (here, a second schedule) finds the run taken.
  const replica = new RiskSchedule(plane.store, { intervalSeconds: 3600, clock: () => now })
  t.equal(await replica.runNow(), undefined, 'a replica does not run it again within the interval')
  await replica.close()

  const metrics = (await plane.call('GET', '/metrics')).body
  t.match(metrics, /leakgate_cp_risk_recomputes_total\{result="ok"\} 3/)
  t.match(metrics, /leakgate_cp_risk_level_changes_total 1/)
})

const replicasOnly = { skip: TEST_STORE === 'postgres' ? false : 'replicas share a PostgreSQL database (LEAKGATE_TEST_STORE=postgres); a SQLite file has one control plane' }

t.test('two control planes on one PostgreSQL database, asked at the same moment, run the recompute once between them', replicasOnly, async (t) => {
  const later = new Date(Date.now() + 9 * DAY)
  const first = await startPlane(t, { riskRecomputeSeconds: 3600 }, { risk: { clock: () => later } })
  const second = await startPlane(t, { riskRecomputeSeconds: 3600, dataDir: first.dir }, { risk: { clock: () => later } })
  const ageing = await githubLeak(first)
  const runs = await Promise.all([first.app.riskSchedule.runNow(), second.app.riskSchedule.runNow()])
  t.equal(runs.filter((r) => r !== undefined).length, 1, 'one of them ran it')
  t.equal((await leak(second, ageing.id)).risk, 'high')
  t.equal(riskEvents(await eventsAfter(storeSql(t, first.store), 0, 1000)).length, 1, 'one event')
})

t.test('the timer runs the recompute by itself every riskRecomputeSeconds', async (t) => {
  const later = new Date(Date.now() + 32 * DAY)
  const plane = await startPlane(t, { riskRecomputeSeconds: 1 }, { risk: { clock: () => later } })
  const sql = storeSql(t, plane.store)
  const ageing = await githubLeak(plane)
  await waitFor('the timer\'s run to make it high', async () => (await leak(plane, ageing.id)).risk === 'high', 10_000)
  const events = riskEvents(await eventsAfter(sql, 0, 1000))
  t.equal(events.length, 1, 'one event, though the timer ticks every second (the clock stands still: one run per interval)')
  t.same(events[0]?.data.to, { risk: 'high', score: 75 })
})

t.test('riskRecomputeSeconds 0 starts no timer', async (t) => {
  const later = new Date(Date.now() + 32 * DAY)
  const plane = await startPlane(t, { riskRecomputeSeconds: 0 }, { risk: { clock: () => later } })
  const ageing = await githubLeak(plane)
  await new Promise((resolve) => setTimeout(resolve, 1500))
  t.equal((await leak(plane, ageing.id)).risk, 'medium', 'nothing ran')
})

t.test('a leak not seen in traffic for 30 days moves down a level on the schedule, with one risk_changed', async (t) => {
  let now = new Date()
  const plane = await startPlane(t, { riskRecomputeSeconds: 3600 }, { risk: { clock: () => now } })
  const sql = storeSql(t, plane.store)
  // A test key in a public source, still present: 5 + 30 + 20 = 55 (medium); seen by one node: high.
  const seen = await githubLeak(plane, { kind: 'stripe_test_key' })
  await plane.call('POST', '/v1/sightings', plane.keys.node, { nodeId: 'edge-1', sightings: [{ leakId: seen.id, at: new Date().toISOString() }] })
  t.equal((await leak(plane, seen.id)).risk, 'high', 'seen: high')
  const before = (await eventsAfter(sql, 0, 1000)).length
  now = new Date(now.getTime() + 31 * DAY)
  t.equal((await plane.app.riskSchedule.runNow())?.changed, 1, 'one level moved')
  const after = await leak(plane, seen.id)
  t.equal(after.risk, 'medium', 'a month without a sighting: one level less')
  t.match(after.riskFactors.find((f) => f.factor === 'seen_in_traffic')?.detail, /none in the last 30 days/)
  const events = riskEvents((await eventsAfter(sql, 0, 1000)).slice(before))
  t.equal(events.length, 1)
  t.match(events[0]?.data, { from: { risk: 'high' }, to: { risk: 'medium' }, cause: 'schedule' })
})

t.test('levels moved by a sighting or by an operator record risk_changed too, with their cause', async (t) => {
  const plane = await startPlane(t, { riskRecomputeSeconds: 0 })
  const sql = storeSql(t, plane.store)
  const seen = await githubLeak(plane)
  const res = await plane.call('POST', '/v1/sightings', plane.keys.node, { nodeId: 'edge-1', sightings: [{ leakId: seen.id, at: new Date().toISOString() }] })
  t.equal(res.statusCode, 202)
  t.equal((await leak(plane, seen.id)).risk, 'high', 'seen by one node: high')
  // A second sighting from the same node moves nothing: no second event.
  await plane.call('POST', '/v1/sightings', plane.keys.node, { nodeId: 'edge-1', sightings: [{ leakId: seen.id, at: new Date().toISOString() }] })
  let events = riskEvents(await eventsAfter(sql, 0, 1000))
  t.equal(events.length, 1)
  t.same(events[0]?.data.from, { risk: 'medium', score: 65 })
  t.same(events[0]?.data.to, { risk: 'high', score: 70 })
  t.equal(events[0]?.data.cause, 'sighting')

  t.equal((await plane.call('PATCH', `/v1/leaks/${seen.id}`, plane.keys.admin, { risk: 'critical', comment: 'production key' })).statusCode, 200)
  events = riskEvents(await eventsAfter(sql, 0, 1000))
  t.equal(events.length, 2)
  t.same(events[1]?.data.to, { risk: 'critical', score: 70 })
  t.equal(events[1]?.data.cause, 'decision')
  t.equal(events[1]?.data.by, keyIdOf(plane.keys.admin))
  t.equal((await plane.call('PATCH', `/v1/leaks/${seen.id}`, plane.keys.admin, { action: 'block' })).statusCode, 200)
  t.equal(riskEvents(await eventsAfter(sql, 0, 1000)).length, 2, 'a decision that leaves the level records none')
})

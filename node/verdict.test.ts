import t from 'tap'
import { compilePlan } from './credentials.js'
import { DEFAULT_CREDENTIAL_PLACES } from './config.js'
import { IndexHolder, judge } from './verdict.js'
import { indexOf } from './test/helpers.js'

const plan = compilePlan(DEFAULT_CREDENTIAL_PLACES, { maxCredentials: 4, maxCredentialLength: 100 })
const planted = [
  { token: 'blocked-token-1', action: 'block' as const, leakId: 1 },
  { token: 'blocked-token-2', action: 'block' as const, leakId: 2 },
  { token: 'monitor-token-3', action: 'monitor' as const, leakId: 3 },
  { token: 'monitor-token-4', action: 'monitor' as const, leakId: 4 },
]

t.test('verdicts', async (t) => {
  const holder = new IndexHolder()
  t.equal(judge(plan, holder, { authorization: 'Bearer blocked-token-1' }, '/').kind, 'no-index', 'no index: no verdict on credentials')
  holder.swap(indexOf(planted))
  t.match(judge(plan, holder, {}, '/'), { kind: 'pass', checked: 0 })
  t.match(judge(plan, holder, { authorization: 'Bearer clean' }, '/?key=clean2'), { kind: 'pass', checked: 2, hits: [] })
  t.match(judge(plan, holder, { 'x-api-key': 'monitor-token-3' }, '/?key=monitor-token-4&token=monitor-token-3'), { kind: 'monitor', monitorIds: '3, 4', leakId: 0 })
  const blocked = judge(plan, holder, { 'x-api-key': 'monitor-token-3' }, '/?key=blocked-token-2&token=blocked-token-1')
  t.match(blocked, { kind: 'block', leakId: 2 }, 'the first blocking credential names the leak')
  t.equal(blocked.hits.length, 3)
  t.equal(judge(plan, holder, {}, '/?key=a&key=b&key=c&key=d&key=e').kind, 'too-many')
  t.equal(judge(plan, holder, { 'x-api-key': 'z'.repeat(101) }, '/').kind, 'too-long')
})

t.test('the holder swaps whole and keeps its counters monotonic', async (t) => {
  const holder = new IndexHolder(indexOf(planted, 1))
  judge(plan, holder, { authorization: 'Bearer blocked-token-1' }, '/')
  judge(plan, holder, { authorization: 'Bearer blocked-token-1' }, '/')
  t.match(holder.stats(), { cacheMisses: 1, cacheHits: 1 })
  holder.swap(indexOf([], 2))
  t.equal(holder.current?.revision, 2)
  t.equal(judge(plan, holder, { authorization: 'Bearer blocked-token-1' }, '/').kind, 'pass', 'the new index is in force')
  t.match(holder.stats(), { cacheMisses: 2, cacheHits: 1 }, 'counters of the old index are kept')
})

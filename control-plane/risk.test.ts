import t from 'tap'
import { assessRisk, kindSeverity, levelOf, withOverride } from './risk.js'

const now = new Date('2026-11-28T12:00:00Z')

t.test('live keys in public sources rank above test keys reported by hand', async (t) => {
  const live = assessRisk({ kind: 'github_pat', source: 'github', hits: 0, seenByNodes: 0, now })
  const test = assessRisk({ kind: 'stripe_test', source: 'manual', hits: 0, seenByNodes: 0, now })
  t.ok(live.score > test.score)
  t.equal(live.risk, 'high')
  t.equal(test.risk, 'low')
  t.same(live.factors.map((f) => f.factor), ['live_token', 'public_source', 'still_present'])
  t.equal(live.score, live.factors.reduce((s, f) => s + f.points, 0), 'the score is the sum of its factors')
})

t.test("a built-in kind is weighed by its rules' severity, another kind by its name", async (t) => {
  const factor = (kind: string): string | undefined => assessRisk({ kind, source: 'manual', hits: 0, seenByNodes: 0, now }).factors[0]?.factor
  t.equal(kindSeverity('github_pat'), 'critical')
  t.equal(factor('github_pat'), 'live_token', 'critical kind')
  t.equal(kindSeverity('stripe_secret_test'), 'low')
  t.equal(factor('stripe_secret_test'), 'test_token', 'low kind, though its name says stripe')
  t.equal(kindSeverity('slack_webhook'), 'medium')
  t.equal(factor('slack_webhook'), 'token_kind', 'medium kind, though its name says slack')
  t.equal(kindSeverity('acme_prod_key'), undefined)
  t.equal(factor('acme_prod_key'), 'live_token', 'unknown kind: by its name')
  t.equal(factor('acme_sandbox_key'), 'test_token')
  t.equal(factor('acme_key'), 'token_kind')
})

t.test('history only, age and git URLs', async (t) => {
  const present = assessRisk({ kind: 'aws_access_key', source: 'git', location: { url: 'https://example.com/r.git' }, hits: 0, seenByNodes: 0, now })
  const history = assessRisk({ kind: 'aws_access_key', source: 'git', location: { url: 'https://example.com/r.git' }, inHistoryOnly: true, hits: 0, seenByNodes: 0, now })
  t.ok(present.score > history.score)
  t.ok(present.factors.some((f) => f.factor === 'public_source'), 'a git URL over http is public')
  const local = assessRisk({ kind: 'aws_access_key', source: 'git', location: { url: '/srv/repo' }, hits: 0, seenByNodes: 0, now })
  t.ok(local.factors.some((f) => f.factor === 'private_source'))
  const old = assessRisk({ kind: 'x', source: 'manual', exposedAt: '2026-01-01T00:00:00Z', hits: 0, seenByNodes: 0, now })
  const week = assessRisk({ kind: 'x', source: 'manual', exposedAt: '2026-11-18T00:00:00Z', hits: 0, seenByNodes: 0, now })
  const fresh = assessRisk({ kind: 'x', source: 'manual', exposedAt: '2026-11-28T00:00:00Z', hits: 0, seenByNodes: 0, now })
  t.ok(old.score > week.score && week.score > fresh.score)
})

t.test('a leak seen in traffic by one node is high; by two nodes or more, critical', async (t) => {
  const one = assessRisk({ kind: 'stripe_test', source: 'manual', hits: 1, seenByNodes: 1, now })
  t.equal(one.risk, 'high')
  t.match(one.factors.at(-1), { factor: 'seen_in_traffic', detail: 'seen in 1 request at 1 node' })
  const burst = assessRisk({ kind: 'stripe_test', source: 'manual', hits: 5000, seenByNodes: 1, now })
  t.equal(burst.risk, 'high', 'a burst from one node is still one node\'s evidence')
  t.equal(burst.score, one.score)
  const two = assessRisk({ kind: 'stripe_test', source: 'manual', hits: 2, seenByNodes: 2, now })
  t.equal(two.risk, 'critical')
  t.ok(two.score >= 90)
  t.match(two.factors.at(-1), { factor: 'seen_in_traffic', detail: 'seen in 2 requests at 2 nodes' })
})

t.test('sightings older than 30 days weigh one level less, until the leak is seen again', async (t) => {
  const daysAgo = (d: number): string => new Date(now.getTime() - d * 86_400_000).toISOString()
  const recent = assessRisk({ kind: 'stripe_test', source: 'manual', hits: 3, seenByNodes: 1, lastSeenAt: daysAgo(2), now })
  t.equal(recent.risk, 'high', 'seen two days ago by one node: high')
  const quiet = assessRisk({ kind: 'stripe_test', source: 'manual', hits: 3, seenByNodes: 1, lastSeenAt: daysAgo(31), now })
  t.equal(quiet.risk, 'medium', 'nothing for 31 days: medium')
  t.match(quiet.factors.at(-1), { factor: 'seen_in_traffic', detail: 'seen in 3 requests at 1 node, none in the last 30 days' })
  const twoQuiet = assessRisk({ kind: 'stripe_test', source: 'manual', hits: 3, seenByNodes: 2, lastSeenAt: daysAgo(45), now })
  t.equal(twoQuiet.risk, 'high', 'two nodes, long ago: high, not critical')
  const live = assessRisk({ kind: 'github_pat', source: 'github', hits: 3, seenByNodes: 1, lastSeenAt: daysAgo(60), now })
  t.equal(live.risk, assessRisk({ kind: 'github_pat', source: 'github', hits: 0, seenByNodes: 0, now }).risk, 'never below what its other factors give')
})

t.test('levels and overrides', async (t) => {
  t.same([0, 44, 45, 69, 70, 89, 90].map(levelOf), ['low', 'low', 'medium', 'medium', 'high', 'high', 'critical'])
  const base = assessRisk({ kind: 'github_pat', source: 'github', hits: 0, seenByNodes: 0, now })
  const o = withOverride(base, 'low', 'key_1234abcd')
  t.equal(o.risk, 'low')
  t.equal(o.score, base.score)
  t.match(o.factors.at(-1), { factor: 'operator_override', points: 0, detail: 'set to low by key_1234abcd' })
})

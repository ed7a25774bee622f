/**
 * The risk model as README's "Risk model" writes it down, case by case: for each representative leak,
 * the factors it gets, their points, and the level. A change of a weight shows here, beside the text
 * that documents it.
 */
import t from 'tap'
import { assessRisk, ruleFormat, type RiskInput } from './risk.js'
import type { RiskLevel } from './config.js'

const now = new Date('2026-12-02T12:00:00Z')
const daysAgo = (d: number): string => new Date(now.getTime() - d * 86_400_000).toISOString()
const github = 'https://github.com/acme/api'

/** A case: what is known of a leak, then the factors (name: points) and the level expected. */
type Case = [name: string, input: Partial<RiskInput>, factors: string, level: RiskLevel]

const CASES: Case[] = [
  ['GitHub token (checksum) in public git history, no traffic', { kind: 'github_pat', source: 'git', location: { repoUrl: github }, inHistoryOnly: true, verifiedFormat: 'checksum' },
    'live_token:30 verified_format:10 public_source:30 history_only:10', 'high'],
  ['AWS key (prefix) in public git history, no traffic', { kind: 'aws_access_key', source: 'git', location: { repoUrl: github }, inHistoryOnly: true, verifiedFormat: 'prefix' },
    'live_token:30 verified_format:10 public_source:30 history_only:10', 'high'],
  ['GitHub token still in a GitHub repository', { kind: 'github_pat', source: 'github', verifiedFormat: 'checksum' },
    'live_token:30 verified_format:10 public_source:30 still_present:20', 'critical'],
  ['medium-severity prefix token in public history: lifted to high', { kind: 'slack_webhook', source: 'gitlab', inHistoryOnly: true, verifiedFormat: 'prefix' },
    'token_kind:15 verified_format:10 public_source:30 history_only:10 public_verified:5', 'high'],
  ['test key (prefix) in public history: lifted to high, it is still real', { kind: 'stripe_secret_test', source: 'github', inHistoryOnly: true, verifiedFormat: 'prefix' },
    'test_token:5 verified_format:10 public_source:30 history_only:10 public_verified:15', 'high'],
  ['GitHub token in a local repository\'s history', { kind: 'github_pat', source: 'git', location: { url: '/srv/repo' }, inHistoryOnly: true, verifiedFormat: 'checksum' },
    'live_token:30 verified_format:10 private_source:10 history_only:10', 'medium'],
  ['unverified value named like a secret, in a public repository', { kind: 'generic_secret', source: 'github' },
    'token_kind:15 public_source:30 still_present:20', 'medium'],
  ['hash reported by hand, kind unknown', { source: 'manual' },
    'unknown_kind:15 private_source:10 still_present:20', 'medium'],
  ['test key reported by hand', { kind: 'stripe_secret_test', source: 'manual' },
    'test_token:5 private_source:10 still_present:20', 'low'],
  ['test key reported by hand, 40 days old: its age makes it medium', { kind: 'stripe_secret_test', source: 'manual', exposedAt: daysAgo(40) },
    'test_token:5 private_source:10 still_present:20 old_exposure:10', 'medium'],
  ['live key reported by hand, 10 days old', { kind: 'aws_access_key', source: 'manual', exposedAt: daysAgo(10) },
    'live_token:30 private_source:10 still_present:20 aging_exposure:5', 'medium'],
  ['test key seen by one node', { kind: 'stripe_secret_test', source: 'manual', hits: 4, seenByNodes: 1 },
    'test_token:5 private_source:10 still_present:20 seen_in_traffic:35', 'high'],
  ['test key seen by two nodes', { kind: 'stripe_secret_test', source: 'manual', hits: 4, seenByNodes: 2 },
    'test_token:5 private_source:10 still_present:20 seen_in_traffic:55', 'critical'],
  ['test key seen by one node 40 days ago', { kind: 'stripe_secret_test', source: 'manual', hits: 4, seenByNodes: 1, lastSeenAt: daysAgo(40) },
    'test_token:5 private_source:10 still_present:20 seen_in_traffic:10', 'medium'],
]

for (const [name, input, factors, level] of CASES) {
  t.test(name, async (t) => {
    const assessed = assessRisk({ source: 'manual', hits: 0, seenByNodes: 0, exposedAt: now.toISOString(), now, ...input })
    t.equal(assessed.factors.map((f) => `${f.factor}:${f.points}`).join(' '), factors)
    t.equal(assessed.score, assessed.factors.reduce((sum, f) => sum + f.points, 0), 'the score is the sum of its factors')
    t.equal(assessed.risk, level)
  })
}

t.test('which built-in rules vouch for their format', async (t) => {
  t.equal(ruleFormat('github-pat'), 'checksum', 'GitHub classic tokens carry a checksum')
  t.equal(ruleFormat('npm-token'), 'checksum')
  t.equal(ruleFormat('aws-access-key-id'), 'prefix')
  t.equal(ruleFormat('gitlab-token'), 'prefix')
  t.equal(ruleFormat('github-pat-unverified'), undefined, 'a GitHub-shaped token whose checksum fails vouches for nothing')
  t.equal(ruleFormat('aws-secret-access-key'), undefined, 'an AWS secret key is 40 characters of anything')
  t.equal(ruleFormat('generic-api-key'), undefined)
})

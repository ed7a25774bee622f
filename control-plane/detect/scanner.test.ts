import t from 'tap'
import { builtinRules } from './rules.js'
import { scanText } from './scanner.js'
import { PROVIDER_TOKENS } from './corpus/tokens.js'
import { Rng } from './corpus/random.js'

const rules = builtinRules()
const rng = new Rng(11)

t.test('a huge one-line file with many near-misses is scanned to the end', async (t) => {
  const tok = PROVIDER_TOKENS.githubClassic!(rng).value
  // Every rule's trigger, over and over, never completed: BEGIN lines without END, URLs without
  // '@host', keywords without values, 'ey' prefixes without dots, long base64 runs.
  const unit = 'password=;-----BEGIN RSA PRIVATE KEY-----AAAA https://u:p/x eyJhbGciOiJIUzI1NiJ9 token:"" sk-ant- xoxb- AIza key- dapi SK '
  const filler = unit.repeat(Math.ceil(4_000_000 / unit.length))
  const text = `${filler}var t="${tok}";${'QUJD'.repeat(250_000)}`
  const found = scanText(text, { rules, path: 'bundle.min.js' })
  const hit = found.find((f) => f.value === tok)
  t.ok(hit, 'the token at the end is found')
  t.equal(hit?.line, 1)
  t.equal(hit?.column, filler.length + 8)
})

t.test('findings per text are capped', async (t) => {
  const text = Array.from({ length: 700 }, () => `k=${PROVIDER_TOKENS.githubClassic!(rng).value}`).join('\n')
  t.equal(scanText(text, { rules, path: 'x', maxFindings: 100 }).length, 100)
})

t.test('markers: a marked line and a file marked as fixtures are left out', async (t) => {
  const tok = PROVIDER_TOKENS.slackBot!(rng).value
  t.equal(scanText(`a=${tok}\n`, { rules, path: 'x' }).length, 1)
  t.same(scanText(`a=${tok} # gitleaks:allow\n`, { rules, path: 'x' }), [])
  t.same(scanText(`# leakgate: test-fixtures\na=${tok}\n`, { rules, path: 'x' }), [])
})

t.test('allowlist: paths, regexes, stopwords', async (t) => {
  const tok = PROVIDER_TOKENS.slackBot!(rng).value
  const text = `a=${tok}\n`
  t.same(scanText(text, { rules, path: 'docs/x', allowlist: { paths: [/^docs\//], regexes: [], stopwords: [] } }), [])
  t.same(scanText(text, { rules, path: 'x', allowlist: { paths: [], regexes: [/^xoxb-/], stopwords: [] } }), [])
  t.equal(scanText(text, { rules, path: 'x', allowlist: { paths: [], regexes: [], stopwords: ['nomatchword'] } }).length, 1)
})

t.test('columns count from 1 on every line; CRLF line ends', async (t) => {
  const tok = PROVIDER_TOKENS.npm!(rng).value
  const found = scanText(`a\r\nb\r\n${tok}\r\n`, { rules, path: 'x' })
  t.same(found.map((f) => [f.line, f.column]), [[3, 1]])
})

t.test('overlapping keywords do not hide each other ("auth inside "Authorization)', async (t) => {
  const found = scanText('curl -H "Authorization: token Zk8qW2mX9vL4pR7tY3nB6cF1hJ5dG0sA" https://api.internal/x', { rules, path: 'README.md' })
  t.same(found.map((f) => [f.rule.id, f.value]), [['http-credentials', 'Zk8qW2mX9vL4pR7tY3nB6cF1hJ5dG0sA']])
  const json = scanText('headers = {"Authorization": "Bearer Qm7xL2pW9zK4vR8tY3nB6cF1hJ5dG0sA"}', { rules, path: 'client.py' })
  t.same(json.map((f) => f.value), ['Qm7xL2pW9zK4vR8tY3nB6cF1hJ5dG0sA'])
})

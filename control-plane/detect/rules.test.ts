import t from 'tap'
import { fileURLToPath } from 'node:url'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadRulesFile, parseRules } from './rules.js'
import { scanText } from './scanner.js'
import { Rng, ALPHA } from './corpus/random.js'
import { tempDir } from './test/helpers.js'

const shipped = fileURLToPath(new URL('../../config/rules.toml', import.meta.url))

t.test('config/rules.toml loads and its acme_live_ rule finds an in-house key', async (t) => {
  const set = loadRulesFile(shipped)
  t.same(set.rules.map((r) => r.id), ['acme-live-key'])
  const key = `acme_live_${new Rng(1).chars(32, ALPHA.base62)}`
  const found = scanText(`ACME_KEY=${key}\n`, { rules: set.rules, allowlist: set.allowlist, path: 'app/.env' })
  t.same(found.map((f) => [f.rule.kind, f.value, f.line, f.column]), [['acme_live_key', key, 1, 10]])
  t.same(scanText('acme_live_00000000000000000000000000000000', { rules: set.rules, path: 'a' }), [], "the rule's allowlist")
  t.same(scanText(`k=${key}`, { rules: set.rules, allowlist: set.allowlist, path: 'vendor/testdata/x' }), [], 'the global path allowlist')
})

t.test('every problem is reported at once, each with its rule id, with code LEAKGATE_ERR_RULES', async (t) => {
  const text = `
[[rules]]
id = "bad-regex"
regex = '''acme_([0-9'''

[[rules]]
id = "no-regex"

[[rules]]
id = "bad-group"
regex = '''x(y)'''
secretGroup = 3

[[rules]]
id = "empty-match"
regex = '''a*'''

[[rules]]
id = "bad-regex"
regex = '''b'''

[[rules]]
id = "lookahead"
regex = '''tok_(?=x)'''
`
  const err = (() => {
    try {
      parseRules(text, 'team.toml')
    } catch (e) {
      return e as Error & { code: string }
    }
    return undefined
  })()
  t.equal(err?.code, 'LEAKGATE_ERR_RULES')
  for (const id of ['bad-regex: regex: bad regex "acme_([0-9": missing ]', 'no-regex: neither "regex" nor "path"', 'bad-group: "secretGroup" 3', 'empty-match: regex matches the empty string', 'bad-regex: duplicate id', 'lookahead: regex: bad regex']) {
    t.match(err?.message, `rule ${id}`)
  }
})

t.test('not TOML at all, unknown keys, a bad allowlist regex', async (t) => {
  t.throws(() => parseRules('[[rules]\nid='), { code: 'LEAKGATE_ERR_RULES' })
  t.throws(() => parseRules('[[rules]]\nid = "a"\nregex = "x"\nregexx = "y"'), { code: 'LEAKGATE_ERR_RULES', message: /rule a: unknown key "regexx"/ })
  t.throws(() => parseRules('[[rules]]\nid = "a"\nregex = "x"\n[rules.allowlist]\nregexes = ["("]'), { code: 'LEAKGATE_ERR_RULES', message: /rule a: \[rules.allowlist\]: regexes: bad regex/ })
  t.throws(() => parseRules('nope = 1'), { code: 'LEAKGATE_ERR_RULES', message: /unknown top-level key "nope"/ })
})

t.test('gitleaks syntax: a leading (?i), secretGroup, keywords, entropy, stopwords', async (t) => {
  const set = parseRules(`
[[rules]]
id = "corp-token"
regex = '''(?i)corp[_-]?token\\s*=\\s*"([a-z0-9]{16})"'''
secretGroup = 1
keywords = ["corp"]
entropy = 3.0
  [rules.allowlist]
  stopwords = ["deadbeef"]
`)
  const rule = set.rules[0]!
  t.equal(rule.kind, 'corp_token')
  const find = (s: string): string[] => scanText(s, { rules: set.rules, path: 'x' }).map((f) => f.value)
  t.same(find('CORP_TOKEN = "a8f3k2l9q0z7x6c5"'), ['a8f3k2l9q0z7x6c5'])
  t.same(find('corp_token = "aaaaaaaaaaaaaaaa"'), [], 'below the entropy')
  t.same(find('corp_token = "deadbeef12345678"'), [], 'a stopword')
  t.same(find('other = "a8f3k2l9q0z7x6c5"'), [], 'keyword absent')
})

t.test('an unreadable rules file is a rules error', async (t) => {
  const dir = tempDir(t, 'leakgate-rules-')
  t.throws(() => loadRulesFile(join(dir, 'missing.toml')), { code: 'LEAKGATE_ERR_RULES' })
  writeFileSync(join(dir, 'empty.toml'), '# nothing\n')
  t.same(loadRulesFile(join(dir, 'empty.toml')).rules, [])
})

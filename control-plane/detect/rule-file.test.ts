/**
 * gitleaks configuration files: every key honoured changes what a scan finds, every construct
 * refused is named with its rule, all problems at once.
 */
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { combineRules, loadRulesFile, parseRules, type RuleSet } from './rule-file.js'
import { builtinRules } from './rules.js'
import { scanText } from './scanner.js'
import { Rng, ALPHA } from './corpus/random.js'
import { PROVIDER_TOKENS } from './corpus/tokens.js'
import { tempDir } from './test/helpers.js'

const rng = new Rng(7)
const key = (): string => `corp_${rng.chars(24, ALPHA.base62)}`

/** Values found in `text` by a set's rules (alone) with its global allowlists. */
function found(set: RuleSet, text: string, options: { path?: string; commit?: string } = {}): string[] {
  return scanText(text, { rules: set.rules, allowlist: set.allowlist, path: options.path ?? 'src/app.py', ...(options.commit === undefined ? {} : { commit: options.commit }) }).map((f) => f.value)
}

function refusal(text: string): string {
  try {
    parseRules(text, 'team.toml')
  } catch (err) {
    t.equal((err as { code?: string }).code, 'LEAKGATE_ERR_RULES')
    return (err as Error).message
  }
  throw new Error('expected a refusal')
}

const CORP = `
[[rules]]
id = "corp-key"
regex = '''\\b(corp_[0-9A-Za-z]{24})\\b'''
keywords = ["CORP_"]
`

t.test('regex and keywords (any case): the rule runs only where a keyword is', async (t) => {
  const set = parseRules(CORP)
  const k = key()
  t.same(found(set, `KEY=${k}\n`), [k])
  t.same(found(parseRules(CORP.replace('"CORP_"', '"absent"')), `KEY=${k}\n`), [], 'keyword missing: not run')
})

t.test('Go syntax runs as in Go: (?i) mid-pattern, (?P<name>), \\z, [[:alnum:]], (?-i:...)', async (t) => {
  const set = parseRules(`
[[rules]]
id = "go-syntax"
regex = '''(?P<label>(?-i:Corp))(?i)-id=(?P<value>[[:alnum:]]{12})\\z'''
secretGroup = 2
`)
  t.same(found(set, 'x Corp-ID=q8XmZ2kP7wL4'), ['q8XmZ2kP7wL4'])
  t.same(found(set, 'x CORP-id=q8XmZ2kP7wL4'), [], '(?-i:) keeps Corp case-sensitive')
  t.same(found(set, 'Corp-id=q8XmZ2kP7wL4 and more'), [], '\\z: only at the end of the text')
})

t.test('secretGroup: an explicit group; 0 takes the first non-empty group, as gitleaks does', async (t) => {
  const k = rng.chars(20, ALPHA.base62)
  const rule = (group: string): RuleSet => parseRules(`
[[rules]]
id = "two-groups"
regex = '''(?:(live)|(test))_([0-9A-Za-z]{20})'''
${group}
`)
  t.same(found(rule('secretGroup = 3'), `t = test_${k}`), [k])
  t.same(found(rule(''), `t = test_${k}`), ['test'], 'the first group that took part and is not empty')
})

t.test('entropy: the secret must have more than the threshold', async (t) => {
  const text = 'corp_ab12ab12ab12ab12ab12ab12 and corp_Zq8XlP2mN7vR4tY6wK9sD3fG'
  t.same(found(parseRules(CORP), text).length, 2)
  t.same(found(parseRules(`${CORP}entropy = 3.5\n`), text), ['corp_Zq8XlP2mN7vR4tY6wK9sD3fG'])
})

t.test('path: the rule applies to the files it matches only; tags are kept for reports', async (t) => {
  const set = parseRules(`${CORP}path = '''\\.env$'''\ntags = ["team", "corp"]\n`)
  const k = key()
  t.same(found(set, k, { path: 'deploy/.env' }), [k])
  t.same(found(set, k, { path: 'src/app.py' }), [])
  t.same(set.rules[0]?.tags, ['team', 'corp'])
})

t.test('[rules.allowlist] (old) and [[rules.allowlists]]: regexes on the secret, the match or the line; stopwords', async (t) => {
  const k = key()
  const old = parseRules(`${CORP}[rules.allowlist]\nregexes = ['''^corp_${k.slice(5, 10)}''']\n`)
  t.same(found(old, `a=${k}`), [])
  t.same(found(old, `a=${key()}`).length, 1)
  const match = parseRules(`
[[rules]]
id = "assigned"
regex = '''(?:token|example)=(corp_[0-9A-Za-z]{24})'''
[[rules.allowlists]]
regexTarget = "match"
regexes = ['''^example=''']
`)
  t.same(found(match, `example=${k}`), [], 'the whole match is tested')
  t.same(found(match, `token=${k}`), [k])
  const line = parseRules(`${CORP}[[rules.allowlists]]\nregexTarget = "line"\nregexes = ['''# rotated''']\n`)
  t.same(found(line, `a=${k} # rotated\nb=${k}x`), [], 'the line, not the secret')
  t.same(found(line, `a=${k}\n# rotated`), [k], 'another line does not count')
  const stop = parseRules(`${CORP}[[rules.allowlists]]\nstopwords = ["${k.slice(8, 14).toUpperCase()}"]\n`)
  t.same(found(stop, `a=${k}`), [], 'a stopword, any case')
})

t.test('allowlist commits, and condition AND: every criterion present must hold', async (t) => {
  const k = key()
  const commit = 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678'
  const commits = parseRules(`${CORP}[[rules.allowlists]]\ncommits = ["${commit}"]\n`)
  t.same(found(commits, k, { commit: commit.toLowerCase() }), [], 'the listed commit, any case')
  t.same(found(commits, k, { commit: 'f'.repeat(40) }), [k])
  t.same(found(commits, k), [k], 'not from a commit')
  const and = parseRules(`${CORP}[[rules.allowlists]]\ncondition = "AND"\npaths = ['''^test/''']\nstopwords = ["${k.slice(8, 14)}"]\n`)
  t.same(found(and, k, { path: 'test/x.py' }), [], 'path and stopword both hold')
  t.same(found(and, k, { path: 'src/x.py' }), [k], 'the stopword alone is not enough')
  t.same(found(and, `a=${key()}`, { path: 'test/x.py' }).length, 1, 'the path alone is not enough')
  const or = parseRules(`${CORP}[[rules.allowlists]]\npaths = ['''^test/''']\nstopwords = ["${k.slice(8, 14)}"]\n`)
  t.same(found(or, k, { path: 'src/x.py' }), [], 'OR (default): the stopword alone')
})

t.test('global [allowlist] and [[allowlists]] with targetRules', async (t) => {
  const k = key()
  const two = `${CORP}\n[[rules]]\nid = "corp-key-2"\nregex = '''\\bcorp2_([0-9A-Za-z]{24})\\b'''\n`
  const k2 = `corp2_${rng.chars(24, ALPHA.base62)}`
  t.same(found(parseRules(`${two}[allowlist]\npaths = ['''^fixtures/''']\n`), `${k} ${k2}`, { path: 'fixtures/a' }), [])
  const targeted = parseRules(`${two}[[allowlists]]\ntargetRules = ["corp-key"]\npaths = ['''^fixtures/''']\n`)
  t.same(found(targeted, `${k} ${k2}`, { path: 'fixtures/a' }), [k2.slice(6)], 'only the rule named')
  // A targetRules naming a built-in rule: that rule gets the allowlist.
  const gh = PROVIDER_TOKENS.githubClassic!(rng).value
  const builtin = parseRules(`[[allowlists]]\ntargetRules = ["github-pat"]\npaths = ['''^fixtures/''']\n`)
  const { rules, allowlists } = combineRules(builtinRules(), [builtin])
  const ids = (path: string): string[] => scanText(`GITHUB_TOKEN=${gh}\n`, { rules, allowlist: allowlists, path }).map((f) => f.rule.id)
  t.same(ids('fixtures/a'), [])
  t.same(ids('src/a'), ['github-pat'])
  t.throws(() => combineRules(builtinRules(), [parseRules('[[allowlists]]\ntargetRules = ["nope"]\npaths = ["x"]\n')]), /targetRules: there is no rule "nope"/)
})

t.test('[extend]: path merges another file, disabledRules turns rules off, built-in ones included', async (t) => {
  const dir = tempDir(t, 'leakgate-extend-')
  writeFileSync(join(dir, 'base.toml'), `${CORP}\n[[rules]]\nid = "old-key"\nregex = '''old_[0-9]{12}'''\n`)
  writeFileSync(join(dir, 'team.toml'), `[extend]\npath = "base.toml"\ndisabledRules = ["old-key", "github-pat", "no-such-rule"]\n\n[[rules]]\nid = "corp-key"\n[[rules.allowlists]]\nstopwords = ["r0tat3d"]\n`)
  const set = loadRulesFile(join(dir, 'team.toml'))
  t.same(set.rules.map((r) => r.id), ['corp-key'], 'the extended rule, less the disabled one')
  const k = key()
  t.same(found(set, `${k} old_123456789012`), [k])
  t.same(found(set, 'corp_r0tat3dQ8xM2kP7wL4zR9tXy'), [], "this file's allowlist is merged into the extended rule")
  t.same(found(loadRulesFile(join(dir, 'base.toml')), 'corp_r0tat3dQ8xM2kP7wL4zR9tXy').length, 1, 'the extended file alone finds it')
  const gh = PROVIDER_TOKENS.githubClassic!(rng).value
  const { rules, warnings } = combineRules(builtinRules(), [set])
  t.notOk(rules.some((r) => r.id === 'github-pat'), 'a built-in rule disabled')
  t.same(scanText(`GITHUB_TOKEN=${gh}\n`, { rules, path: 'a.py' }).map((f) => f.rule.id).filter((id) => id === 'github-pat'), [])
  t.same(warnings, ['[extend] disabledRules: there is no rule "no-such-rule" to disable'], 'like gitleaks: a warning, not a refusal')
  t.ok(combineRules(builtinRules(), []).rules.some((r) => r.id === 'github-pat'), 'without the file it runs')
})

t.test('a file rule with a built-in id takes its place; --rules adds to the built-in rules', async (t) => {
  const set = parseRules(`[[rules]]\nid = "github-pat"\nregex = '''ghp_[0-9a-zA-Z]{36}'''\n${CORP}`)
  const { rules } = combineRules(builtinRules(), [set])
  t.equal(rules.filter((r) => r.id === 'github-pat').length, 1)
  t.equal(rules.length, builtinRules().length + 1)
})

t.test('[extend] refusals: a cycle, a url, path with useDefault', async (t) => {
  const dir = tempDir(t, 'leakgate-extend-')
  writeFileSync(join(dir, 'a.toml'), '[extend]\npath = "b.toml"\n')
  writeFileSync(join(dir, 'b.toml'), '[extend]\npath = "a.toml"\n')
  t.throws(() => loadRulesFile(join(dir, 'a.toml')), /\[extend\] path: .*a\.toml extends itself/)
  t.match(refusal('[extend]\nurl = "https://example.com/r.toml"\n'), /\[extend\] "url": rules are not fetched over the network/)
  t.match(refusal('[extend]\nuseDefault = true\npath = "x.toml"\n'), /"path" and "useDefault" cannot both be set/)
  t.same(parseRules('[extend]\nuseDefault = true\n').rules, [], 'useDefault alone: the built-in rules, which run anyway')
})

t.test('refusals name the rule and the construct, all at once; a path-only rule is skipped with a warning', async (t) => {
  const message = refusal(`
title = "team"
colour = "red"

[[rules]]
id = "composite"
regex = '''a_[0-9]{8}'''
[[rules.required]]
id = "other"

[[rules]]
id = "skip"
regex = '''b_[0-9]{8}'''
skipReport = true

[[rules]]
id = "typo"
regex = '''c_[0-9]{8}'''
entropyy = 3

[[rules]]
id = "lookbehind"
regex = '''(?<=x)d_[0-9]{8}'''

[[rules]]
id = "huge"
regex = '''e_[0-9]{1001}'''

[[rules]]
id = "allow"
regex = '''f_[0-9]{8}'''
[rules.allowlist]
regexes = ["x"]
[[rules.allowlists]]
stopwords = ["y"]

[[rules]]
id = "conditions"
regex = '''g_[0-9]{8}'''
[[rules.allowlists]]
condition = "XOR"
regexTarget = "file"
[[rules.allowlists]]
description = "empty"

[allowlist]
paths = ["x"]
[[allowlists]]
paths = ["y"]
`)
  for (const part of [
    'unknown top-level key "colour"',
    'rule composite: [[rules.required]] (composite rules) is not supported',
    'rule skip: "skipReport" (part of composite rules) is not supported',
    'rule typo: unknown key "entropyy"',
    'rule lookbehind: regex: bad regex',
    'rule huge: regex: bad regex "e_[0-9]{1001}": invalid repetition size: {1001}',
    'rule allow: [rules.allowlist] and [[rules.allowlists]] cannot both be used',
    'rule conditions: [[rules.allowlists]] #1: "condition" must be "OR" or "AND", not "XOR"',
    'rule conditions: [[rules.allowlists]] #1: "regexTarget" must be "secret", "match" or "line", not "file"',
    'rule conditions: [[rules.allowlists]] #2: needs at least one of "commits", "paths", "regexes", "stopwords"',
    '[allowlist] and [[allowlists]] cannot both be used',
  ]) t.ok(message.includes(part), part)
  const pathOnly = parseRules(`[[rules]]\nid = "p12"\npath = '''\\.p12$'''\n${CORP}`)
  t.same(pathOnly.rules.map((r) => r.id), ['corp-key'])
  t.same(pathOnly.warnings, ['rule p12: "path"-only rules report files, not tokens; not supported, skipped'])
})

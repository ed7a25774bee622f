import t from 'tap'
import { builtinRules } from './rules.js'
import { scanText, type TextFinding } from './scanner.js'
import type { Rule } from './rule.js'
import { providerRule, type ProviderSpec } from './detectors/provider-spec.js'
import { PROVIDER_TOKENS } from './corpus/tokens.js'
import { Rng } from './corpus/random.js'
import { leadingLiterals, maxMatchLength, reachOf } from './regex-extent.js'

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
const HEX = '0123456789abcdef'

// Provider specs of both shapes, made here so the test does not depend on which providers exist.
const specs: ProviderSpec[] = [
  { id: 'w-prefixed', kind: 'w_prefixed', description: 'prefixed', severity: 'high', pattern: '(?:wqa_|wqb-)[A-Za-z0-9]{20,30}', keywords: ['wqa_', 'wqb-'], samples: { valid: [], invalid: [] } },
  { id: 'w-dotted', kind: 'w_dotted', description: 'dotted', severity: 'high', pattern: 'wz\\.[A-Za-z0-9]{16}\\.[A-Za-z0-9]{8,12}', keywords: ['wz.'], boundaries: 'word', samples: { valid: [], invalid: [] } },
  { id: 'w-near', kind: 'w_near', description: 'near', severity: 'medium', pattern: '[a-f0-9]{32}', near: ['wombat', 'quokka[_-]?key'], keywords: ['wombat', 'quokka'], samples: { valid: [], invalid: [] } },
]
const local = specs.map(providerRule)
const rules: Rule[] = [...local, ...builtinRules()]
/** The same rules without `reach`: they read the whole text. */
const whole: Rule[] = rules.map((r) => {
  const { reach: _reach, ...rest } = r
  return rest
})

function pieces(rng: Rng): string {
  const parts: string[] = []
  const n = rng.int(1, 200)
  const token = (): string => {
    switch (rng.int(0, 6)) {
      case 0: return `${rng.pick(['wqa_', 'wqb-', 'WQA_'])}${rng.chars(rng.int(15, 35), ALNUM)}`
      case 1: return `wz.${rng.chars(16, ALNUM)}.${rng.chars(rng.int(6, 14), ALNUM)}`
      case 2: return `${rng.pick(['wombat', 'Quokka_Key', 'QUOKKA-key', 'wombat_token'])}${rng.pick(['=', ': "', ' ', '":"'])}${rng.chars(rng.int(0, 45), ' x=:')}${rng.pick(['', '\n  ', '\n\t'])}${rng.chars(rng.int(30, 34), HEX)}`
      case 3: {
        const names = Object.keys(PROVIDER_TOKENS)
        return PROVIDER_TOKENS[rng.pick(names)]!(rng).value
      }
      case 4: return rng.pick(['wombat', 'wqa_', 'wz.', 'quokka', 'ghp_', 'sk_live_', 'xoxb-', 'AKIA'])
      default: return rng.chars(rng.int(0, 60), ALNUM + '  \n_-.=')
    }
  }
  for (let i = 0; i < n; i++) {
    parts.push(token())
    parts.push(rng.pick(['', '', ' ', '\n', '"', 'x', '_', '-', '.', 'é', 'İ', '=']))
  }
  return parts.join('')
}

const key = (f: TextFinding): string => `${f.rule.id} ${f.line}:${f.column} ${f.value}`

t.test('windowed rules find exactly what they find in the whole text', async (t) => {
  t.ok(local.every((r) => r.reach !== undefined), 'the provider specs are windowed')
  const rng = new Rng(42)
  let findings = 0
  let differences = 0
  for (let i = 0; i < 400; i++) {
    // Some texts hold a non-ASCII letter whose lowercase is longer: those read the whole text.
    let text = pieces(rng)
    if (i % 2 === 0) text = text.replace(/İ/g, 'I')
    const a = scanText(text, { rules, path: 'a.txt' }).map(key)
    const b = scanText(text, { rules: whole, path: 'a.txt' }).map(key)
    findings += a.length
    if (a.join('\n') !== b.join('\n')) {
      differences++
      if (differences <= 3) t.same(a, b, `text ${i}`)
    }
  }
  t.equal(differences, 0)
  t.ok(findings > 1000, `the texts hold findings (${findings})`)
})

t.test('matches at a window edge: a value at the furthest a near rule allows, and past it', async (t) => {
  const rng = new Rng(5)
  const value = rng.chars(32, HEX)
  for (let gap = 30; gap <= 45; gap++) {
    const text = `${'y'.repeat(300)} wombat${'.'.repeat(gap)}${value} ${'z'.repeat(300)}`
    const a = scanText(text, { rules, path: 'a' }).map(key)
    t.same(a, scanText(text, { rules: whole, path: 'a' }).map(key), `gap ${gap}`)
    t.equal(a.some((k) => k.startsWith('w-near ')), gap <= 40, `gap ${gap}: found only within the distance`)
  }
})

t.test('what a pattern says about its reach', async (t) => {
  t.equal(maxMatchLength('(?<![a-z])ab_[A-Z]{3,9}(?![a-z])'), 12)
  t.equal(maxMatchLength('ab_[A-Z]+'), Infinity)
  t.equal(maxMatchLength('^ab'), Infinity)
  t.equal(maxMatchLength('(a)\\1'), Infinity)
  t.same(leadingLiterals('(?:[sS][kK]|rk)_live_[0-9]'), ['sk_live_', 'rk_live_'])
  t.same(leadingLiterals('a?b'), undefined)
  t.same(reachOf('(?:sk|rk)_x[0-9]{4}', ['sk_', 'rk_']), { before: 8, after: 8 })
  t.equal(reachOf('(?:sk|zz)_x[0-9]{4}', ['sk_']), undefined, 'an alternative without a keyword: whole text')
  t.equal(reachOf('password=[0-9]{4}', ['token']), undefined)
})

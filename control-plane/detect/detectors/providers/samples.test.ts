/**
 * Every table-driven provider detector against its own samples: each true sample is found with the
 * spec's kind, each false one is not reported by the spec's rule. Samples are filled from a seeded
 * random source (see expandSample), so a failure names the spec, the sample and the seed.
 */
import t from 'tap'
import { builtinRules } from '../../rules.js'
import { scanText } from '../../scanner.js'
import { Rng } from '../../corpus/random.js'
import { expandSample, providerRule } from '../provider-spec.js'
import { PROVIDER_SPECS } from './index.js'

const rules = builtinRules()

t.test('every spec has true and false samples, a unique id and a snake_case kind', async (t) => {
  const ids = new Set(rules.map((r) => r.id))
  t.equal(ids.size, rules.length, 'rule ids are unique across every built-in detector')
  for (const spec of PROVIDER_SPECS) {
    t.ok(spec.samples.valid.length > 0 && spec.samples.invalid.length > 0, `${spec.id}: has true and false samples`)
    t.match(spec.kind, /^[a-z0-9_]{2,64}$/, `${spec.id}: kind`)
    t.match(spec.id, /^[a-z0-9]+(?:-[a-z0-9]+)*$/, `${spec.id}: id`)
    t.ok(spec.keywords.length > 0 && spec.keywords.every((k) => k === k.toLowerCase()), `${spec.id}: lowercase keywords`)
  }
})

t.test('every spec finds its true samples and none of its false ones', async (t) => {
  for (const spec of PROVIDER_SPECS) {
    const rng = new Rng(spec.id.length * 7919 + (spec.id.codePointAt(0) ?? 0))
    for (const [i, sample] of spec.samples.valid.entries()) {
      const text = expandSample(sample, rng)
      const found = scanText(text, { rules, path: 'config.txt' })
      t.ok(found.some((f) => f.rule.kind === spec.kind), `${spec.id}: true sample ${i + 1} found as ${spec.kind}: ${JSON.stringify(text)}`)
    }
    for (const [i, sample] of spec.samples.invalid.entries()) {
      const text = expandSample(sample, rng)
      const found = scanText(text, { rules, path: 'config.txt' })
      t.notOk(found.some((f) => f.rule.id === spec.id), `${spec.id}: false sample ${i + 1} not reported: ${JSON.stringify(text)}`)
    }
  }
})

t.test('a value recognised by its name is found after the name, in either case, and not alone', async (t) => {
  const rule = providerRule({
    id: 'example-near', kind: 'example_near', description: 'example', severity: 'low', pattern: '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}',
    near: ['acme'], keywords: ['acme'], samples: { valid: [], invalid: [] },
  })
  const uuid = expandSample('{uuid}', new Rng(1))
  const scan = (text: string): string[] => scanText(text, { rules: [rule] }).map((f) => f.value)
  t.same(scan(`ACME_KEY=${uuid}`), [uuid])
  t.same(scan(`var acmeToken string = "${uuid}"`), [uuid])
  t.same(scan(`<acmeKey>\n    ${uuid}\n</acmeKey>`), [uuid], 'value on the next line')
  t.same(scan(`env:\n  - name: ACME_API_KEY\n    value: "${uuid}"`), [uuid], 'a Kubernetes env entry: value under its name')
  t.same(scan(`- name: ACME_API_KEY\n  other: "${uuid}"`), [], 'another key under the name: nothing')
  t.same(scan(`id = ${uuid}`), [], 'no name: nothing')
  t.same(scan(`acme = x${uuid}`), [], 'inside a longer word: nothing')
})

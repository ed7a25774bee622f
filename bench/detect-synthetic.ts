/**
 * A synthetic rule set the size the provider detectors will reach (~260 provider specs on top of the
 * built-in rules, ~700 keywords), for measuring the scanner where real rule counts cannot yet: prefixed
 * tokens (`abcd_…`, some with two or three prefixes) and name-anchored values (`near`), made from a
 * seeded source so every run measures the same set.
 */
import { Rng } from '../control-plane/detect/corpus/random.js'
import { providerRule, type ProviderSpec } from '../control-plane/detect/detectors/provider-spec.js'
import type { Rule } from '../control-plane/detect/rule.js'

const LOWER = 'abcdefghijklmnopqrstuvwxyz'

/** `count` provider specs: two thirds prefixed tokens, one third values after a provider name. */
export function syntheticSpecs(count = 260, seed = 7): ProviderSpec[] {
  const rng = new Rng(seed)
  const used = new Set<string>()
  const word = (min: number, max: number): string => {
    for (;;) {
      const w = rng.chars(rng.int(min, max), LOWER)
      if (!used.has(w)) {
        used.add(w)
        return w
      }
    }
  }
  const specs: ProviderSpec[] = []
  for (let i = 0; i < count; i++) {
    const id = `synthetic-${i}`
    const base = { id, kind: id.replace(/-/g, '_'), description: `synthetic rule ${i}`, severity: 'high' as const, samples: { valid: [], invalid: [] } }
    if (i % 3 !== 2) {
      const prefixes = Array.from({ length: rng.pick([1, 2, 2, 3]) }, () => `${word(3, 6)}${rng.pick(['_', '-', '_live_', '.'])}`)
      const escape = (p: string): string => p.replace(/[.]/g, '\\.')
      specs.push({ ...base, pattern: `(?:${prefixes.map(escape).join('|')})[A-Za-z0-9]{${rng.int(20, 32)},${rng.int(40, 64)}}`, keywords: prefixes, entropy: 3 })
    } else {
      const names = Array.from({ length: rng.pick([2, 2, 3, 3]) }, () => word(5, 9))
      specs.push({ ...base, pattern: rng.pick(['[a-f0-9]{32}', '[A-Za-z0-9]{40}', '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}']), near: names, keywords: names })
    }
  }
  return specs
}

/** The rules of `syntheticSpecs`. */
export function syntheticRules(count?: number, seed?: number): Rule[] {
  return syntheticSpecs(count, seed).map(providerRule)
}

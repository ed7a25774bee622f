import t from 'tap'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { builtinRules } from './rules.js'
import { formatKindsMarkdown, kindsOf } from './output.js'
import { kindsBlock } from './kinds-docs.js'

t.test("README's list of kinds is the built-in rules' (npm run docs:kinds rewrites it)", async (t) => {
  const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8')
  const block = kindsBlock(readme)
  t.ok(block !== undefined, 'README.md has the generated block')
  t.equal(block, formatKindsMarkdown(builtinRules()), 'run `npm run docs:kinds` after changing the rules')
})

t.test('every built-in kind is listed once, with every rule that reports it', async (t) => {
  const rules = builtinRules()
  const kinds = kindsOf(rules)
  t.equal(new Set(kinds.map((k) => k.kind)).size, kinds.length)
  t.same(kinds.flatMap((k) => k.rules).sort(), [...new Set(rules.map((r) => r.id))].sort())
})

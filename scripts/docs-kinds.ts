/**
 * Rewrites README.md's list of the kinds of secret the built-in rules find (between the
 * `kinds:begin` and `kinds:end` markers) from the rules themselves, so the list cannot drift:
 *
 *   npm run docs:kinds
 *
 * control-plane/detect/kinds-docs.test.ts fails when the README's list differs from the rules'.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { builtinRules } from '../control-plane/detect/rules.js'
import { formatKindsMarkdown } from '../control-plane/detect/output.js'
import { KINDS_BEGIN, KINDS_END, withKinds } from '../control-plane/detect/kinds-docs.js'

const readme = fileURLToPath(new URL('../README.md', import.meta.url))
const before = readFileSync(readme, 'utf8')
const after = withKinds(before, formatKindsMarkdown(builtinRules()))
if (after === undefined) {
  console.error(`README.md has no ${KINDS_BEGIN} … ${KINDS_END} block`)
  process.exit(1)
}
if (after !== before) writeFileSync(readme, after)
console.log(after === before ? 'README.md: the list of kinds is up to date' : 'README.md: the list of kinds rewritten')

/**
 * A rules file cannot make a scan hang: its patterns run on RE2, in time linear in the text. The
 * patterns below take a backtracking engine (JavaScript's RegExp) minutes or more on these lines.
 */
import t from 'tap'
import { parseRules } from './rule-file.js'
import { scanText } from './scanner.js'

const rules = parseRules(`
[[rules]]
id = "nested"
regex = '''tok_([0-9a-z]+)+$'''

[[rules]]
id = "overlapping"
regex = '''(x+x+)+y'''

[[rules]]
id = "alternation"
regex = '''(?:(?:a|a)+)+b'''
`).rules

t.test('nested quantifiers on a crafted line: the scan completes', async (t) => {
  const values = (text: string): string[] => scanText(text, { rules, path: 'crafted.txt' }).map((f) => `${f.rule.id}:${f.value.length}`)
  t.same(values(`tok_${'a'.repeat(40)}!`), [], '([0-9a-z]+)+$ before a non-letter: no match')
  t.same(values('x'.repeat(5000)), [], '(x+x+)+y without a y: no match')
  t.same(values(`${'a'.repeat(64)}c`), [], '(a|a)+ twice nested, no b')
  t.same(values('tok_q8x2m4k7z9w3'), ['nested:12'], 'and it still finds what is there')
})

t.test('the same on a megabyte-long line', async (t) => {
  const text = `${'x'.repeat(1 << 20)}`
  t.same(scanText(text, { rules, path: 'min.js' }), [])
})

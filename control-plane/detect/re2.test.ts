/**
 * Re2Pattern: Go's RE2 over whole texts, in linear time, with UTF-16 offsets that point at exactly
 * what matched whatever characters the text holds.
 */
import t from 'tap'
import { Re2Pattern, type Re2Match } from './re2.js'
import { Rng, ALPHA } from './corpus/random.js'

const all = (pattern: string, text: string): Re2Match[] => [...new Re2Pattern(pattern).matches(text)]

t.test('2 MB with 50 000 matches of one pattern: every match found, each once', async (t) => {
  const rng = new Rng(3)
  const tokens: string[] = []
  const parts: string[] = []
  for (let i = 0; i < 50_000; i++) {
    const token = `tok_${rng.chars(8, ALPHA.base62)}`
    tokens.push(token)
    parts.push(`${' '.repeat(30)}${token} `)
  }
  const text = parts.join('')
  t.ok(text.length >= 2e6, 'the text is 2 MB')
  const found = all('tok_([0-9A-Za-z]{8})', text)
  t.equal(found.length, 50_000)
  t.same(found.map((m) => m.text), tokens)
  t.same(found.slice(0, 3).map((m) => m.groups[0]), tokens.slice(0, 3).map((k) => k.slice(4)))
  t.ok(found.every((m) => text.slice(m.index, m.end) === m.text))
})

t.test('emoji, CJK, accents, a lone surrogate: index and end point at exactly the matched text', async (t) => {
  const rng = new Rng(5)
  const fillers = ['😀', '漢字', 'é', 'ß', 'a', '\n', '𝄞𝄞', '\uD800', 'キー']
  const tokens: string[] = []
  let text = ''
  for (let i = 0; i < 2000; i++) {
    for (let j = rng.int(0, 60); j > 0; j--) text += fillers[rng.int(0, fillers.length - 1)]
    const token = `key-${rng.chars(6, ALPHA.base62)}`
    tokens.push(token)
    text += token
  }
  const found = all('key-[0-9A-Za-z]{6}', text)
  t.same(found.map((m) => m.text), tokens)
  t.ok(found.every((m) => text.slice(m.index, m.end) === m.text), 'every text.slice(index, end) is the match')
  t.same(all('(漢)(字)', `😀a漢字`), [{ index: 3, end: 5, text: '漢字', groups: ['漢', '字'] }])
})

t.test('. and classes take code points: an emoji is one character', async (t) => {
  t.same(all('a.b', 'a😀b').map((m) => m.text), ['a😀b'])
  t.same(all('[^x]', '😀').map((m) => [m.index, m.end]), [[0, 2]])
  t.same(all('(?i)ÉTÉ', 'un été'), [{ index: 3, end: 6, text: 'été', groups: [] }])
})

t.test('empty matches: the search moves on by one code point; none right after a match (as Go)', async (t) => {
  t.same(all('x*', 'a😀b').map((m) => [m.index, m.end]), [[0, 0], [1, 1], [3, 3], [4, 4]])
  t.same(all('a*', 'baac').map((m) => [m.index, m.end]), [[0, 0], [1, 3], [4, 4]], 'none at 3, right after aa')
  t.same(all('', '').map((m) => [m.index, m.end]), [[0, 0]])
})

t.test('^, $ and \\b see the whole text, not where the search resumed', async (t) => {
  t.same(all('^ab', 'abab').map((m) => m.index), [0])
  t.same(all('\\bab', 'ab ab xab').map((m) => m.index), [0, 3])
  t.same(all('ab\\z', 'ab\nab').map((m) => m.index), [3])
})

t.test('groups: undefined where a group did not take part; counted, named ones included', async (t) => {
  t.same(all('(a)|(b)', 'b')[0]?.groups, [undefined, 'b'])
  const p = new Re2Pattern('(?P<name>x)(?:y)[(](z)\\Q(\\E')
  t.equal(p.groupCount, 2)
  t.equal(p.matchesEmpty, false)
  t.equal(new Re2Pattern('a?').matchesEmpty, true)
})

t.test('two texts searched in turn, and a search suspended while another runs: each sees its own text', async (t) => {
  const p = new Re2Pattern('n[0-9]')
  const long = `${'é'.repeat(5000)}n1 n2 n3`
  const other = `${'-'.repeat(5000)}n7`
  const outer = p.matches(long)
  t.equal(outer.next().value?.text, 'n1')
  t.same([...p.matches(other)].map((m) => [m.text, m.index]), [['n7', 5000]])
  t.ok(p.test('n5'))
  t.same([...outer].map((m) => [m.text, m.index]), [['n2', 5003], ['n3', 5006]])
})

t.test('what RE2 and Go refuse throws a SyntaxError naming it, a pattern too large to compile included', async (t) => {
  for (const [pattern, message] of [
    ['(?<=x)a', 'invalid perl operator: (?<='],
    ['a{1001}', 'invalid repetition size: {1001}'],
    ['(a', 'missing ): (a'],
    ['a\\Cb', 'invalid escape sequence: \\C'],
    ['\\pL{1000}', 'pattern too large - compile failed'],
  ] as const) t.throws(() => new Re2Pattern(pattern), new SyntaxError(message), pattern)
})

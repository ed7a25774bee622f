/**
 * The named-value shapes read only the lines around their anchors: on varied texts, with matches at
 * window edges, next to each other and far apart, they find exactly what reading the whole text finds.
 */
import t from 'tap'
import { LineIndex, SHAPES, shapeMatches, type Shape } from './named-values.js'
import { ALPHA, Rng } from '../corpus/random.js'

const rng = new Rng(97)
const v = (): string => rng.chars(12, ALPHA.base62)
const fragments: Array<() => string> = [
  () => `ENV DB_PASSWORD ${v()}`,
  () => `  --password ${v()} --token ${v()}`,
  () => `<dbPassword>\n    ${v()}\n</dbPassword>`,
  () => `<apiToken>${v()}</apiToken>`,
  () => `[DEBUG] Using Foo Key=${v()}`,
  () => `mysql -u root -p${v()}`,
  () => `mysqldump --all\n-p${v()}`,
  () => `docker login -u ci -p ${v()}`,
  () => `redis-cli -h cache -a ${v()}`,
  () => `#define WIFI_PASSWORD "${v()}"`,
  () => `#  define API_KEY "${v()}"`,
  () => `$pw = ConvertTo-SecureString "${v()}" -AsPlainText -Force`,
  () => `define('DB_PASSWORD', '${v()}');`,
  () => `buildConfigField "String", "API_KEY", "\\"${v()}\\""`,
  () => `requests.get(url, auth = ("user",\n  "${v()}"))`,
  () => `new NetworkCredential("user", "${v()}")`,
  () => `- name: DB_PASSWORD\n  value: "${v()}"`,
  () => `env:\n  API_TOKEN:\n    value: ${v()}`,
  () => `<add key="ApiKey"\n value="${v()}" />`,
  () => `os.environ.setdefault("DB_PASSWORD", "${v()}")`,
  () => `const value = compute(${v().length}); // value: none`,
  () => `function f(a, b) { return a + b }`,
  () => `x = "${v()}", y = '${v()}'`,
  () => '',
]

function text(lines: number): string {
  const out: string[] = []
  for (let i = 0; i < lines; i++) out.push(rng.pick(fragments)())
  return out.join(rng.pick(['\n', '\n', '\r\n', '\n\n']))
}

const found = (shape: Shape, s: string): Array<[number, string]> => [...shapeMatches(shape, s, s.toLowerCase(), new LineIndex(s))].map((m) => [m.index, m[0]])

t.test('each windowed shape finds in its windows what it finds in the whole text', async (t) => {
  const windowed = SHAPES.filter((s) => s.lines !== undefined)
  t.ok(windowed.length >= 10, 'most shapes read windows')
  let matches = 0
  for (let round = 0; round < 300; round++) {
    // Sparse texts (windows used) and dense ones (too many anchors: the whole text is read).
    const s = round % 3 === 0 ? text(rng.int(1, 8)) : [text(rng.int(1, 4)), ...Array.from({ length: rng.int(20, 200) }, () => 'let a = b * c'), text(rng.int(1, 4))].join('\n')
    for (const shape of windowed) {
      const { lines: _lines, ...unwindowed } = shape
      const whole = found(unwindowed, s)
      matches += whole.length
      t.same(found(shape, s), whole, `${shape.source.slice(0, 40)} on round ${round}`)
    }
  }
  t.ok(matches > 500, `the texts hold matches (${matches})`)
})

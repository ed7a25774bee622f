/**
 * gitleaks rules files on RE2 (re2, the native binding): how long a ~200-rule file takes to load, how
 * fast its rules scan, and why a text is searched as a UTF-8 Buffer rather than as a string.
 *
 *   node --import ./scripts/register-ts.js bench/rule-file.bench.ts [--config gitleaks.toml]
 *
 * The rules file is generated: 200 keyword-anchored rules of the shape gitleaks' generated rules
 * have (a counted prefix, a name, an assignment, a captured value, a closing class). `--config`
 * also loads a configuration of your own (a stock gitleaks.toml) and scans the same text with it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadRulesFile, combineRules } from '../control-plane/detect/rule-file.js'
import { builtinRules } from '../control-plane/detect/rules.js'
import { scanText } from '../control-plane/detect/scanner.js'
import { Re2Pattern } from '../control-plane/detect/re2.js'
import { Rng, ALPHA } from '../control-plane/detect/corpus/random.js'

const RE2 = createRequire(import.meta.url)('re2') as new (source: string, flags: string) => { lastIndex: number; exec(text: string | Buffer): object | null }
const ms = (since: number): number => performance.now() - since
const mbps = (bytes: number, millis: number): string => `${(bytes / 1e6 / (millis / 1000)).toFixed(1)} MB/s`

function rulesFile(dir: string): string {
  const rules: string[] = []
  for (let i = 0; i < 200; i++) {
    const name = `vendor${i.toString(36)}x`
    rules.push(`[[rules]]\nid = "${name}-key"\nregex = '''(?i)[\\w.-]{0,40}?(?:${name})[\\w.-]{0,20}[\\s'"]{0,3}(?:=|:|=>)[\\s'"]{0,5}([a-z0-9]{32})(?:[\\s'";]|$)'''\nentropy = 3\nkeywords = ["${name}"]\n`)
  }
  const file = join(dir, 'rules.toml')
  writeFileSync(file, rules.join('\n'))
  return file
}

const dir = mkdtempSync(join(tmpdir(), 'leakgate-rule-bench-'))
try {
  const rng = new Rng(11)
  let started = performance.now()
  const set = loadRulesFile(rulesFile(dir))
  console.log(`load a 200-rule file: ${ms(started).toFixed(0)} ms (${set.rules.length} rules)`)
  const config = process.argv.indexOf('--config')
  const stockFile = config > 0 ? process.argv[config + 1] : undefined
  let stock: ReturnType<typeof loadRulesFile> | undefined
  if (stockFile !== undefined) {
    started = performance.now()
    stock = loadRulesFile(stockFile)
    console.log(`load ${stockFile}: ${ms(started).toFixed(0)} ms, ${stock.rules.length} rules, warnings: ${stock.warnings.join('; ') || 'none'}`)
  }

  // 10 MB of code-like lines, a few rules' keywords in it, one secret every ~100 lines.
  const lines: string[] = []
  let size = 0
  for (let i = 0; size < 10e6; i++) {
    const line = i % 100 === 0
      ? `  vendor${rng.int(0, 199).toString(36)}x_token = "${rng.chars(32, ALPHA.base62.slice(0, 36).toLowerCase())}"`
      : `  const value${i} = compute(input, ${i}) // ${rng.chars(20, ALPHA.letters)}`
    lines.push(line)
    size += line.length + 1
  }
  const many = lines.join('\n')
  const rules = combineRules([], [set]).rules
  for (const [label, text] of [['many lines', many], ['one line', many.replace(/\n/g, ' ')]] as const) {
    started = performance.now()
    const found = scanText(text, { rules, path: 'src/app.ts', maxFindings: 100_000 })
    const t = ms(started)
    console.log(`scan 10 MB, ${label}, the 200 rules: ${t.toFixed(0)} ms, ${mbps(text.length, t)}, ${found.length} findings`)
  }
  // The same lines with CJK and an emoji in every comment: offsets are mapped back from bytes.
  const wide = many.replace(/\/\/ /g, '// 鍵の値 😀 ')
  started = performance.now()
  const wideFound = scanText(wide, { rules, path: 'src/app.ts', maxFindings: 100_000 })
  console.log(`scan ${(wide.length / 1e6).toFixed(0)} M characters, many lines, CJK and emoji in every line, the 200 rules: ${ms(started).toFixed(0)} ms, ${mbps(wide.length, ms(started))}, ${wideFound.length} findings`)
  const all = combineRules(builtinRules(), [set]).rules
  started = performance.now()
  scanText(many, { rules: all, path: 'src/app.ts' })
  console.log(`scan 10 MB, many lines, built-in rules + the 200: ${mbps(many.length, ms(started))}`)
  if (stock !== undefined) {
    const stockRules = combineRules([], [stock]).rules
    started = performance.now()
    const stockFound = scanText(many, { rules: stockRules, path: 'src/app.ts', maxFindings: 100_000 })
    console.log(`scan 10 MB, many lines, ${stockFile} alone: ${ms(started).toFixed(0)} ms, ${mbps(many.length, ms(started))}, ${stockFound.length} findings`)
  }

  // Why texts are searched as Buffers. The binding keeps the UTF-8 copy of the last string each
  // compiled pattern was given: 20 patterns over one text encode it 20 times, matches() once; and a
  // pattern given another string between two matches (a test on a path or a secret) encodes the
  // whole text again at each match.
  const quiet = Array.from({ length: 20 }, (_, i) => `(?i)(?:nothere${i})[\\w.-]{0,20}[\\s'"]{0,3}(?:=|:)([a-z0-9]{32})`)
  for (const [label, text] of [['ASCII', many], ['CJK and emoji', wide]] as const) {
    started = performance.now()
    for (const source of quiet) new RE2(source, 'gu').exec(text)
    const onString = ms(started)
    const bytes = Buffer.from(text)
    started = performance.now()
    for (const source of quiet) new RE2(source, 'gu').exec(bytes)
    const onBuffer = ms(started)
    console.log(`20 patterns without a match over the 10 MB text (${label}): exec on the string ${onString.toFixed(0)} ms, on one Buffer ${onBuffer.toFixed(0)} ms`)
  }
  const dense = 'tok_a1b2c '.repeat(20_000)
  const naive = new RE2('tok_[a-z0-9]{5}', 'gu')
  started = performance.now()
  let n = 0
  for (let m = naive.exec(dense); m !== null; m = naive.exec(dense)) {
    n++
    const at = naive.lastIndex
    naive.exec('tok_other')
    naive.lastIndex = at
  }
  const naiveMs = ms(started)
  const pattern = new Re2Pattern('tok_[a-z0-9]{5}')
  started = performance.now()
  let w = 0
  for (const _ of pattern.matches(dense)) {
    w++
    pattern.test('tok_other')
  }
  console.log(`200 KB, a match every 10 characters, a short test between matches: exec on the string ${naiveMs.toFixed(0)} ms (${n} matches), matches() ${ms(started).toFixed(0)} ms (${w})`)
  for (const [label, text] of [['one line', 'tok_a1b2c '.repeat(1_000_000)], ['many lines', 'tok_a1b2c\n'.repeat(1_000_000)]] as const) {
    started = performance.now()
    let count = 0
    for (const _ of pattern.matches(text)) count++
    const t = ms(started)
    console.log(`10 MB, ${label}, a match every 10 characters: ${t.toFixed(0)} ms, ${mbps(text.length, t)}, ${count} matches`)
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}

import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { sha256Hex } from '../../protocol/token-hash.js'
import { LeakIndex } from './index.js'
import { tempDir } from '../../test/support.js'

const cli = fileURLToPath(new URL('../../cli.ts', import.meta.url))
const run = (args: string[], input: string) =>
  spawnSync(process.execPath, ['--import', new URL('../../scripts/register-ts.js', import.meta.url).href, cli, 'index', ...args], { input, encoding: 'utf8' })

t.test('index build writes a snapshot the node can load', async (t) => {
  const out = `${tempDir(t)}/leaks.snapshot`
  const input = `# leaked keys\n${sha256Hex('one')}\n\n${sha256Hex('two').toUpperCase()},monitor,42\n`
  const res = run(['build', '--out', out, '--revision', '9'], input)
  t.equal(res.status, 0, res.stderr)
  const index = LeakIndex.fromSnapshot(readFileSync(out))
  t.equal(index.revision, 9)
  t.same(index.check('one'), { action: 'block', leakId: 1 })
  t.same(index.check('two'), { action: 'monitor', leakId: 42 })
})

t.test('bad input exits 2, names the line, writes nothing', async (t) => {
  const dir = tempDir(t)
  const cases: Array<[string, string]> = [
    [`${sha256Hex('one')}\nghp_rawTokenNotAHash\n`, 'line 2'],
    [`${sha256Hex('one')},allow,1\n`, 'line 1'],
    [`${sha256Hex('one')},block,0\n`, 'line 1'],
    [`${sha256Hex('one')}\n${sha256Hex('one')}\n`, 'line 2'],
  ]
  for (const [input, where] of cases) {
    const out = `${dir}/x.snapshot`
    const res = run(['build', '--out', out], input)
    t.equal(res.status, 2)
    t.match(res.stderr, where)
    t.notOk(res.stderr.includes('ghp_rawTokenNotAHash'), 'the bad line is not echoed back')
    t.notOk(existsSync(out))
  }
  t.equal(run(['build'], '').status, 2, '--out is required')
  t.match(run(['--help'], '').stdout, /index build --out FILE/)
})

t.test('a large input in many chunks: CRLF lines, comments and full entries are all read', async (t) => {
  const out = `${tempDir(t)}/big.snapshot`
  const lines: string[] = []
  for (let i = 0; i < 20_000; i++) {
    if (i % 1000 === 0) lines.push(`# part ${i / 1000}`)
    lines.push(i % 7 === 0 ? `${sha256Hex(`tok-${i}`)},monitor,${i + 1}` : sha256Hex(`tok-${i}`))
  }
  const res = run(['build', '--out', out], lines.join('\r\n')) // no newline after the last line
  t.equal(res.status, 0, res.stderr)
  const index = LeakIndex.fromSnapshot(readFileSync(out))
  t.equal(index.size, 20_000)
  t.same(index.check('tok-0'), { action: 'monitor', leakId: 1 })
  t.same(index.check('tok-1'), { action: 'block', leakId: 1 })
  t.same(index.check('tok-19999'), { action: 'monitor', leakId: 20_000 }, 'the last line (7 × 2857), without a newline')
  t.equal(index.check('tok-20000'), undefined)
})

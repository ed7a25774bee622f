import t from 'tap'
import { dedupeFindings, fingerprintOf, makePreview, readIgnoreFile, sha256Hex, toFindings } from './findings.js'
import { builtinRules } from './rules.js'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from './test/helpers.js'

t.test('sha256 is the lowercase hex of the UTF-8 bytes; the preview shows at most 4+4 and a third', async (t) => {
  t.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  t.equal(makePreview('ghp_0123456789abcdefghijklmnopqrstuvwxyz'), 'ghp_…wxyz')
  t.equal(makePreview('abcdefghijkl'), 'ab…kl')
  t.equal(makePreview('abcde'), '…')
})

t.test('findings carry no raw secret unless asked, and a stable fingerprint', async (t) => {
  const rule = builtinRules()[0]!
  const text = [{ rule, value: 'the-raw-secret-value-1234', line: 3, column: 5 }]
  const [plain] = toFindings(text, { source: 'git', file: 'a/b.ts', commit: 'c1', branch: 'main', repo: 'acme/api', url: (l) => `https://h/acme/api/blob/c1/a/b.ts#L${l}` }, false)
  t.notOk(JSON.stringify(plain).includes('the-raw-secret-value-1234'))
  t.equal(plain?.fingerprint, fingerprintOf(rule.id, 'a/b.ts', sha256Hex('the-raw-secret-value-1234')))
  t.same(plain?.location, { path: 'a/b.ts', line: 3, repo: 'acme/api', commit: 'c1', branch: 'main', url: 'https://h/acme/api/blob/c1/a/b.ts#L3' })
  const [shown] = toFindings(text, { source: 'dir', file: 'a/b.ts' }, true)
  t.equal(shown?.secret, 'the-raw-secret-value-1234')
  t.equal(shown?.fingerprint, plain?.fingerprint, 'the same in another commit or source')
})

t.test('dedupe keeps one finding a fingerprint; history-only only if every sighting is', async (t) => {
  const rule = builtinRules()[0]!
  const text = [{ rule, value: 'v-1234567890', line: 1, column: 1 }]
  const old = toFindings(text, { source: 'git', file: 'x', commit: 'c1', inHistoryOnly: true }, false)
  const now = toFindings(text, { source: 'git', file: 'x', commit: 'c2', inHistoryOnly: false }, false)
  const merged = dedupeFindings([...old, ...now])
  t.equal(merged.length, 1)
  t.equal(merged[0]?.inHistoryOnly, false)
})

t.test('.leakgateignore: fingerprints, comments, blank lines; missing file is empty', async (t) => {
  const dir = tempDir(t, 'leakgate-ignore-')
  writeFileSync(join(dir, '.leakgateignore'), '# reviewed\nabc123 test fixture\n\n  def456  \n')
  t.same([...readIgnoreFile(join(dir, '.leakgateignore'))], ['abc123', 'def456'])
  t.same([...readIgnoreFile(join(dir, 'none'))], [])
})

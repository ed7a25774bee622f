/**
 * Security regression: a title with U+202E was refused through the API, yet a scanned file name put
 * bidi overrides, newlines and terminal escapes into leaks' titles and locations; U+2028, zero-width
 * and tag characters passed the API's one-line rule; and a token's percent-encoded copy, or the token
 * minus one character, passed the check that refuses a raw token echoed in a title or location.
 * Now one sanitiser serves both: the API refuses those characters, scans show them escaped.
 * Real control plane, real files.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { PROVIDER_TOKENS } from '../detect/corpus/tokens.js'
import { Rng } from '../detect/corpus/random.js'
import { escapeText, isPlainText } from '../../lib/text.js'
import { scanSource } from '../detect/index.js'
import { pushFindings } from '../detect/push.js'
import { scanEnded, startPlane, tempDir, waitFor } from './harness.js'

const rng = new Rng(2028)
/** Characters that make what a person reads differ from what is stored. */
const ODD = ['\u202e', '\n', '\u001b[31m', '\u200b', '\u2028', '\u{e0041}', '\u2066', '\r', '\u0007']

t.test('file names with bidi overrides, newlines, escapes and invisible characters are shown escaped, never raw', async (t) => {
  const root = tempDir(t, 'leakgate-names-')
  const folder = join(root, 'tree')
  mkdirSync(folder)
  for (const [i, c] of ODD.entries()) writeFileSync(join(folder, `f${i}${c}txt.env`), `GITHUB_TOKEN=${PROVIDER_TOKENS.githubClassic!(rng).value}\n`)
  const plane = await startPlane(t, { scan: { allowedPaths: [folder] } })
  const id = (await plane.call('POST', '/v1/scans', plane.keys.admin, { source: { type: 'dir', path: folder } })).json().id as number
  let scan: { status: string; findings: Array<{ file: string; location: { path: string } }> } = { status: 'running', findings: [] }
  await waitFor('the scan', async () => {
    scan = (await plane.call('GET', `/v1/scans/${id}`, plane.keys.analyst)).json() as typeof scan
    return scanEnded(scan)
  }, 30_000)
  t.equal(scan.status, 'done')
  t.equal(scan.findings.length, ODD.length)
  for (const f of scan.findings) {
    t.ok(isPlainText(f.file), `finding file ${escapeText(f.file)}`)
    t.ok(isPlainText(f.location.path), 'finding location')
  }
  const leaks = (await plane.call('GET', '/v1/leaks?limit=100', plane.keys.analyst)).json() as { items: Array<{ title: string; location: { path: string } }> }
  t.equal(leaks.items.length, ODD.length)
  for (const leak of leaks.items) {
    t.ok(isPlainText(leak.title), `title ${escapeText(leak.title)}`)
    t.ok(isPlainText(leak.location.path), `location ${escapeText(leak.location.path)}`)
  }
  const paths = leaks.items.map((l) => l.location.path).sort()
  t.ok(paths.includes('f0\\u202etxt.env'), 'a bidi override reads as \\u202e')
  t.ok(paths.includes('f1\\u000atxt.env'), 'a newline as \\u000a')
  t.ok(paths.includes('f5\\u{e0041}txt.env'), 'a tag character as \\u{e0041}')
})

t.test('the API refuses U+2028, zero-width and tag characters in one-line text', async (t) => {
  const plane = await startPlane(t)
  for (const c of ['\u2028', '\u2029', '\u200b', '\u200d', '\u2060', '\u{e0041}', '\u{e0001}', '\u061c', '\u00ad']) {
    const res = await plane.call('POST', '/v1/leaks', plane.keys.admin, { title: `leak${c}title`, tokens: [{ sha256: 'a'.repeat(64) }] })
    t.equal(res.statusCode, 400, escapeText(c))
  }
  t.equal((await plane.call('GET', '/v1/leaks', plane.keys.analyst)).json().total, 0)
})

t.test('the echo check catches a token percent-encoded, or cut by one character at either end', async (t) => {
  const plane = await startPlane(t)
  const token = 'glpat-Echo/Check+Token=0123456789'
  const cases: Array<[string, Record<string, unknown>]> = [
    ['title, percent-encoded', { title: `found ${encodeURIComponent(token)}` }],
    ['title, percent-encoded lowercase', { title: `found ${encodeURIComponent(token).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())}` }],
    ['location.url, percent-encoded', { location: { url: `https://example.com/x?t=${encodeURIComponent(token)}` } }],
    ['title, first character cut', { title: `found ${token.slice(1)}` }],
    ['title, last character cut', { title: `found ${token.slice(0, -1)}` }],
    ['location.url, last character cut', { location: { url: `https://example.com/${token.slice(0, -1)}` } }],
  ]
  for (const [label, body] of cases) {
    const res = await plane.call('POST', '/v1/leaks', plane.keys.admin, { ...body, tokens: [{ value: token }] })
    t.equal(res.statusCode, 400, label)
    t.notOk(res.body.includes(token.slice(1, -1)), `${label}: not echoed`)
  }
  t.equal((await plane.call('GET', '/v1/leaks', plane.keys.analyst)).json().total, 0, 'nothing stored')
  const fine = await plane.call('POST', '/v1/leaks', plane.keys.admin, { title: 'a GitLab token in CI', location: { url: 'https://example.com/ci' }, tokens: [{ value: token }] })
  t.equal(fine.statusCode, 201, 'a title without the token is taken')
})

t.test('leakgate scan --push escapes such names too, so the control plane takes the findings', async (t) => {
  const root = tempDir(t, 'leakgate-push-names-')
  writeFileSync(join(root, `bidi\u202efile\u200b.env`), `GITHUB_TOKEN=${PROVIDER_TOKENS.githubClassic!(rng).value}\n`)
  const { findings } = await scanSource({ type: 'dir', path: root })
  t.equal(findings.length, 1)
  const plane = await startPlane(t)
  const url = await plane.app.listen({ port: 0, host: '127.0.0.1' })
  const pushed = await pushFindings(url, plane.keys.admin, { type: 'dir', path: root }, findings)
  t.equal(pushed.leaksCreated, 1)
  const leak = ((await plane.call('GET', '/v1/leaks', plane.keys.analyst)).json() as { items: Array<{ title: string; location: { path: string } }> }).items[0]!
  t.equal(leak.location.path, 'bidi\\u202efile\\u200b.env')
  t.ok(isPlainText(leak.title))
})

t.test('a file named after the secret it holds does not put the secret into the leak, the scan or the store', async (t) => {
  const root = tempDir(t, 'leakgate-names-')
  const folder = join(root, 'tree')
  mkdirSync(folder)
  const plain = PROVIDER_TOKENS.githubClassic!(rng).value
  const encoded = PROVIDER_TOKENS.githubClassic!(rng).value
  writeFileSync(join(folder, `${plain}.env`), `GITHUB_TOKEN=${plain}\n`)
  writeFileSync(join(folder, `${Buffer.from(encoded).toString('base64url')}.env`), `GITHUB_TOKEN=${encoded}\n`)
  const plane = await startPlane(t, { scan: { allowedPaths: [folder] } })
  const id = (await plane.call('POST', '/v1/scans', plane.keys.admin, { source: { type: 'dir', path: folder } })).json().id as number
  let scan: { status: string; findings: unknown[] } = { status: 'running', findings: [] }
  await waitFor('the scan', async () => {
    scan = (await plane.call('GET', `/v1/scans/${id}`, plane.keys.analyst)).json() as typeof scan
    return scanEnded(scan)
  }, 30_000)
  t.equal(scan.status, 'done')
  t.equal(scan.findings.length, 2)
  const leaks = (await plane.call('GET', '/v1/leaks?limit=100', plane.keys.analyst)).json() as { items: Array<{ title: string; location: { path: string } }> }
  t.same(leaks.items.map((l) => l.location.path).sort(), ['[a name that holds the secret]', '[secret].env'])
  const answers = JSON.stringify([scan, leaks])
  for (const secret of [plain, encoded]) {
    t.notOk(answers.includes(secret.slice(4)), 'no answer holds the secret')
    for (const file of readdirSync(plane.dir)) t.notOk(readFileSync(join(plane.dir, file)).includes(secret.slice(4)), `${file} does not hold it`)
    t.notOk(plane.logs.join('').includes(secret.slice(4)), 'the log does not hold it')
  }
})

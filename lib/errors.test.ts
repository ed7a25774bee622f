import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as errors from './errors.js'
import { ConfigError, LeakedCredentialError, SnapshotChecksumError, SyncGoneError, UpstreamError, errorCodes, isLeakgateError, isSnapshotError, reviveError } from './errors.js'
import { problem, problemBody, problemOf } from './problem.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const apiDoc = readFileSync(join(root, 'docs/api.md'), 'utf8')

t.test('docs/api.md and the registry list exactly the same codes', async (t) => {
  const documented = new Set(apiDoc.match(/LEAKGATE_ERR_[A-Z_]+/g))
  const defined = new Set(errorCodes())
  t.ok(defined.size >= 29, 'the registry is loaded')
  t.same([...defined].filter((c) => !documented.has(c)), [], 'every code of the registry is in docs/api.md')
  t.same([...documented].filter((c) => !defined.has(c)), [], 'docs/api.md names no code the registry lacks')
})

t.test("docs/api.md's table gives each code the status the registry maps it to", async (t) => {
  const rows = new Map([...apiDoc.matchAll(/^\| `(LEAKGATE_ERR_[A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]))
  const statuses = new Map(Object.values(errors).filter(isErrorClass).map((E) => [E.code, E.statusCode]))
  t.same([...rows.keys()].sort(), errorCodes().sort(), 'one row a code')
  for (const [code, status] of statuses) t.equal(rows.get(code), status, code)
})

t.test('every exported class is in the registry, under its own code and status', async (t) => {
  const classes = Object.values(errors).filter(isErrorClass)
  t.same(classes.map((E) => E.code).sort(), errorCodes().sort())
  for (const E of classes) {
    const e = new E()
    t.equal(e.code, E.code, E.code)
    t.equal(e.statusCode, E.statusCode, E.code)
    t.ok(isLeakgateError(e), `${E.code} is recognised`)
  }
})

t.test('no source file outside lib/errors.ts defines a code or spells one out', async (t) => {
  const offenders: string[] = []
  for (const file of sourceFiles(root)) {
    const rel = relative(root, file)
    if (rel === join('lib', 'errors.ts') || rel.endsWith('.test.ts') || rel.split(/[\\/]/).includes('test')) continue
    const text = readFileSync(file, 'utf8')
    if (/['"`]LEAKGATE_ERR_/.test(text) || /createError\(/.test(text)) offenders.push(rel)
  }
  t.same(offenders, [])
})

t.test('a problem: the fixed fields, a type slug, extras at the top level', async (t) => {
  const e = new LeakedCredentialError(12)
  t.same(problemOf(e, { leakId: 12 }), {
    type: 'https://leakgate.dev/problems/leaked-credential',
    title: 'Forbidden',
    status: 403,
    detail: e.message,
    code: 'LEAKGATE_ERR_LEAKED_CREDENTIAL',
    leakId: 12,
  })
  t.match(problem(SyncGoneError.code, 410, 'x'), { type: 'https://leakgate.dev/problems/sync-gone', title: 'Gone' })
  t.same(JSON.parse(problemBody(431, errors.BadRequestError.code, 'too big')), problem(errors.BadRequestError.code, 431, 'too big'), 'the text is the same problem')
  t.equal(problem(UpstreamError.code, 599, 'x').title, 'Error', 'a status without a title')
})

t.test('errors crossing a worker thread come back as the same class', async (t) => {
  const revived = reviveError(SnapshotChecksumError.code, 'snapshot checksum does not match')
  t.ok(revived instanceof SnapshotChecksumError)
  t.ok(isSnapshotError(revived))
  t.match(revived, { code: 'LEAKGATE_ERR_SNAPSHOT_CHECKSUM', statusCode: 500, message: 'snapshot checksum does not match' })
  t.equal(reviveError('ENOENT', 'x'), undefined, 'a code not in the registry')
  t.notOk(isSnapshotError(new ConfigError('x')))
  t.notOk(isLeakgateError(Object.assign(new Error('x'), { code: 'LEAKGATE_ERR_CONFIG' })), 'a look-alike is not one of ours')
})

t.test('a wrapped library error is kept as the cause', async (t) => {
  const cause = new Error('EACCES')
  t.equal(new ConfigError('cannot read x', { cause }).cause, cause)
})

function isErrorClass(v: unknown): v is errors.LeakgateErrorClass<unknown[]> {
  return typeof v === 'function' && typeof (v as { code?: unknown }).code === 'string'
}

function* sourceFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue
    const path = join(dir, entry.name)
    if (entry.isDirectory()) yield* sourceFiles(path)
    else if (/\.(ts|js)$/.test(entry.name) && !path.includes('vendor')) yield path
  }
}

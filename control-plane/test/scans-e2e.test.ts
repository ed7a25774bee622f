/**
 * Scans through the real control plane (SQLite in a temp folder, listening on port 0):
 * POST /v1/scans of a git repository made by the test, findings becoming leaks, rescans that read
 * only new commits and create no duplicates, `leakgate scan --push` from the real CLI, the
 * schedule, and no raw secret in the store file, the logs or the answers.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { loggerOptions } from '../../lib/logger.js'
import { buildControlPlane } from '../app.js'
import { defaultControlPlaneConfig } from '../config.js'
import { generateKey } from '../store/keys.js'
import type { ScheduleTiming } from '../scans.js'
import { openTestStore, tempDir, waitFor } from './harness.js'
import { PROVIDER_TOKENS } from '../detect/corpus/tokens.js'
import { Rng } from '../detect/corpus/random.js'
import { sha256Hex } from '../detect/findings.js'
import { gitRepo } from '../detect/test/helpers.js'

const cli = fileURLToPath(new URL('../../cli.ts', import.meta.url))
const rng = new Rng(4242)

/** The fields of the answers the tests read. */
interface ApiBody {
  id: number
  status: string
  total: number
  items: Array<{ kind: string }>
  leaksCreated: number
  progress: { commits: number }
  findings: Array<{ sha256: string }>
  error?: string
}

interface Plane { app: FastifyInstance; url: string; dir: string; admin: string; analyst: string; logs: string[]; call: (method: string, path: string, key: string, body?: unknown) => Promise<{ status: number; body: ApiBody }> }

async function plane(t: Parameters<typeof tempDir>[0], overrides: Record<string, unknown> = {}, schedule?: ScheduleTiming): Promise<Plane> {
  const dir = tempDir(t, 'leakgate-scans-')
  // The repositories these tests make live in the temporary folder: the scans may read it.
  const config = defaultControlPlaneConfig({ dataDir: dir, logLevel: 'info', port: 0, scan: { allowedPaths: [tmpdir()] }, ...overrides })
  const store = await openTestStore(t, dir, { defaultAction: config.defaultAction, autoBlockRisk: config.autoBlockRisk, sightingsKeptPerLeak: config.limits.sightingsKeptPerLeak, changesRetention: config.changesRetention })
  const admin = generateKey()
  const analyst = generateKey()
  await store.keys.add(admin, 'admin')
  await store.keys.add(analyst, 'analyst')
  const logs: string[] = []
  const sink = new Writable({ write(c: Buffer, _e, cb) { logs.push(c.toString('utf8')); cb() } })
  const app = await buildControlPlane(config, {
    store,
    loggerInstance: pino(loggerOptions('trace', 'test'), sink),
    scans: { cacheDir: join(dir, 'cache'), ...(schedule === undefined ? {} : { schedule }) },
  })
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(async () => {
    await app.close()
    await store.close()
  })
  const call: Plane['call'] = async (method, path, key, body) => {
    const res = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
    return { status: res.status, body: (await res.json()) as ApiBody }
  }
  return { app, url, dir, admin, analyst, logs, call }
}

interface Run { status: number | null; stdout: string; stderr: string }

/** The CLI in a child process, without blocking this process's event loop (the control plane runs in it). */
function run(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', new URL('../../scripts/register-ts.js', import.meta.url).href, cli, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ status: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr })
    })
  })
}

async function finished(p: Plane, id: number): Promise<ApiBody> {
  return waitFor(`scan ${id}`, async () => {
    const scan = (await p.call('GET', `/v1/scans/${id}`, p.admin)).body
    return scan.status === 'running' ? undefined : scan
  }, 30_000)
}

function storeBytes(dir: string): string {
  return readdirSync(dir).filter((f) => f.endsWith('.db') || f.endsWith('-wal') || f.endsWith('.sqlite')).map((f) => readFileSync(join(dir, f)).toString('latin1')).join('')
}

t.test('a git history scan makes leaks; a rescan reads only new commits and duplicates nothing', async (t) => {
  const p = await plane(t)
  const repo = gitRepo(tempDir(t, 'leakgate-scans-repo-'))
  const current = PROVIDER_TOKENS.githubClassic!(rng).value
  const goneToken = PROVIDER_TOKENS.stripeSecret!(rng)
  const gone = goneToken.value
  repo.commit('pay', { 'pay.js': `const key = "${gone}"\n` })
  repo.commit('env', { 'pay.js': 'const key = process.env.STRIPE_KEY\n', '.env': `GITHUB_TOKEN=${current}\n` })

  const started = await p.call('POST', '/v1/scans', p.admin, { source: { type: 'git', url: repo.dir, history: true } })
  t.equal(started.status, 202)
  t.equal(started.body.status, 'running')
  const done = await finished(p, started.body.id)
  t.equal(done.status, 'done')
  t.equal(done.leaksCreated, 2)
  t.equal(done.progress.commits, 2)
  t.same(done.findings.map((f) => f.sha256).sort(), [sha256Hex(current), sha256Hex(gone)].sort())

  const leaks = (await p.call('GET', '/v1/leaks?source=git', p.analyst)).body.items as unknown as Array<{ location: { path: string }; kind: string; risk: string; riskFactors: Array<{ factor: string }> }>
  t.same(leaks.map((l) => [l.location.path, l.kind]).sort(), [['.env', 'github_pat'], ['pay.js', goneToken.kind]])
  t.ok(leaks.find((l) => l.location.path === 'pay.js')?.riskFactors.some((f) => f.factor === 'history_only'), 'the history-only leak says so in its risk')

  const again = await finished(p, (await p.call('POST', '/v1/scans', p.admin, { source: { type: 'git', url: repo.dir, history: true } })).body.id)
  t.equal(again.progress.commits, 0, 'nothing new to read')
  t.equal(again.leaksCreated, 0)

  const added = PROVIDER_TOKENS.npm!(rng).value
  repo.commit('ci', { 'ci.env': `NPM_TOKEN=${added}\n` })
  const third = await finished(p, (await p.call('POST', '/v1/scans', p.admin, { source: { type: 'git', url: repo.dir, history: true } })).body.id)
  t.equal(third.progress.commits, 1, 'only the new commit')
  t.equal(third.leaksCreated, 1)
  t.equal((await p.call('GET', '/v1/leaks', p.analyst)).body.total, 3)

  for (const raw of [current, gone, added]) {
    t.notOk(storeBytes(p.dir).includes(raw), 'no raw secret in the store file')
    t.notOk(p.logs.join('').includes(raw), 'no raw secret in the logs')
  }
})

t.test('leakgate scan --push: findings become leaks once, whatever the number of pushes', async (t) => {
  const p = await plane(t)
  const dir = tempDir(t, 'leakgate-push-')
  const token = PROVIDER_TOKENS.slackBot!(rng).value
  writeFileSync(join(dir, 'bot.py'), `SLACK_TOKEN = "${token}"\n`)
  const push = (): Promise<Run> => run(['scan', dir, '--push', '--show-secrets', '--format', 'json', '--control-plane', p.url], { LEAKGATE_API_KEY: p.admin })
  const first = await push()
  t.equal(first.status, 1, 'found: exit 1 even when pushed')
  t.match(first.stderr, /pushed to .*: scan \d+, 1 leak\(s\) created, 0 updated/)
  const second = await push()
  t.match(second.stderr, /0 leak\(s\) created, 1 updated/)
  const leaks = (await p.call('GET', '/v1/leaks', p.analyst)).body
  t.equal(leaks.total, 1)
  t.equal(leaks.items[0]?.kind, 'slack_token')
  t.notOk(storeBytes(p.dir).includes(token), '--show-secrets does not reach the control plane')

  const bad = await run(['scan', dir, '--push', '--control-plane', p.url], { LEAKGATE_API_KEY: p.analyst })
  t.equal(bad.status, 2, 'a key without the right: exit 2')
  t.match(bad.stderr, /403/)
})

t.test('bad input is refused and changes nothing: raw secrets, long previews, bad sources, roles', async (t) => {
  const p = await plane(t)
  const token = PROVIDER_TOKENS.githubClassic!(rng).value
  const finding = { ruleId: 'github-pat', kind: 'github_pat', file: 'a.env', line: 1, column: 1, sha256: sha256Hex(token), preview: 'ghp_…abcd', fingerprint: 'ab'.repeat(16), inHistoryOnly: false, source: 'dir' }
  const cases: Array<[unknown, number]> = [
    [{ source: { type: 'dir', path: '/x' }, findings: [{ ...finding, secret: token }] }, 400],
    [{ source: { type: 'dir', path: '/x' }, findings: [{ ...finding, preview: token }] }, 400],
    [{ source: { type: 'git' } }, 400],
    [{ source: { type: 'github', org: 'a', user: 'b' } }, 400],
    [{ source: { type: 'ftp', url: 'x' } }, 400],
  ]
  for (const [body, status] of cases) t.equal((await p.call('POST', '/v1/scans', p.admin, body)).status, status, JSON.stringify(body).slice(0, 60))
  t.equal((await p.call('POST', '/v1/scans', p.analyst, { source: { type: 'dir', path: '/x' }, findings: [finding] })).status, 403)
  t.equal((await p.call('GET', '/v1/leaks', p.analyst)).body.total, 0)
  t.notOk(storeBytes(p.dir).includes(token))
  t.equal((await p.call('GET', '/v1/scans/999', p.analyst)).status, 404)
  // A source that cannot be read: the scan fails with a reason, and nothing else changes.
  const failed = await finished(p, (await p.call('POST', '/v1/scans', p.admin, { source: { type: 'git', url: join(p.dir, 'no-such-repo'), history: true } })).body.id)
  t.equal(failed.status, 'failed')
  t.match(failed.error, /does not exist or is not allowed/)
})

t.test('configured sources are scanned on their schedule', async (t) => {
  const repo = gitRepo(tempDir(t, 'leakgate-sched-repo-'))
  const first = PROVIDER_TOKENS.gitlab!(rng).value
  repo.commit('ci', { 'ci.yml': `token: ${first}\n` })
  // intervalSeconds is at least 60 in the config; the test scales it down to 60 ms.
  const p = await plane(t, { scanSources: [{ type: 'git', url: repo.dir, history: true, intervalSeconds: 60 }] }, { firstDelayMs: 0, intervalScale: 0.001 })
  await waitFor('the first scheduled scan', async () => (await p.call('GET', '/v1/leaks', p.analyst)).body.total === 1, 20_000)
  const later = PROVIDER_TOKENS.huggingface!(rng).value
  repo.commit('model', { 'model.py': `HF_TOKEN = "${later}"\n` })
  await waitFor('a later scheduled scan', async () => (await p.call('GET', '/v1/leaks', p.analyst)).body.total === 2, 20_000)
  const kinds = (await p.call('GET', '/v1/leaks', p.analyst)).body.items.map((l) => l.kind).sort()
  t.same(kinds, ['gitlab_token', 'huggingface_token'])
})

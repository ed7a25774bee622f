/**
 * Scan workers on PostgreSQL: the real control plane (`leakgate control-plane` on a fresh database)
 * queues the scans `POST /v1/scans` starts, real `leakgate scan-worker` processes run them against git
 * repositories made by the test. A worker SIGKILLed while it turns findings into leaks: the control
 * plane sees its heartbeat stop, fails the job, a second worker takes it and completes it, and the
 * leaks are not duplicated. A source that always fails ends in the dead-letter queue after every
 * attempt, and the scan record says so. Skipped without a test cluster (LEAKGATE_TEST_DATABASE_URL).
 */
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { generateKey } from '../store/keys.js'
import { PROVIDER_TOKENS } from '../detect/corpus/tokens.js'
import { Rng } from '../detect/corpus/random.js'
import { gitRepo } from '../detect/test/helpers.js'
import { tempDir, waitFor, type Teardown } from './harness.js'
import { request, spawnPlane, type PlaneProcess } from './process.js'
import { freshDatabase, withPostgres } from './postgres.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const rng = new Rng(1313)
/** Heartbeat every second: a worker silent for 3 s has lost its scan. */
const HEARTBEAT_SECONDS = 1

interface Scan { id: number; status: string; attempts: number; leaksCreated: number; leaksUpdated: number; error?: string }

interface Cluster { plane: PlaneProcess; env: Record<string, string>; admin: string; scan: (id: number) => Promise<Scan>; leaks: () => Promise<number> }

/** A control plane on a fresh PostgreSQL database, with retries as given (and `extra` env). */
async function cluster(t: Teardown, retryLimit: number, extra: Record<string, string> = {}): Promise<Cluster> {
  const admin = generateKey()
  const env = {
    LEAKGATE_DATABASE_URL: await freshDatabase(t),
    LEAKGATE_DATA_DIR: tempDir(t, 'leakgate-workers-'),
    LEAKGATE_ADMIN_KEY: admin,
    LEAKGATE_LOG_LEVEL: 'info',
    // The repositories live in the temporary folder; the wall-clock limit (and so pg-boss's own lease)
    // is far longer than the test: only the heartbeat can hand a scan over in time.
    LEAKGATE_SCAN: JSON.stringify({ allowedPaths: [tmpdir()], timeoutSeconds: 600 }),
    LEAKGATE_SCAN_JOBS: JSON.stringify({ retryLimit, retryDelaySeconds: 1, heartbeatSeconds: HEARTBEAT_SECONDS }),
    ...extra,
  }
  const plane = await spawnPlane(t, env)
  return {
    plane, env, admin,
    scan: async (id) => (await request(`${plane.url}/v1/scans/${id}`, admin)).json() as Scan,
    leaks: async () => {
      const body = (await request(`${plane.url}/v1/leaks?limit=1&status=open`, admin)).json() as { total?: number }
      if (body.total === undefined) throw new Error(`GET /v1/leaks answered ${JSON.stringify(body).slice(0, 300)}: ${plane.output().split("\n").filter((l) => l.includes("\"level\":50")).slice(-2).join("\n").slice(0, 1500)}`)
      return body.total
    },
  }
}

/** A `leakgate scan-worker` process; resolves once it waits for jobs. */
async function worker(t: Teardown, env: Record<string, string>): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, ['--import', new URL('../../scripts/register-ts.js', import.meta.url).href, 'cli.ts', 'scan-worker'], {
    cwd: ROOT,
    env: { ...process.env, ...env, LEAKGATE_SCAN_WORKER_CONCURRENCY: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout?.on('data', (d: Buffer) => (out += d.toString('utf8')))
  child.stderr?.on('data', (d: Buffer) => (out += d.toString('utf8')))
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  await waitFor('the scan worker to start', async () => {
    if (child.exitCode !== null) throw new Error(`the scan worker exited:\n${out}`)
    return out.includes('scan worker ready')
  }, 30_000)
  return { child, output: () => out }
}

async function metric(c: Cluster, state: string): Promise<number | undefined> {
  const text = (await request(`${c.plane.url}/metrics`, c.admin)).bytes.toString('utf8')
  const m = new RegExp(`^leakgate_cp_scan_jobs\\{state="${state}"\\} (\\d+)$`, 'm').exec(text)
  return m?.[1] === undefined ? undefined : Number(m[1])
}

t.setTimeout(300_000)

t.test('a scan started through the API is queued, and a worker process runs it', withPostgres, async (t) => {
  const c = await cluster(t, 3)
  const repo = gitRepo(tempDir(t, 'leakgate-workers-repo-'))
  repo.commit('keys', { '.env': `GITHUB_TOKEN=${PROVIDER_TOKENS.githubClassic!(rng).value}\n`, 'pay.js': `const key = "${PROVIDER_TOKENS.stripeSecret!(rng).value}"\n` })
  const started = await request(`${c.plane.url}/v1/scans`, c.admin, 'POST', { source: { type: 'git', url: repo.dir, history: true } })
  t.equal(started.status, 202)
  const id = (started.json() as Scan).id
  t.equal((started.json() as Scan).status, 'queued', 'no worker yet: the scan waits')
  t.equal(await metric(c, 'queued'), 1, 'leakgate_cp_scan_jobs counts it queued')

  await worker(t, c.env)
  const done = await waitFor('the worker to finish the scan', async () => {
    const s = await c.scan(id)
    return s.status === 'done' || s.status === 'failed' ? s : undefined
  }, 60_000)
  t.equal(done.status, 'done', done.error ?? '')
  t.equal(done.attempts, 1)
  t.equal(done.leaksCreated, 2)
  t.equal(await c.leaks(), 2, 'its leaks are on the control plane')
  t.equal(await metric(c, 'queued'), 0)
  t.equal(await metric(c, 'active'), 0)
})

t.test('with scanJobsInProcess the control plane runs the jobs itself: no worker process', withPostgres, async (t) => {
  const c = await cluster(t, 3, { LEAKGATE_SCAN_JOBS_IN_PROCESS: '1' })
  const repo = gitRepo(tempDir(t, 'leakgate-workers-inproc-'))
  repo.commit('keys', { '.env': `GITHUB_TOKEN=${PROVIDER_TOKENS.githubClassic!(rng).value}\n` })
  const started = await request(`${c.plane.url}/v1/scans`, c.admin, 'POST', { source: { type: 'git', url: repo.dir, history: true } })
  t.equal(started.status, 202)
  const done = await waitFor('the control plane to finish the scan', async () => {
    const s = await c.scan((started.json() as Scan).id)
    return s.status === 'done' || s.status === 'failed' ? s : undefined
  }, 60_000)
  t.equal(done.status, 'done', done.error ?? '')
  t.equal(done.attempts, 1, 'taken once, as a worker takes it')
  t.equal(await c.leaks(), 1)
  const text = (await request(`${c.plane.url}/metrics`, c.admin)).bytes.toString('utf8')
  t.match(text, /^leakgate_scan_worker_jobs_ended_total\{outcome="done"\} 1$/m, 'its /metrics counts the job as a worker\'s')
  t.match(text, /^leakgate_cp_scans_total\{status="done"\} 1$/m, 'and as a scan this process ran')
  t.equal(await metric(c, 'queued'), 0)
})

t.test('a worker killed mid-scan: a second worker takes the job after the lease; no leak is duplicated', withPostgres, async (t) => {
  const c = await cluster(t, 3)
  const repo = gitRepo(tempDir(t, 'leakgate-workers-big-'))
  // One leak a file: long enough to make into leaks that the first worker is killed halfway.
  const FILES = 400
  const makers = [PROVIDER_TOKENS.githubClassic!, PROVIDER_TOKENS.npm!, PROVIDER_TOKENS.gitlab!, PROVIDER_TOKENS.slackBot!]
  const files: Record<string, string> = {}
  for (let i = 0; i < FILES; i++) files[`svc-${i}/config.env`] = `TOKEN=${makers[i % makers.length]!(rng).value}\n`
  repo.commit('configs', files)

  const first = await worker(t, c.env)
  const id = ((await request(`${c.plane.url}/v1/scans`, c.admin, 'POST', { source: { type: 'git', url: repo.dir } })).json() as Scan).id
  await waitFor('the first worker to make some of the leaks', async () => (await c.leaks()) > 0, 60_000)
  const before = await c.leaks()
  first.child.kill('SIGKILL')
  const killedAt = Date.now()
  t.ok(before < FILES, `killed with ${before} of ${FILES} leaks made`)
  t.equal((await c.scan(id)).status, 'running', 'the record still says running')

  await worker(t, c.env)
  const done = await waitFor('the second worker to finish the scan', async () => {
    const s = await c.scan(id)
    return s.status === 'done' || s.status === 'failed' ? s : undefined
  }, 90_000)
  const took = Date.now() - killedAt
  t.equal(done.status, 'done', done.error ?? '')
  t.equal(done.attempts, 2, 'the second attempt finished it')
  t.ok(took >= 3 * HEARTBEAT_SECONDS * 1000 && took < 60_000, `taken again after the heartbeat lease, not the job's expiry (${took} ms after the kill)`)
  t.equal(await c.leaks(), FILES, 'one leak a file: none duplicated')
  t.equal(done.leaksCreated + done.leaksUpdated, FILES)
  t.ok(done.leaksUpdated >= before, `the second attempt found the ${before} leaks the first made (${done.leaksUpdated} updated)`)
})

t.test('a source that always fails ends in the dead-letter queue after every attempt', withPostgres, async (t) => {
  const c = await cluster(t, 2)
  await worker(t, c.env)
  const missing = join(tempDir(t, 'leakgate-workers-none-'), 'no-such-repo')
  const id = ((await request(`${c.plane.url}/v1/scans`, c.admin, 'POST', { source: { type: 'git', url: missing } })).json() as Scan).id
  const seen = new Set<string>()
  const failed = await waitFor('the scan to fail for good', async () => {
    const s = await c.scan(id)
    seen.add(`${s.status}:${s.attempts}`)
    return s.status === 'failed' ? s : undefined
  }, 60_000)
  t.equal(failed.attempts, 3, 'the first attempt and retryLimit (2) retries')
  t.match(failed.error, /does not exist or is not allowed/)
  t.match(failed.error, /attempt 3 of 3; the job went to the dead-letter queue leakgate-scan-dead/)
  t.ok(seen.has('queued:1') || seen.has('queued:2'), `the record was queued again between attempts (${[...seen].join(', ')})`)
  t.equal(await metric(c, 'dead'), 1, 'one job in the dead-letter queue')
  t.equal(await metric(c, 'failed'), 1)
  t.equal(await metric(c, 'queued'), 0)
})

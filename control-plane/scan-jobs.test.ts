/**
 * The scan queue on PostgreSQL, opened by several processes at once (replicas and scan workers
 * starting together on one database): each opens it, and a job one sends, another takes. Skipped
 * without a test cluster (LEAKGATE_TEST_DATABASE_URL).
 */
import pg from 'pg'
import PgBoss from 'pg-boss'
import t from 'tap'
import { SCAN_JOBS_SCHEMA, ScanQueue } from './scan-jobs.js'
import { waitFor, type Teardown } from './test/harness.js'
import { freshDatabase, withPostgres } from './test/postgres.js'

const SETTINGS = { retryLimit: 1, retryDelaySeconds: 1, heartbeatSeconds: 5 }

async function connected(t: Teardown, url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  t.teardown(() => client.end())
  return client
}

t.test('two processes opening the scan queue at once on one fresh database both open it', withPostgres, async (t) => {
  const url = await freshDatabase(t)
  // pg-boss's schema without the queues yet: where a first start stands when replicas make the queues.
  const installer = new PgBoss({ connectionString: url, schema: SCAN_JOBS_SCHEMA, supervise: false, schedule: false })
  await installer.start()
  await installer.stop({ graceful: false, wait: true })
  // A transaction holding pg-boss's jobs table (an operator's, a long report's) stops the first process
  // in the middle of making a queue, so the second comes to make the same queue meanwhile: the race of
  // two replicas starting together, made certain rather than left to timing.
  const holder = await connected(t, url)
  await holder.query('BEGIN')
  await holder.query(`LOCK TABLE ${SCAN_JOBS_SCHEMA}.job IN ACCESS EXCLUSIVE MODE`)
  const opening = Promise.allSettled([ScanQueue.open(url, SETTINGS, () => undefined), ScanQueue.open(url, SETTINGS, () => undefined)])
  const observer = await connected(t, url)
  try {
    await waitFor('both processes to wait for a lock', async () => {
      const { rows } = await observer.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
      return (rows[0]?.n ?? 0) >= 2
    })
  } finally {
    await holder.query('COMMIT')
  }
  const opened = await opening
  const queues: ScanQueue[] = []
  for (const [i, result] of opened.entries()) {
    if (result.status === 'fulfilled') {
      queues.push(result.value)
      t.teardown(() => result.value.close())
    } else {
      t.fail(`process ${i + 1} could not open the scan queue: ${(result.reason as Error).message}`)
    }
  }
  const [a, b] = queues
  if (a === undefined || b === undefined) return
  const id = await a.send({ scanId: 1, source: { type: 'dir', path: '/srv/repos' }, actor: 'test' }, 60)
  t.ok(id !== undefined, 'the first process queues a scan')
  const job = await b.fetch()
  t.equal(job?.id, id, 'the second process takes it')
  t.same(job?.data.source, { type: 'dir', path: '/srv/repos' }, 'with its source')
})

/**
 * The store a test runs on. By default a SQLite file in the test's data directory, as a user's
 * control plane has; with `LEAKGATE_TEST_STORE=postgres` (and LEAKGATE_TEST_DATABASE_URL naming a
 * cluster) a fresh PostgreSQL database instead, so the same tests check the other engine
 * (`npm test` runs the control-plane suite a second time that way).
 *
 * A data directory stands for one store: opening the same directory again in a test (a restart)
 * opens the same database, as the SQLite file would be the same file.
 */
import Database from 'better-sqlite3'
import { PostgresSql } from '../store/postgres.js'
import type { Sql, SqlDialect } from '../store/sql.js'
import { SqliteSql } from '../store/sqlite.js'
import { DEFAULT_STORE_OPTIONS, Store, type StoreOptions } from '../store/store.js'
import type { Teardown } from '../../test/support.js'
import { freshDatabase, TEST_DATABASE_URL } from './postgres.js'

/** The engine the tests' stores run on. */
export const TEST_STORE: SqlDialect = process.env.LEAKGATE_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite'

if (TEST_STORE === 'postgres' && TEST_DATABASE_URL === undefined) {
  throw new Error('LEAKGATE_TEST_STORE=postgres needs LEAKGATE_TEST_DATABASE_URL (eval "$(scripts/pg-test-cluster.sh start)")')
}

/**
 * tap's options for a test about SQLite itself (its file, its modes): `t.test(name, sqliteOnly, fn)`
 * skips it, saying why, when the suite runs on PostgreSQL.
 */
export const sqliteOnly: { skip: string | false } = {
  skip: TEST_STORE === 'postgres' ? 'about the SQLite file itself: the suite runs on PostgreSQL' : false,
}

/**
 * Scan options of a test's control plane. On PostgreSQL scans are queue jobs: the control plane works
 * them itself (scanJobsInProcess, the same code as `leakgate scan-worker`), without retries, so a scan
 * started through the API ends as it does on SQLite: done, or failed at its first failure. A test's own
 * options win (scan-workers.test.ts runs separate workers and retries).
 */
export const TEST_SCAN_JOBS: { scanJobsInProcess?: number; scanJobs?: { retryLimit: number; retryDelaySeconds: number; heartbeatSeconds: number } } =
  TEST_STORE === 'postgres' ? { scanJobsInProcess: 2, scanJobs: { retryLimit: 0, retryDelaySeconds: 1, heartbeatSeconds: 5 } } : {}

/** TEST_SCAN_JOBS as a spawned control plane's env. */
export const TEST_SCAN_JOBS_ENV: Record<string, string> = TEST_SCAN_JOBS.scanJobs === undefined ? {} : {
  LEAKGATE_SCAN_JOBS_IN_PROCESS: String(TEST_SCAN_JOBS.scanJobsInProcess),
  LEAKGATE_SCAN_JOBS: JSON.stringify(TEST_SCAN_JOBS.scanJobs),
}

/** The PostgreSQL database standing for each data directory, while its test runs. */
const databases = new Map<string, Promise<string>>()

/**
 * The database URL the control plane in `dataDir` is to use (`LEAKGATE_DATABASE_URL`, config
 * `databaseUrl`): undefined on SQLite; on PostgreSQL, the same fresh database for the same directory
 * (made on first use, dropped at `t`'s teardown).
 */
export async function testDatabaseUrl(t: Teardown, dataDir: string): Promise<string | undefined> {
  if (TEST_STORE !== 'postgres') return undefined
  let url = databases.get(dataDir)
  if (url === undefined) {
    url = freshDatabase(t)
    databases.set(dataDir, url)
    t.teardown(() => {
      databases.delete(dataDir)
    })
  }
  return url
}

/** The env a spawned control plane on `dataDir` needs besides LEAKGATE_DATA_DIR: its database, if any. */
export async function testDatabaseEnv(t: Teardown, dataDir: string): Promise<Record<string, string>> {
  const url = await testDatabaseUrl(t, dataDir)
  return url === undefined ? {} : { LEAKGATE_DATABASE_URL: url }
}

/**
 * Opens the test's store for `dataDir` (see the file's comment for which engine); the caller closes it.
 * Every test that makes a store makes it here.
 */
export async function openTestStore(t: Teardown, dataDir: string, options: StoreOptions = DEFAULT_STORE_OPTIONS): Promise<Store> {
  return Store.openConfigured({ dataDir, databaseUrl: await testDatabaseUrl(t, dataDir) }, options)
}

/**
 * A connection of the test's own to `store`'s database, either engine, closed at teardown: for rows
 * no API shows (how many token rows, a node's last contact made old). The store offers no SQL handle.
 */
export function storeSql(t: Teardown, store: Store): Sql {
  const sql: Sql = store.location.dialect === 'postgres'
    ? new PostgresSql(store.location.address, { max: 2 })
    : new SqliteSql(new Database(store.location.address))
  t.teardown(() => sql.close())
  return sql
}

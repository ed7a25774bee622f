/**
 * PostgreSQL for tests: a fresh database per test on the cluster LEAKGATE_TEST_DATABASE_URL names
 * (scripts/pg-test-cluster.sh starts a throwaway one), dropped at teardown. Without the variable,
 * PostgreSQL tests are skipped, saying why, and the rest of the suite runs on SQLite alone.
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { Teardown } from '../../test/support.js'

/** The test cluster's URL (a database the tests may connect to, to create others), if any. */
export const TEST_DATABASE_URL = process.env.LEAKGATE_TEST_DATABASE_URL || undefined

/**
 * tap's options for a test that needs PostgreSQL: `t.test(name, withPostgres, fn)` runs it with a
 * cluster and skips it, giving the reason, without one.
 */
export const withPostgres: { skip: string | false } = {
  skip: TEST_DATABASE_URL === undefined
    ? 'no PostgreSQL: set LEAKGATE_TEST_DATABASE_URL (eval "$(scripts/pg-test-cluster.sh start)") to run the PostgreSQL tests'
    : false,
}

/**
 * Makes an empty database on the test cluster and answers its URL; it is dropped at `t`'s teardown.
 * `options` are CREATE DATABASE's (`TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'`, say).
 */
export async function freshDatabase(t: Teardown, options = ''): Promise<string> {
  if (TEST_DATABASE_URL === undefined) throw new Error('freshDatabase needs LEAKGATE_TEST_DATABASE_URL (run the test with the withPostgres option)')
  const name = `leakgate_test_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE ${name} ${options}`)
  } finally {
    await admin.end()
  }
  t.teardown(async () => {
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL })
    await client.connect()
    try {
      // FORCE: a connection the test left open (a killed process's) must not keep the database alive.
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    } finally {
      await client.end()
    }
  })
  const url = new URL(TEST_DATABASE_URL)
  url.pathname = `/${name}`
  return url.toString()
}

#!/usr/bin/env node
// `npm test`'s second pass: the control plane's tests again, each store a fresh PostgreSQL database
// (LEAKGATE_TEST_STORE=postgres, see control-plane/test/test-store.ts) on the cluster
// LEAKGATE_TEST_DATABASE_URL names. Without it, says so in one line and passes.
//
// The files: every control-plane test but the scanner's (control-plane/detect opens no store) and
// those in SQLITE_ONLY, and the node tests that run a control plane's store (sync, sightings).
// Extra arguments go to tap (test files among them replace the list).
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

if (!process.env.LEAKGATE_TEST_DATABASE_URL) {
  console.log('test:postgres: skipped, LEAKGATE_TEST_DATABASE_URL is not set (eval "$(scripts/pg-test-cluster.sh start)" to run the control-plane tests on PostgreSQL too)')
  process.exit(0)
}

/** The test files under `dir`, `skip` folders left out, sorted. */
function testsUnder(dir, skip) {
  const out = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      if (!skip.includes(path)) out.push(...testsUnder(path, skip))
    } else if (entry.name.endsWith('.test.ts')) {
      out.push(path)
    }
  }
  return out.sort()
}

/** Tests about the SQLite file itself, or that choose their engines themselves: the first pass runs them. */
const SQLITE_ONLY = [
  // Each engine's own tests, and SQLite-to-PostgreSQL moves: they open both engines as they need.
  'control-plane/store/sqlite.test.ts',
  'control-plane/store/postgres.test.ts',
  'control-plane/store/index-reader.test.ts',
  'control-plane/store/transfer.test.ts',
  'control-plane/store/collation.test.ts',
  // They search the SQLite file's and its WAL's bytes for a token (a PostgreSQL store's bytes are the server's).
  'control-plane/test/no-raw-secret.test.ts',
  'control-plane/test/keyed-hashes-cannot-be-reversed-with-a-word-list.test.ts',
  // PostgreSQL's own features (replicas, scan jobs with separate workers): already on PostgreSQL in the first
  // pass. (Tests that start scans through the control plane run here: on PostgreSQL the test's control
  // plane works its scan jobs itself, scanJobsInProcess, see control-plane/test/test-store.ts.)
  'control-plane/store/replica-revisions.test.ts',
  'control-plane/test/replica-decision-reaches-the-other-replicas-nodes-within-a-second.test.ts',
  'control-plane/test/replica-kill-9-keeps-acknowledged-writes.test.ts',
  'control-plane/test/replica-restarted-mid-burst-loses-nothing.test.ts',
  'control-plane/test/replicas-concurrent-decisions-keep-revisions-gap-free.test.ts',
  'control-plane/test/scan-workers.test.ts',
  'control-plane/public-sources/test/scan-workers-share-public-source-shards.test.ts',
  'control-plane/scan-jobs.test.ts',
]

const files = [
  ...testsUnder('control-plane', ['control-plane/detect']).filter((f) => !SQLITE_ONLY.includes(f)),
  'node/test/sync.test.ts',
  'node/test/logs-and-sightings-never-carry-a-token.test.ts',
]
const args = process.argv.slice(2)
const tap = spawnSync('npx', ['tap', ...args, ...(args.some((a) => a.endsWith('.test.ts')) ? [] : files)], {
  stdio: 'inherit',
  env: { ...process.env, LEAKGATE_TEST_STORE: 'postgres' },
})
process.exit(tap.status ?? 1)

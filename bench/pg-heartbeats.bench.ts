/**
 * Node heartbeats a second on a PostgreSQL store, with N heartbeaters at once: how much the store's
 * write lock costs the fleet's most frequent write. Each heartbeater is a node already in the fleet
 * (as almost every heartbeat is) sending its next heartbeat as soon as the last one is stored, through
 * the store itself (no HTTP), from `--replicas` stores (control planes) on one database.
 *
 *   node --import ./scripts/register-ts.js bench/pg-heartbeats.bench.ts --database-url postgres://… [--heartbeaters 1,8,32] [--seconds 5] [--replicas 2]
 *
 * The URL names a cluster the bench may create a database on (LEAKGATE_TEST_DATABASE_URL by default); the
 * database is dropped at the end.
 */
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { Store } from '../control-plane/store/store.js'
import { quantile } from './stats.js'

const { values } = parseArgs({
  options: {
    'database-url': { type: 'string' },
    heartbeaters: { type: 'string', default: '1,8,32' },
    seconds: { type: 'string', default: '5' },
    replicas: { type: 'string', default: '2' },
  },
})
const cluster = values['database-url'] ?? process.env.LEAKGATE_TEST_DATABASE_URL
if (cluster === undefined) throw new Error('give --database-url (a cluster the bench may create a database on)')
const seconds = Number(values.seconds)
const replicas = Number(values.replicas)
const LIMITS = { maxNodes: 100_000, pruneSeconds: 3600 }
const ADMIN = { keyId: 'key_bench', bound: false }

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: cluster })
  await client.connect()
  try {
    await client.query(statement)
  } finally {
    await client.end()
  }
}

const name = `leakgate_bench_${randomBytes(4).toString('hex')}`
await admin(`CREATE DATABASE ${name}`)
const url = new URL(cluster)
url.pathname = `/${name}`
try {
  const stores: Store[] = []
  for (let i = 0; i < replicas; i++) stores.push(await Store.openConfigured({ dataDir: '/nonexistent', databaseUrl: url.toString() }))
  const counts = values.heartbeaters.split(',').map(Number)
  const nodes = Math.max(...counts)
  for (let i = 0; i < nodes; i++) await stores[0]!.nodes.heartbeat({ nodeId: `node-${i}` }, ADMIN, LIMITS)
  console.log(`PostgreSQL heartbeats, ${replicas} store(s) on one database, ${seconds} s a row`)
  console.log('heartbeaters  heartbeats/s  p50 ms  p99 ms')
  for (const n of counts) {
    const latencies: number[] = []
    const until = Date.now() + seconds * 1000
    await Promise.all(Array.from({ length: n }, async (_, i) => {
      const store = stores[i % replicas]!
      let revision = 0
      while (Date.now() < until) {
        const t0 = performance.now()
        await store.nodes.heartbeat({ nodeId: `node-${i}`, version: 'bench', revision: revision++, indexEntries: 0, syncAgeSeconds: 0 }, ADMIN, LIMITS)
        latencies.push(performance.now() - t0)
      }
    }))
    latencies.sort((a, b) => a - b)
    const at = (q: number): string => quantile(latencies, q).toFixed(1)
    console.log(`${String(n).padStart(12)}  ${String(Math.round(latencies.length / seconds)).padStart(12)}  ${at(0.5).padStart(6)}  ${at(0.99).padStart(6)}`)
  }
  for (const s of stores) await s.close()
} finally {
  await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
}

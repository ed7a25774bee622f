/**
 * For the replica tests: `leakgate control-plane` processes (replicas) on one fresh PostgreSQL
 * database, real nodes long-polling them, and the index as the database holds it, read directly.
 */
import { createServer } from 'node:net'
import pg from 'pg'
import { startNode, startUpstream, type RunningNode, type Upstream } from '../../node/test/helpers.js'
import { Rng } from '../detect/corpus/random.js'
import { generateKey } from '../store/keys.js'
import { DEFAULT_STORE_OPTIONS, Store } from '../store/store.js'
import { tempDir, waitFor, type Teardown } from './harness.js'
import { freshDatabase } from './postgres.js'
import { request, spawnPlane, type PlaneProcess } from './process.js'

const TOKEN_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

/** Tokens made now from a seeded source: nothing that looks like a credential is written in this file. */
export function tokenMaker(seed: number): () => string {
  const rng = new Rng(seed)
  return () => `rpl_${rng.chars(32, TOKEN_ALPHABET)}`
}

/** A port free now, so a restarted replica comes back at the address its nodes know. */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

/** What every replica of a test is started with. */
export interface Cluster {
  databaseUrl: string
  env: Record<string, string>
  admin: string
  hashKey: string | undefined
  upstream: Upstream
  /** A store of the test's own on the database: it makes the nodes' keys. */
  store: Store
}

export async function cluster(t: Teardown, options: { hashKey?: boolean } = {}): Promise<Cluster> {
  const databaseUrl = await freshDatabase(t)
  const admin = generateKey()
  const hashKey = options.hashKey === true ? Buffer.from(new Rng(7).bytes(32)).toString('hex') : undefined
  const env: Record<string, string> = {
    LEAKGATE_DATABASE_URL: databaseUrl, LEAKGATE_ADMIN_KEY: admin, LEAKGATE_DATA_DIR: tempDir(t), LEAKGATE_LOG_LEVEL: 'info',
    ...(hashKey === undefined ? {} : { LEAKGATE_HASH_KEY: hashKey }),
  }
  const upstream = await startUpstream(t)
  const store = await Store.openConfigured({ dataDir: tempDir(t), databaseUrl }, DEFAULT_STORE_OPTIONS)
  t.teardown(() => store.close())
  return { databaseUrl, env, admin, hashKey, upstream, store }
}

/** Starts a replica; `port` fixes its address (a restart comes back there). */
export async function replica(t: Teardown, c: Cluster, port?: number): Promise<PlaneProcess> {
  return spawnPlane(t, { ...c.env, ...(port === undefined ? {} : { LEAKGATE_CP_PORT: String(port) }) })
}

/** A node with its own node key, long-polling `planeUrl` (held 25 s: a wake, not the wait's end, brings changes). */
export async function nodeOn(t: Teardown, c: Cluster, planeUrl: string, id: string): Promise<RunningNode> {
  const key = generateKey()
  await c.store.keys.add(key, 'node', `test ${id}`)
  return startNode(t, {
    upstream: c.upstream.url,
    env: {
      LEAKGATE_CONTROL_PLANE: planeUrl, LEAKGATE_NODE_KEY: key, LEAKGATE_NODE_ID: id, LEAKGATE_CACHE_DIR: tempDir(t),
      LEAKGATE_SYNC_WAIT_SECONDS: '25', LEAKGATE_HEARTBEAT_MS: '1000', LEAKGATE_PERSIST_DEBOUNCE_MS: '200',
      ...(c.hashKey === undefined ? {} : { LEAKGATE_HASH_KEY: c.hashKey }),
    },
  })
}

/** The index as the database holds it, read directly (not through either replica). */
export interface DatabaseIndex {
  revision: number
  revs: number[]
  entries: Map<string, { action: string; leakId: number }>
}

export async function databaseIndex(url: string): Promise<DatabaseIndex> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const meta = await client.query<{ value: string }>("SELECT value FROM meta WHERE key = 'revision'")
    const revs = await client.query<{ rev: string }>('SELECT rev FROM changes ORDER BY rev')
    const rows = await client.query<{ sha256: string; action: string; leak_id: string }>('SELECT sha256, action, leak_id FROM index_entries')
    return {
      revision: Number(meta.rows[0]?.value ?? 0),
      revs: revs.rows.map((r) => Number(r.rev)),
      entries: new Map(rows.rows.map((r) => [r.sha256, { action: r.action, leakId: Number(r.leak_id) }])),
    }
  } finally {
    await client.end()
  }
}

/** Why `node`'s index differs from the database's, or undefined when it holds exactly the same entries at the same revision. */
export function differs(node: RunningNode, db: DatabaseIndex): string | undefined {
  const index = node.node.holder.current
  if (index === undefined) return 'no index yet'
  if (index.revision !== db.revision) return `revision ${index.revision}, the database's ${db.revision}`
  if (index.size !== db.entries.size) return `${index.size} entries, the database's ${db.entries.size}`
  for (const [hash, want] of db.entries) {
    const have = index.checkDigest(Buffer.from(hash, 'hex'))
    if (have?.action !== want.action || have.leakId !== want.leakId) return `entry ${hash.slice(0, 8)}: ${JSON.stringify(have)}, the database's ${JSON.stringify(want)}`
  }
  return undefined
}

/** Waits until every node holds the database's index. */
export async function converged(nodes: readonly RunningNode[], url: string, timeoutMs = 30_000): Promise<DatabaseIndex> {
  let why = ''
  try {
    return await waitFor('every node to hold the database\'s index', async () => {
      const db = await databaseIndex(url)
      for (const node of nodes) {
        const d = differs(node, db)
        if (d !== undefined) {
          why = `${node.config.nodeId}: ${d}`
          return undefined
        }
      }
      return db
    }, timeoutMs)
  } catch (err) {
    throw new Error(`${(err as Error).message} (last: ${why})`, { cause: err })
  }
}

export interface Leak {
  id: number
  token: string
}

export async function addLeak(planeUrl: string, admin: string, token: string, action: 'block' | 'monitor', title = 'replica test'): Promise<Leak> {
  const res = await request(`${planeUrl}/v1/leaks`, admin, 'POST', { title, tokens: [{ value: token }], action })
  if (res.status !== 201) throw new Error(`POST /v1/leaks: ${res.status} ${res.bytes.toString('utf8')}`)
  return { id: (res.json() as { id: number }).id, token }
}

export async function decide(planeUrl: string, admin: string, id: number, body: Record<string, string>): Promise<void> {
  const res = await request(`${planeUrl}/v1/leaks/${id}`, admin, 'PATCH', { ...body, comment: 'replica test' })
  if (res.status !== 200) throw new Error(`PATCH /v1/leaks/${id}: ${res.status} ${res.bytes.toString('utf8')}`)
}

/** Runs `jobs` with at most `width` at a time. */
export async function pool(width: number, jobs: ReadonlyArray<() => Promise<void>>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < jobs.length) await (jobs[next++] as () => Promise<void>)()
  }))
}

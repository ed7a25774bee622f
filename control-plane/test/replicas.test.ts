/**
 * Two `leakgate control-plane` processes (replicas) on one PostgreSQL database, with real nodes
 * long-polling them: a decision taken through one replica reaches the nodes of the other within the
 * second; concurrent decisions on both keep the revisions gap-free and every node on the database's
 * index; acknowledged writes survive a kill -9 of the replica that acknowledged them, and a replica
 * restarted in the middle of a burst of decisions loses none of them.
 */
import { createServer } from 'node:net'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import t from 'tap'
import { startNode, startUpstream, type RunningNode, type Upstream } from '../../node/test/helpers.js'
import { Rng } from '../detect/corpus/random.js'
import { generateKey } from '../store/keys.js'
import { DEFAULT_STORE_OPTIONS, Store } from '../store/store.js'
import { tempDir, waitFor, type Teardown } from './harness.js'
import { freshDatabase, withPostgres } from './postgres.js'
import { request, spawnPlane, type PlaneProcess } from './process.js'

const TOKEN_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

/** Tokens made now from a seeded source: nothing that looks like a credential is written in this file. */
function tokenMaker(seed: number): () => string {
  const rng = new Rng(seed)
  return () => `rpl_${rng.chars(32, TOKEN_ALPHABET)}`
}

/** A port free now, so a restarted replica comes back at the address its nodes know. */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

/** What every replica of a test is started with. */
interface Cluster {
  databaseUrl: string
  env: Record<string, string>
  admin: string
  hashKey: string | undefined
  upstream: Upstream
  /** A store of the test's own on the database: it makes the nodes' keys. */
  store: Store
}

async function cluster(t: Teardown, options: { hashKey?: boolean } = {}): Promise<Cluster> {
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
async function replica(t: Teardown, c: Cluster, port?: number): Promise<PlaneProcess> {
  return spawnPlane(t, { ...c.env, ...(port === undefined ? {} : { LEAKGATE_CP_PORT: String(port) }) })
}

/** A node with its own node key, long-polling `planeUrl` (held 25 s: a wake, not the wait's end, brings changes). */
async function nodeOn(t: Teardown, c: Cluster, planeUrl: string, id: string): Promise<RunningNode> {
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
interface DatabaseIndex {
  revision: number
  revs: number[]
  entries: Map<string, { action: string; leakId: number }>
}

async function databaseIndex(url: string): Promise<DatabaseIndex> {
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
function differs(node: RunningNode, db: DatabaseIndex): string | undefined {
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
async function converged(nodes: readonly RunningNode[], url: string, timeoutMs = 30_000): Promise<DatabaseIndex> {
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

interface Leak {
  id: number
  token: string
}

async function addLeak(planeUrl: string, admin: string, token: string, action: 'block' | 'monitor', title = 'replica test'): Promise<Leak> {
  const res = await request(`${planeUrl}/v1/leaks`, admin, 'POST', { title, tokens: [{ value: token }], action })
  if (res.status !== 201) throw new Error(`POST /v1/leaks: ${res.status} ${res.bytes.toString('utf8')}`)
  return { id: (res.json() as { id: number }).id, token }
}

async function decide(planeUrl: string, admin: string, id: number, body: Record<string, string>): Promise<void> {
  const res = await request(`${planeUrl}/v1/leaks/${id}`, admin, 'PATCH', { ...body, comment: 'replica test' })
  if (res.status !== 200) throw new Error(`PATCH /v1/leaks/${id}: ${res.status} ${res.bytes.toString('utf8')}`)
}

/** Runs `jobs` with at most `width` at a time. */
async function pool(width: number, jobs: ReadonlyArray<() => Promise<void>>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < jobs.length) await (jobs[next++] as () => Promise<void>)()
  }))
}

t.test('a decision taken through replica A reaches a node long-polling replica B within the second', withPostgres, async (t) => {
  const c = await cluster(t)
  // Started at once: migrations and the admin key's seeding meet on an empty database.
  const [a, b] = await Promise.all([replica(t, c), replica(t, c)])
  const node = await nodeOn(t, c, b.url, 'edge-on-b')
  const token = tokenMaker(1)
  await addLeak(a.url, c.admin, token(), 'monitor')
  await converged([node], c.databaseUrl)

  const figures: number[] = []
  for (let i = 0; i < 5; i++) {
    await converged([node], c.databaseUrl)
    // The node's long-poll is held on B by now (it asked again as soon as it had the last change).
    await sleep(300)
    const value = token()
    const start = performance.now()
    await addLeak(a.url, c.admin, value, 'block')
    while (node.node.holder.current?.check(value)?.action !== 'block') {
      if (performance.now() - start > 5000) break
      await sleep(1)
    }
    figures.push(performance.now() - start)
  }
  const worst = Math.max(...figures)
  t.comment(`decision through A → enforced by a node on B: ${figures.map((f) => f.toFixed(0)).join(', ')} ms (worst ${worst.toFixed(0)} ms)`)
  t.ok(worst < 1000, `every decision was enforced within the second (worst ${worst.toFixed(0)} ms)`)
  t.notOk(differs(node, await databaseIndex(c.databaseUrl)), 'and the node holds the database\'s index')
})

t.test('concurrent decisions on both replicas: gap-free revisions, every node on the database\'s index', withPostgres, async (t) => {
  const c = await cluster(t, { hashKey: true })
  // Both start at once with a hash key on an empty store: one converts it, the other finds it done.
  const [a, b] = await Promise.all([replica(t, c), replica(t, c)])
  const nodes = await Promise.all([
    nodeOn(t, c, a.url, 'edge-a1'), nodeOn(t, c, a.url, 'edge-a2'), nodeOn(t, c, b.url, 'edge-b1'), nodeOn(t, c, b.url, 'edge-b2'),
  ])
  const token = tokenMaker(2)
  // Leak i on A and leak i on B hold one shared token besides their own: both replicas refresh its entry.
  const shared = Array.from({ length: 40 }, () => token())
  const jobs = (planeUrl: string, side: number): Array<() => Promise<void>> => shared.map((sharedToken, i) => async () => {
    const res = await request(`${planeUrl}/v1/leaks`, c.admin, 'POST', { title: `leak ${side}-${i}`, tokens: [{ value: token() }, { value: sharedToken }], action: 'monitor' })
    if (res.status !== 201) throw new Error(`POST /v1/leaks: ${res.status}`)
    const id = (res.json() as { id: number }).id
    await decide(planeUrl, c.admin, id, { action: 'block' })
    await decide(planeUrl, c.admin, id, { action: 'monitor' })
    if (i % 3 === 0) await decide(planeUrl, c.admin, id, { action: 'block' })
    if (i % 5 === 0) await decide(planeUrl, c.admin, id, { status: 'closed' })
  })
  const started = performance.now()
  await Promise.all([pool(6, jobs(a.url, 0)), pool(6, jobs(b.url, 1))])
  t.comment(`${2 * shared.length} leaks and their decisions through two replicas at once in ${((performance.now() - started) / 1000).toFixed(1)} s`)

  const db = await converged(nodes, c.databaseUrl)
  t.ok(db.revision > 4 * shared.length, `the revision rose with every change (${db.revision})`)
  t.same(db.revs, Array.from({ length: db.revision }, (_, i) => i + 1), 'the change log holds revisions 1..N, each once, no gap')
  t.ok(db.entries.size > 0, `the index holds ${db.entries.size} entries`)
  for (const node of nodes) t.equal(differs(node, db), undefined, `${node.config.nodeId} holds exactly the database's index`)
  const blocked = [...db.entries.values()].filter((e) => e.action === 'block').length
  t.ok(blocked > 0 && blocked < db.entries.size, `blocking and monitoring entries both (${blocked} blocking)`)
  for (const plane of [a, b]) {
    const answer = (await request(`${plane.url}/v1/sync/changes?since=${db.revision}`, c.admin)).json() as { revision: number }
    t.equal(answer.revision, db.revision, 'each replica answers the database\'s revision')
  }
})

t.test('writes acknowledged by a replica survive its kill -9, read through the other', withPostgres, async (t) => {
  const c = await cluster(t)
  const [a, b] = await Promise.all([replica(t, c), replica(t, c)])
  const node = await nodeOn(t, c, b.url, 'edge-on-b')
  const token = tokenMaker(3)
  const acked: Leak[] = []
  await pool(4, Array.from({ length: 20 }, (_, i) => async () => {
    acked.push(await addLeak(a.url, c.admin, token(), i % 2 === 0 ? 'block' : 'monitor', `durable ${i}`))
  }))
  const decided = acked[0] as Leak
  await decide(a.url, c.admin, decided.id, { action: 'monitor' })
  // No pause: the kill lands right after the last acknowledgement.
  await a.kill('SIGKILL')
  t.equal(a.child.signalCode, 'SIGKILL')

  for (const leak of acked) {
    const res = await request(`${b.url}/v1/leaks/${leak.id}`, c.admin)
    t.equal(res.status, 200, `leak ${leak.id} acknowledged by A is read through B`)
  }
  const detail = (await request(`${b.url}/v1/leaks/${decided.id}`, c.admin)).json() as { action: string; decisions: unknown[] }
  t.equal(detail.action, 'monitor', 'the decision acknowledged just before the kill is there')
  const db = await converged([node], c.databaseUrl)
  t.same(db.revs, Array.from({ length: db.revision }, (_, i) => i + 1), 'revisions 1..N')
  for (const leak of acked) t.ok(node.node.holder.current?.check(leak.token) !== undefined, `the node on B holds leak ${leak.id}`)
})

t.test('a replica restarted mid-burst loses no acknowledged decision; the nodes converge', withPostgres, async (t) => {
  const c = await cluster(t)
  const port = await freePort()
  let a = await replica(t, c, port)
  const b = await replica(t, c)
  const nodes = [await nodeOn(t, c, a.url, 'edge-on-a'), await nodeOn(t, c, b.url, 'edge-on-b')]
  const token = tokenMaker(4)

  /** Per leak: its token and the action of its last acknowledged decision; `unsure` once a request went unanswered. */
  const leaks = new Map<number, { token: string; action: string; unsure: boolean }>()
  let ackedOnA = 0
  let refused = 0
  const burst = async (planeUrl: () => string, onA: boolean): Promise<void> => {
    let open: number | undefined
    for (let i = 0; i < 60; i++) {
      try {
        if (open === undefined) {
          const value = token()
          const action = i % 2 === 0 ? 'block' : 'monitor'
          const leak = await addLeak(planeUrl(), c.admin, value, action)
          leaks.set(leak.id, { token: value, action, unsure: false })
          open = leak.id
        } else {
          const state = leaks.get(open)
          if (state === undefined) throw new Error('unknown leak')
          const action = state.action === 'block' ? 'monitor' : 'block'
          state.unsure = true
          await decide(planeUrl(), c.admin, open, { action })
          Object.assign(state, { action, unsure: false })
          open = undefined
        }
        if (onA) ackedOnA++
      } catch {
        // The replica is down: nothing was acknowledged; try again shortly (a decision stays unsure).
        refused++
        open = undefined
        await sleep(100)
      }
    }
  }
  const restart = (async () => {
    await waitFor('A to acknowledge some of the burst', () => ackedOnA >= 10, 30_000)
    await a.kill('SIGKILL')
    a = await replica(t, c, port)
  })()
  await Promise.all([burst(() => a.url, true), burst(() => b.url, false), restart])
  t.comment(`${leaks.size} leaks, ${refused} requests refused while A was down`)
  t.ok(refused > 0, 'some requests met the replica down')

  for (const [id, state] of leaks) {
    const res = await request(`${b.url}/v1/leaks/${id}`, c.admin)
    t.equal(res.status, 200, `acknowledged leak ${id} is there`)
    if (!state.unsure) t.equal((res.json() as { action: string }).action, state.action, `leak ${id} has its last acknowledged decision`)
  }
  const db = await converged(nodes, c.databaseUrl, 60_000)
  t.same(db.revs, Array.from({ length: db.revision }, (_, i) => i + 1), 'revisions 1..N')
  for (const node of nodes) t.equal(differs(node, db), undefined, `${node.config.nodeId} holds exactly the database's index`)
})

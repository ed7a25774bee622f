/**
 * The console's and API's reads on a large store: the leak list with each sort and filter and its next
 * pages, one leak, the stats, the audit log, the list's facets when the build has them, and a /metrics
 * scrape, on a store of `--leaks` leaks (default 1,000,000). Goal: every query p95 ≤ 100 ms, a /metrics
 * scrape ≤ 250 ms.
 *
 *   node --import ./scripts/register-ts.js bench/leak-list-1m.bench.ts [--leaks 1000000] [--rounds 20]
 *     [--database-url postgres://…] [--cache-dir /tmp/leakgate-bench-leaks] [--out figures.json]
 *
 * The store is filled through the store layer (`Sql`, multi-row inserts, 5 000 leaks a transaction):
 * leaks with realistic spreads of status, risk, source, kind, hits and rotation, their tokens (made from
 * a seeded Rng, so every run has the same store), audit entries, recent sightings and index entries.
 * Filling a million takes minutes, so the filled store is kept for the next runs: a SQLite file under
 * `--cache-dir`, or a database `leakgate_bench_list_<leaks>_v<schema>` on the PostgreSQL cluster, one a
 * schema version. A run copies it (file copy, or CREATE DATABASE … TEMPLATE) and works on the copy; a
 * cache of an older schema is copied and migrated by the store (the migration's time is printed), as an
 * upgrade would. Then the real control plane (`cli.ts control-plane`, its own process, risk recompute off)
 * is started on the copy and every query is asked once a round, in a shuffled order, one at a time.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { writeFileSync } from 'node:fs'
import pg from 'pg'
import { makePreview, sha256Hex } from '../protocol/token-hash.js'
import { RISK_LEVELS } from '../control-plane/config.js'
import { ALPHA, Rng } from '../control-plane/detect/corpus/random.js'
import { migrate } from '../control-plane/store/db.js'
import { generateKey } from '../control-plane/store/keys.js'
import { searchText } from '../control-plane/store/leak-records.js'
import { LATEST_SCHEMA_VERSION } from '../control-plane/store/migrations.js'
import { PostgresSql } from '../control-plane/store/postgres.js'
import type { Sql, SqlValue } from '../control-plane/store/sql.js'
import { DB_FILE, openSqlite } from '../control-plane/store/sqlite.js'
import { startControlPlaneChild } from './control-plane-child.js'
import { nearestRank } from './stats.js'

const { values } = parseArgs({
  options: {
    leaks: { type: 'string', default: '1000000' },
    rounds: { type: 'string', default: '20' },
    'database-url': { type: 'string' },
    'cache-dir': { type: 'string', default: join(tmpdir(), 'leakgate-bench-leaks') },
    out: { type: 'string' },
  },
})
const LEAKS = Number(values.leaks)
const ROUNDS = Number(values.rounds)
const CLUSTER = values['database-url']
const CACHE_DIR = values['cache-dir']
const QUERY_GOAL_MS = 100
const METRICS_GOAL_MS = 250
/** Leaks a fill transaction writes. */
const BATCH = 5000
/** Rows a multi-row INSERT carries (SQLite takes up to 32 766 parameters a statement). */
const ROWS_A_STATEMENT = 500

// ---- the store's contents --------------------------------------------------------------------------

const SOURCES = ['github', 'git', 'gitlab', 'dir', 'manual', 'slack', 'jira', 'confluence', 's3', 'ci-logs', 'docker', 'pastebin']
const KINDS = [
  'github-pat', 'aws-access-key', 'slack-bot-token', 'generic-api-key', 'stripe-secret-key', 'gcp-api-key', 'npm-token',
  'gitlab-pat', 'private-key', 'jwt', 'twilio-api-key', 'sendgrid-api-key', 'openai-api-key', 'azure-storage-key',
  'datadog-api-key', 'pypi-token', 'docker-hub-pat', 'shopify-token', 'mailgun-key', 'heroku-api-key', 'discord-bot-token',
  'telegram-bot-token', 'postgres-url', 'mongodb-url', 'mysql-password', 'basic-auth-url', 'hashicorp-vault-token',
  'digitalocean-pat', 'linear-api-key', 'sentry-dsn', 'okta-token', 'atlassian-api-token', 'circleci-token',
  'dropbox-token', 'square-token', 'paypal-secret', 'algolia-key', 'cloudflare-token', 'newrelic-key', 'rubygems-key',
]
const PREFIX: Record<string, string> = { 'github-pat': 'ghp_', 'aws-access-key': 'AKIA', 'slack-bot-token': 'xoxb-', 'stripe-secret-key': 'sk_live_', 'npm-token': 'npm_', 'gitlab-pat': 'glpat-', 'openai-api-key': 'sk-' }
const PATHS = ['.env', 'config/settings.py', 'src/config.ts', 'deploy/values.yaml', 'docker-compose.yml', 'README.md', 'scripts/release.sh', '.github/workflows/ci.yml', 'app/secrets.json', 'terraform/main.tf', 'k8s/secret.yaml', 'notebooks/analysis.ipynb']
/** Repositories: `org-<o>/repo-<r>`, spread Zipf-like over 2 000 of them. */
const REPOS = 2000
const DAY = 86_400_000

/** A Zipf-like pick: item i with weight 1/(i+1). */
function zipf<T>(rng: Rng, items: readonly T[]): T {
  const h = items.length === 0 ? 0 : Math.log(items.length) + 0.5772
  const target = rng.next() * h
  let acc = 0
  for (let i = 0; i < items.length; i++) {
    acc += 1 / (i + 1)
    if (acc >= target) return items[i]!
  }
  return items.at(-1)!
}

function weighted<T extends string>(rng: Rng, table: ReadonlyArray<readonly [T, number]>): T {
  let x = rng.next()
  for (const [v, w] of table) {
    if (x < w) return v
    x -= w
  }
  return table.at(-1)![0]
}

interface Row {
  leak: SqlValue[]
  tokens: Array<{ id: number; sha256: string; preview: string; kind: string | null }>
  decisions: SqlValue[][]
  sightings: SqlValue[][]
  open: boolean
  action: string
}

const LEAK_COLUMNS = ['id', 'title', 'source', 'kind', 'location', 'dedupe_key', 'risk', 'risk_rank', 'risk_score', 'risk_factors', 'risk_overridden',
  'status', 'action', 'rotation', 'rotation_requested_at', 'rotated_at', 'in_history_only', 'exposed_at', 'hits', 'seen_by_nodes', 'last_seen_at',
  'created_at', 'updated_at', 'search_text']

/** Leak `id` of `n`, with its tokens and audit entries; the same for the same id. */
function makeLeak(id: number, n: number, tokenId: { next: number }, start: number): Row {
  const rng = new Rng(id * 2654435761)
  const source = zipf(rng, SOURCES)
  const kind = rng.next() < 0.1 ? null : zipf(rng, KINDS)
  const repo = `org-${rng.int(1, 200)}/repo-${Math.floor(REPOS * rng.next() ** 2)}`
  const location = { repo, path: rng.pick(PATHS), line: rng.int(1, 400), commit: rng.chars(40, ALPHA.lowerHex) }
  const title = `${kind ?? 'credential'} in ${repo} ${location.path}`
  const risk = weighted(rng, [['low', 0.4], ['medium', 0.35], ['high', 0.2], ['critical', 0.05]] as const)
  let status = weighted(rng, [['open', 0.6], ['closed', 0.3], ['false_positive', 0.1]] as const)
  const action = risk === 'critical' || (risk === 'high' && rng.next() < 0.5) ? 'block' : 'monitor'
  const createdMs = start + Math.floor((id / n) * 730 * DAY) + rng.int(0, 3_600_000)
  const created = new Date(createdMs).toISOString()
  const updated = new Date(createdMs + (status === 'open' ? 0 : rng.int(0, 30) * DAY)).toISOString()
  let rotation: string | null = null
  const r = rng.next()
  if (r < 0.02 && status === 'open') rotation = 'requested'
  else if (r < 0.03) { rotation = 'rotated'; status = 'closed' }
  const hits = rng.next() < 0.7 ? 0 : Math.floor(1 / (1 - rng.next() * 0.9999)) // long tail, up to ~10 000
  const lastSeen = hits === 0 ? null : new Date(createdMs + rng.int(0, 60) * DAY).toISOString()
  const tokenCount = rng.next() < 0.8 ? 1 : rng.int(2, 3)
  const tokens: Row['tokens'] = []
  for (let i = 0; i < tokenCount; i++) {
    const value = `${PREFIX[kind ?? ''] ?? ''}${rng.chars(32, ALPHA.base62)}`
    tokens.push({ id: tokenId.next++, sha256: sha256Hex(value), preview: makePreview(value), kind })
  }
  const score = RISK_LEVELS.indexOf(risk) * 25 + rng.int(0, 20)
  const factors = JSON.stringify([{ factor: 'kind', weight: 30 }, { factor: 'source', weight: 10 }, { factor: 'age', weight: rng.int(0, 20) }])
  const leak: SqlValue[] = [id, title, source, kind, JSON.stringify(location), `fp:${id}`, risk, RISK_LEVELS.indexOf(risk), score, factors, 0,
    status, action, rotation, rotation === null ? null : updated, rotation === 'rotated' ? updated : null, rng.next() < 0.2 ? 1 : 0, created,
    hits, hits === 0 ? 0 : rng.int(1, 8), lastSeen, created, updated, searchText(title, location, tokens.map((t) => t.preview))]
  const decisions: SqlValue[][] = [[id, 'scan', created, null, JSON.stringify({ action, status: 'open', risk }), null]]
  if (status !== 'open') decisions.push([id, 'alice@example.com via key_0badc0de', updated, JSON.stringify({ action, status: 'open', risk }), JSON.stringify({ action, status, risk }), null])
  const sightings: SqlValue[][] = []
  for (let i = 0; i < Math.min(hits, 3); i++) {
    const at = new Date(createdMs + rng.int(0, 60) * DAY).toISOString()
    sightings.push([id, `node-${rng.int(1, 40)}`, tokens[0]!.sha256, at, 'api.example.com', 'GET', '/v1/things', `10.0.${rng.int(0, 255)}.${rng.int(0, 255)}`, action, at])
  }
  return { leak, tokens, decisions, sightings, open: status === 'open', action }
}

/** INSERT of `rows` into `table`, `ROWS_A_STATEMENT` rows a statement. */
async function insertRows(sql: Sql, table: string, columns: readonly string[], rows: readonly SqlValue[][]): Promise<void> {
  for (let i = 0; i < rows.length; i += ROWS_A_STATEMENT) {
    const chunk = rows.slice(i, i + ROWS_A_STATEMENT)
    const tuple = `(${columns.map(() => '?').join(', ')})`
    await sql.run(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${chunk.map(() => tuple).join(', ')}`, chunk.flat())
  }
}

/** Fills the migrated, empty store on `sql` with `n` leaks. */
async function fill(sql: Sql, n: number): Promise<void> {
  const start = Date.now() - 740 * DAY
  const tokenId = { next: 1 }
  let decisionId = 1
  let sightingId = 1
  const t0 = performance.now()
  for (let first = 1; first <= n; first += BATCH) {
    const rows: Row[] = []
    for (let id = first; id < first + BATCH && id <= n; id++) rows.push(makeLeak(id, n, tokenId, start))
    await sql.transaction(async () => {
      await insertRows(sql, 'leaks', LEAK_COLUMNS, rows.map((r) => r.leak))
      await insertRows(sql, 'tokens', ['id', 'sha256', 'preview', 'kind', 'created_at'], rows.flatMap((r) => r.tokens.map((t) => [t.id, t.sha256, t.preview, t.kind, r.leak[21]!])))
      await insertRows(sql, 'leak_tokens', ['leak_id', 'token_id'], rows.flatMap((r) => r.tokens.map((t) => [r.leak[0]!, t.id])))
      await insertRows(sql, 'decisions', ['id', 'leak_id', 'actor', 'at', 'from_state', 'to_state', 'comment'], rows.flatMap((r) => r.decisions.map((d) => [decisionId++, ...d])))
      await insertRows(sql, 'sightings', ['id', 'leak_id', 'node_id', 'sha256', 'at', 'host', 'method', 'route', 'client', 'verdict', 'received_at'], rows.flatMap((r) => r.sightings.map((s) => [sightingId++, ...s])))
      await insertRows(sql, 'index_entries', ['sha256', 'action', 'leak_id'], rows.filter((r) => r.open).flatMap((r) => r.tokens.map((t) => [t.sha256, r.action, r.leak[0]!])))
    })
    const done = Math.min(first + BATCH - 1, n)
    if (done % 100_000 < BATCH || done === n) console.log(`  filled ${done} leaks (${((performance.now() - t0) / 1000).toFixed(0)} s)`)
  }
  if (sql.dialect === 'postgres') {
    // Ids were given: move the identities past them, as an import does.
    for (const table of ['leaks', 'tokens', 'decisions', 'sightings']) {
      await sql.get(`SELECT setval(pg_get_serial_sequence('${table}', 'id'), (SELECT max(id) FROM ${table}))`)
    }
    await sql.exec('ANALYZE')
  }
}

// ---- the cached store -------------------------------------------------------------------------------

async function admin(statement: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: CLUSTER })
  await client.connect()
  try {
    return (await client.query(statement)).rows as unknown[]
  } finally {
    await client.end()
  }
}

function dbUrl(name: string): string {
  const url = new URL(CLUSTER!)
  url.pathname = `/${name}`
  return url.toString()
}

/** Migrates the store at `sql` (an older cache's copy) and says how long it took. */
async function migrateCopy(sql: Sql, from: number): Promise<void> {
  const t0 = performance.now()
  await migrate(sql)
  console.log(`  migrated the copy from schema ${from} to ${LATEST_SCHEMA_VERSION} in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
}

/** The SQLite data directory to run on: a copy of the cache (filled, or migrated from an older one, first). */
async function sqliteStore(): Promise<{ dataDir: string; cleanup: () => void }> {
  mkdirSync(CACHE_DIR, { recursive: true })
  const cacheOf = (v: number): string => join(CACHE_DIR, `leaks-${LEAKS}-v${v}`)
  const cache = cacheOf(LATEST_SCHEMA_VERSION)
  if (!existsSync(cache)) {
    const older = readdirSync(CACHE_DIR).map((d) => new RegExp(`^leaks-${LEAKS}-v(\\d+)$`).exec(d)).filter((m) => m !== null).map((m) => Number(m[1])).filter((v) => v < LATEST_SCHEMA_VERSION).sort((a, b) => b - a)[0]
    const partial = `${cache}.partial`
    rmSync(partial, { recursive: true, force: true })
    mkdirSync(partial)
    if (older !== undefined) {
      console.log(`copying the cached store of schema ${older} and migrating it`)
      copyFileSync(join(cacheOf(older), DB_FILE), join(partial, DB_FILE))
      const sql = openSqlite(partial)
      await migrateCopy(sql, older)
      await sql.exec('PRAGMA wal_checkpoint(TRUNCATE)')
      await sql.close()
    } else {
      console.log(`filling a SQLite store with ${LEAKS} leaks (kept in ${cache} for the next runs)`)
      const sql = openSqlite(partial)
      await migrate(sql)
      await fill(sql, LEAKS)
      await sql.exec('PRAGMA wal_checkpoint(TRUNCATE)')
      await sql.close()
    }
    renameSync(partial, cache)
  }
  const dataDir = join(CACHE_DIR, `run-${process.pid}`)
  mkdirSync(dataDir, { recursive: true })
  copyFileSync(join(cache, DB_FILE), join(dataDir, DB_FILE))
  return { dataDir, cleanup: () => rmSync(dataDir, { recursive: true, force: true }) }
}

/** The PostgreSQL database to run on: a copy of the cache database (filled, or migrated from an older one, first). */
async function postgresStore(): Promise<{ url: string; cleanup: () => Promise<void> }> {
  const cacheOf = (v: number): string => `leakgate_bench_list_${LEAKS}_v${v}`
  const cache = cacheOf(LATEST_SCHEMA_VERSION)
  const names = (await admin('SELECT datname FROM pg_database') as Array<{ datname: string }>).map((r) => r.datname)
  if (!names.includes(cache)) {
    const older = names.map((d) => new RegExp(`^leakgate_bench_list_${LEAKS}_v(\\d+)$`).exec(d)).filter((m) => m !== null).map((m) => Number(m[1])).filter((v) => v < LATEST_SCHEMA_VERSION).sort((a, b) => b - a)[0]
    const partial = `${cache}_partial`
    await admin(`DROP DATABASE IF EXISTS ${partial}`)
    if (older !== undefined) {
      console.log(`copying the cached database of schema ${older} and migrating it`)
      await admin(`CREATE DATABASE ${partial} TEMPLATE ${cacheOf(older)}`)
      const sql = new PostgresSql(dbUrl(partial))
      await migrateCopy(sql, older)
      await sql.exec('ANALYZE')
      await sql.close()
    } else {
      console.log(`filling a PostgreSQL database with ${LEAKS} leaks (kept as ${cache} for the next runs)`)
      await admin(`CREATE DATABASE ${partial}`)
      const sql = new PostgresSql(dbUrl(partial))
      await migrate(sql)
      await fill(sql, LEAKS)
      await sql.close()
    }
    await admin(`ALTER DATABASE ${partial} RENAME TO ${cache}`)
  }
  const work = `leakgate_bench_list_run_${process.pid}`
  await admin(`CREATE DATABASE ${work} TEMPLATE ${cache}`)
  return { url: dbUrl(work), cleanup: async () => { await admin(`DROP DATABASE IF EXISTS ${work} WITH (FORCE)`) } }
}

// ---- the control plane and the queries --------------------------------------------------------------

const engine = CLUSTER === undefined ? 'sqlite' : 'postgres'
const t0 = performance.now()
const store = CLUSTER === undefined ? { ...(await sqliteStore()), url: undefined } : { ...(await postgresStore()), dataDir: join(tmpdir(), `leakgate-bench-list-${process.pid}`) }
console.log(`store ready in ${((performance.now() - t0) / 1000).toFixed(0)} s`)

const adminKey = generateKey()
const env: Record<string, string> = {
  ...process.env as Record<string, string>, LEAKGATE_CP_PORT: '0', LEAKGATE_CP_HOST: '127.0.0.1', LEAKGATE_DATA_DIR: store.dataDir,
  LEAKGATE_ADMIN_KEY: adminKey, LEAKGATE_LOG_LEVEL: 'info', LEAKGATE_RISK_RECOMPUTE_SECONDS: '0',
}
if (store.url !== undefined) env.LEAKGATE_DATABASE_URL = store.url
const startAt = performance.now()
const { child, base } = await startControlPlaneChild(env, 1_800_000)
console.log(`control plane up in ${((performance.now() - startAt) / 1000).toFixed(1)} s (migrations included)`)

async function call(path: string): Promise<{ status: number; ms: number; body: unknown }> {
  const started = performance.now()
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${adminKey}` } })
  const text = await res.text()
  const ms = performance.now() - started
  return { status: res.status, ms, body: res.headers.get('content-type')?.includes('json') === true ? JSON.parse(text) as unknown : text }
}

async function nextCursor(path: string): Promise<string> {
  const { status, body } = await call(path)
  const cursor = (body as { nextCursor?: string | null }).nextCursor
  if (status !== 200 || typeof cursor !== 'string') throw new Error(`${path}: ${status}, no nextCursor`)
  return cursor
}

// What the queries ask for: the most and least common source and kind, words common, rare and absent.
const common = { source: SOURCES[0]!, kind: KINDS[0]! }
const rare = { source: SOURCES.at(-1)!, kind: KINDS.at(-1)! }
const SORTS = ['createdAt', 'updatedAt', 'risk', 'hits', 'lastSeenAt', 'title']

/** A query: its label, the path to ask (a function when it changes by round), and its goal. */
interface Case { label: string; path: (round: number) => string; goal: number; times: number[]; statuses: Set<number> }
const cases: Case[] = []
const add = (label: string, path: string | ((round: number) => string), goal = QUERY_GOAL_MS): void => {
  cases.push({ label, path: typeof path === 'string' ? () => path : path, goal, times: [], statuses: new Set() })
}

for (const sort of SORTS) add(`list sort=${sort}`, `/v1/leaks?sort=${sort}`)
for (const sort of SORTS) add(`list status=open sort=${sort}`, `/v1/leaks?status=open&sort=${sort}`)
add('list status=open sort=createdAt asc', '/v1/leaks?status=open&sort=createdAt&order=asc')
add('list status=open sort=risk asc', '/v1/leaks?status=open&sort=risk&order=asc')
add('list status=false_positive', '/v1/leaks?status=false_positive')
add('list risk=critical', '/v1/leaks?risk=critical')
add('list status=open risk=high sort=hits', '/v1/leaks?status=open&risk=high&sort=hits')
add(`list source=${common.source}`, `/v1/leaks?source=${common.source}`)
add(`list source=${rare.source}`, `/v1/leaks?source=${rare.source}`)
add(`list status=open source=${rare.source} sort=hits`, `/v1/leaks?status=open&source=${rare.source}&sort=hits`)
add(`list kind=${common.kind}`, `/v1/leaks?kind=${common.kind}`)
add(`list kind=${rare.kind}`, `/v1/leaks?kind=${rare.kind}`)
add(`list status=open kind=${rare.kind} sort=lastSeenAt`, `/v1/leaks?status=open&kind=${rare.kind}&sort=lastSeenAt`)
add('list action=block sort=risk', '/v1/leaks?action=block&sort=risk')
add('list rotation=requested', '/v1/leaks?rotation=requested')
add('list status=open rotation=requested sort=updatedAt', '/v1/leaks?status=open&rotation=requested&sort=updatedAt')
add('list q=common (config)', '/v1/leaks?q=config')
add('list status=open q=common (settings) sort=hits', '/v1/leaks?status=open&q=settings&sort=hits')
add('list q=rare (one repository)', '/v1/leaks?q=org-7%2Frepo-1900')
add('list q=absent', '/v1/leaks?q=zqxjv')
add('list q=preview (ghp_)', '/v1/leaks?q=ghp_')
add('leak by id', (round) => `/v1/leaks/${1 + ((round * 7919 + 17) % LEAKS)}`)
add('stats status=open', '/v1/stats?status=open')
add('stats status=all', '/v1/stats?status=all')
add('audit', '/v1/audit')
add('audit leakId', (round) => `/v1/audit?leakId=${1 + ((round * 104_729 + 3) % LEAKS)}`)

// Next pages: the cursors of pages 2 and 3 of each sort, read once before the rounds.
for (const sort of SORTS) {
  const c2 = await nextCursor(`/v1/leaks?status=open&sort=${sort}`)
  add(`page 2 status=open sort=${sort}`, `/v1/leaks?status=open&sort=${sort}&cursor=${c2}`)
  const c3 = await nextCursor(`/v1/leaks?status=open&sort=${sort}&cursor=${c2}`)
  add(`page 3 status=open sort=${sort}`, `/v1/leaks?status=open&sort=${sort}&cursor=${c3}`)
}
add('page 2 q=common (config)', `/v1/leaks?q=config&cursor=${await nextCursor('/v1/leaks?q=config')}`)
add('page 2 audit', `/v1/audit?cursor=${await nextCursor('/v1/audit')}`)
// The facets another branch adds: measured when the build has them.
if ((await call('/v1/leaks/facets?status=open')).status === 200) {
  add('facets', '/v1/leaks/facets')
  add('facets status=open', '/v1/leaks/facets?status=open')
  add(`facets status=open source=${common.source}`, `/v1/leaks/facets?status=open&source=${common.source}`)
  add('facets q=common (config)', '/v1/leaks/facets?q=config')
}
add('/metrics scrape', '/metrics', METRICS_GOAL_MS)

// One unmeasured pass warms the caches (and prepares the statements), then the measured rounds.
for (const c of cases) await call(c.path(0))
const order = new Rng(42)
for (let round = 1; round <= ROUNDS; round++) {
  const shuffled = [...cases]
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = order.int(0, i)
    ;[shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!]
  }
  for (const c of shuffled) {
    const r = await call(c.path(round))
    c.times.push(r.ms)
    c.statuses.add(r.status)
  }
}

child.kill('SIGTERM')
await new Promise((r) => child.once('exit', r))
await store.cleanup()

console.log(`\n${engine}, ${LEAKS} leaks, ${ROUNDS} rounds (load average now: ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')})`)
console.log('| query | p50 ms | p95 ms | max ms | goal |')
console.log('| --- | --- | --- | --- | --- |')
const figures: Array<{ label: string; p50: number; p95: number; max: number; goal: number; statuses: number[] }> = []
for (const c of cases) {
  const sorted = [...c.times].sort((a, b) => a - b)
  const f = { label: c.label, p50: nearestRank(sorted, 0.5), p95: nearestRank(sorted, 0.95), max: sorted.at(-1) ?? Number.NaN, goal: c.goal, statuses: [...c.statuses] }
  figures.push(f)
  const bad = f.statuses.some((s) => s !== 200) ? ` (status ${f.statuses.join(', ')})` : ''
  console.log(`| ${c.label}${bad} | ${f.p50.toFixed(1)} | ${f.p95.toFixed(1)} | ${f.max.toFixed(1)} | ${f.p95 <= c.goal ? 'met' : `**missed** (≤ ${c.goal})`} |`)
}
if (values.out !== undefined) writeFileSync(values.out, JSON.stringify({ engine, leaks: LEAKS, rounds: ROUNDS, figures }, null, 2))

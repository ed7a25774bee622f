/**
 * Test harness: a real control plane (app.inject, or listening on port 0) over a real store (a SQLite
 * file in a temp folder, or a fresh PostgreSQL database with LEAKGATE_TEST_STORE=postgres: see
 * test-store.ts), with one key of each role. Everything it makes is closed and removed in teardown.
 */
import { Writable } from 'node:stream'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { pino } from 'pino'
import { loggerOptions } from '../../lib/logger.js'
import { LeakIndex } from '../../node/leakdb/index.js'
import { HASH_KEY_ID_HEADER, hashKeyId, makePreview, sha256Hex } from '../../protocol/token-hash.js'
import { buildControlPlane, type ControlPlaneDeps } from '../app.js'
import { defaultControlPlaneConfig, hashKeyOf, type ControlPlaneConfig } from '../config.js'
import type { Store } from '../store/store.js'
import { generateKey } from '../store/keys.js'
import { tempDir, type Teardown } from '../../test/support.js'
import { openTestStore, TEST_SCAN_JOBS, testDatabaseUrl } from './test-store.js'

export { tempDir, waitFor, type Teardown } from '../../test/support.js'
export { openTestStore, sqliteOnly, storeSql, testDatabaseEnv, testDatabaseUrl, TEST_SCAN_JOBS, TEST_STORE } from './test-store.js'

/** A control plane under test. */
export interface TestPlane {
  app: FastifyInstance
  store: Store
  dir: string
  config: Readonly<ControlPlaneConfig>
  keys: { admin: string; analyst: string; node: string }
  /** Every log line the app wrote. */
  logs: string[]
  /** A JSON request with `key` (or none). */
  call(method: string, url: string, key?: string, body?: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse>
}

/** Builds a control plane over a fresh store; `overrides` are config options, `deps` what the app is built with besides (a clock). */
export async function startPlane(t: Teardown, overrides: Record<string, unknown> = {}, deps: Omit<ControlPlaneDeps, 'store' | 'logger' | 'loggerInstance'> = {}): Promise<TestPlane> {
  const dataDir = typeof overrides.dataDir === 'string' ? overrides.dataDir : tempDir(t, 'leakgate-cp-')
  // An overridden dataDir is a store the test reopens (a restart): the harness opens that one.
  const databaseUrl = await testDatabaseUrl(t, dataDir)
  const config = defaultControlPlaneConfig({ logLevel: 'info', ...TEST_SCAN_JOBS, ...overrides, dataDir, ...(databaseUrl === undefined ? {} : { databaseUrl }) })
  const dir = config.dataDir
  const store = await openTestStore(t, dir, {
    defaultAction: config.defaultAction,
    autoBlockRisk: config.autoBlockRisk,
    sightingsKeptPerLeak: config.limits.sightingsKeptPerLeak,
    changesRetention: config.changesRetention,
    hashKey: { key: hashKeyOf(config) },
  })
  const keys = { admin: generateKey(), analyst: generateKey(), node: generateKey() }
  await store.keys.add(keys.admin, 'admin')
  await store.keys.add(keys.analyst, 'analyst')
  await store.keys.add(keys.node, 'node')
  const logs: string[] = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString('utf8'))
      cb()
    },
  })
  const app = await buildControlPlane(config, { ...deps, store, loggerInstance: pino(loggerOptions('trace', 'test'), sink) })
  await app.ready()
  t.teardown(async () => {
    await app.close()
    await store.close()
  })
  const call: TestPlane['call'] = (method, url, key, body, headers = {}) =>
    app.inject({
      method: method as 'GET',
      url,
      headers: { ...(key === undefined ? {} : { authorization: `Bearer ${key}` }), ...headers },
      ...(body === undefined ? {} : { payload: body as object }),
    })
  return { app, store, dir, config, keys, logs, call }
}

/**
 * Every page of a paged list route (`limit` and `cursor`, as `/v1/leaks` and `/v1/nodes` take them), in
 * order, following `nextCursor` (at most 100 pages); each page's JSON as the route answered it.
 */
export async function allPages(plane: TestPlane, path: string, key: string): Promise<Array<{ items: unknown[]; nextCursor: string | null; [field: string]: unknown }>> {
  const pages: Array<{ items: unknown[]; nextCursor: string | null }> = []
  let cursor: string | null = null
  do {
    const url: string = cursor === null ? path : `${path}${path.includes('?') ? '&' : '?'}cursor=${cursor}`
    const page = (await plane.call('GET', url, key)).json() as { items: unknown[]; nextCursor: string | null }
    pages.push(page)
    cursor = page.nextCursor
  } while (cursor !== null && pages.length < 100)
  return pages
}

/** A new key with the node role: a node key reports only as the node it first reported as, so each node needs its own. */
export async function newNodeKey(plane: TestPlane): Promise<string> {
  const key = generateKey()
  await plane.store.keys.add(key, 'node')
  return key
}

/** The index a node would load now: the plane's snapshot, read by the node's own index code. */
export async function snapshotIndex(plane: TestPlane): Promise<LeakIndex> {
  const hashKey = hashKeyOf(plane.config)
  const headers: Record<string, string> = hashKey === undefined ? {} : { [HASH_KEY_ID_HEADER]: hashKeyId(hashKey) }
  const res = await plane.call('GET', '/v1/sync/snapshot', plane.keys.node, undefined, headers)
  if (res.statusCode !== 200) throw new Error(`snapshot answered ${res.statusCode}: ${res.body}`)
  return LeakIndex.fromSnapshot(res.rawPayload, hashKey === undefined ? {} : { hashKey })
}

/** A finding as a scanner pushes it in `POST /v1/scans` (hash and preview only), for `token`; `over` replaces fields. */
export function pushedFinding(token: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ruleId: 'github-pat', kind: 'github_pat', file: '.env', line: 1, column: 1,
    sha256: sha256Hex(token), preview: makePreview(token), fingerprint: sha256Hex(`fp:${token}`).slice(0, 32),
    inHistoryOnly: false, source: 'github', location: { repo: 'acme/api', path: '.env' }, ...over,
  }
}

/** Runs a command's `main(argv)` in process, capturing what it prints on console.log and console.error. */
export async function runMain(main: (argv: string[]) => Promise<number>, argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const log = console.log
  const error = console.error
  console.log = (...a: unknown[]) => { out += `${a.join(' ')}\n` }
  console.error = (...a: unknown[]) => { err += `${a.join(' ')}\n` }
  try {
    return { code: await main(argv), out, err }
  } finally {
    console.log = log
    console.error = error
  }
}

/** True once a scan's record says it ended (done or failed): on PostgreSQL it is `queued` until a worker takes it, then `running`. */
export function scanEnded(scan: { status: string }): boolean {
  return scan.status === 'done' || scan.status === 'failed'
}

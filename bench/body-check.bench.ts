/**
 * What checking a form body costs: POSTs with a clean 1 KiB form body (20 fields, one of them a
 * configured name) through the node with its body check on (the default) and off (`bodyCheckLimit: 0`,
 * `bodyCheckOverflow: pass`), both nodes in this process in front of one origin, A B A B.
 *
 *   node --import ./scripts/register-ts.js bench/body-check.bench.ts [--rounds 6] [--requests 20000] [--connections 8]
 *
 * Per round: a fixed number of requests over a keep-alive pool, timed with hrtime; the figures are
 * medians over rounds: µs of wall time per request, requests/s, and this process's CPU per request (the
 * client's share is the same for both nodes, so the difference is the check's). Also the walk alone:
 * ns to find the credentials of that body (`addBodyCredentials`), no I/O.
 */
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import { Pool } from 'undici'
import { startOrigin } from './origin.js'
import { buildNode, type LeakgateNode } from '../node/app.js'
import { addBodyCredentials, compileBodyPlan, FORM_BODY } from '../node/body-credentials.js'
import { DEFAULT_CREDENTIAL_PLACES, loadNodeConfig } from '../node/config.js'
import { LeakIndex } from '../node/leakdb/index.js'
import { encodeSnapshot } from '../protocol/snapshot.js'
import { median } from './stats.js'

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '6' }, requests: { type: 'string', default: '20000' }, connections: { type: 'string', default: '8' } } })
const ROUNDS = Number(args.rounds)
const REQUESTS = Number(args.requests)
const CONNECTIONS = Number(args.connections)

/** A clean form body of exactly 1024 bytes: 19 ordinary fields and a configured name. */
function formBody(): string {
  const fields = [`access_token=${randomBytes(20).toString('hex')}`]
  for (let i = 0; fields.join('&').length < 1024 - 60; i++) fields.push(`field${i}=${randomBytes(12).toString('hex')}`)
  const body = fields.join('&')
  return `${body}&pad=${'p'.repeat(1024 - body.length - 5)}`
}

const body = formBody()
if (Buffer.byteLength(body) !== 1024) throw new Error(`body is ${Buffer.byteLength(body)} bytes`)

// ---- the walk alone ----------------------------------------------------------------------------
const plan = compileBodyPlan(DEFAULT_CREDENTIAL_PLACES, { maxCredentials: 64, maxCredentialLength: 8192, bodyCheckLimit: 65_536 })
const out: string[] = []
const walks: number[] = []
for (let round = 0; round < 5; round++) {
  const n = 50_000
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) {
    out.length = 0
    addBodyCredentials(plan, FORM_BODY, body, out)
  }
  walks.push(Number(process.hrtime.bigint() - t0) / n)
}
console.log(`walk of a 1 KiB form body: ${median(walks).toFixed(0)} ns (median of 5 × 50 000)`)

// ---- through the node ----------------------------------------------------------------------------
const origin = await startOrigin()
const entries = Array.from({ length: 10_000 }, (_, i) => ({ sha256: randomBytes(32).toString('hex'), action: 'block' as const, leakId: i + 1 }))
const index = (): LeakIndex => LeakIndex.fromSnapshot(encodeSnapshot(entries, 1))
const silent = new Writable({ write: (_c, _e, cb) => cb() })

async function start(env: Record<string, string>): Promise<{ node: LeakgateNode; pool: Pool }> {
  const config = loadNodeConfig({ env: { LEAKGATE_LOG_LEVEL: 'warn', ...env }, flags: { upstream: origin.url, port: '0', 'admin-port': '0', host: '127.0.0.1' } })
  const node = buildNode(config, { index: index(), logStream: silent })
  await node.proxy.listen({ port: 0, host: '127.0.0.1' })
  const { port } = node.proxy.server.address() as AddressInfo
  return { node, pool: new Pool(`http://127.0.0.1:${port}`, { connections: CONNECTIONS, pipelining: 1 }) }
}

const targets = {
  'body check on': await start({}),
  'body check off': await start({ LEAKGATE_BODY_CHECK_LIMIT: '0', LEAKGATE_BODY_CHECK_OVERFLOW: 'pass' }),
}
const headers = { 'content-type': 'application/x-www-form-urlencoded' }

async function round(pool: Pool, n: number): Promise<{ us: number; rps: number; cpuUs: number }> {
  let next = 0
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++
      const res = await pool.request({ path: '/login', method: 'POST', headers, body })
      await res.body.dump()
      if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`)
    }
  }
  await Promise.all(Array.from({ length: CONNECTIONS }, worker))
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  const cpu = process.cpuUsage(cpu0)
  return { us: (seconds * 1e6) / n, rps: n / seconds, cpuUs: (cpu.user + cpu.system) / n }
}

const results: Record<string, { us: number[]; rps: number[]; cpuUs: number[] }> = {}
for (const [name, { pool }] of Object.entries(targets)) {
  await round(pool, 2000) // warm-up
  results[name] = { us: [], rps: [], cpuUs: [] }
}
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? Object.entries(targets) : Object.entries(targets).reverse()
  for (const [name, { pool }] of order) {
    const m = await round(pool, REQUESTS)
    const into = results[name] as { us: number[]; rps: number[]; cpuUs: number[] }
    into.us.push(m.us)
    into.rps.push(m.rps)
    into.cpuUs.push(m.cpuUs)
  }
}

console.log(`\n${REQUESTS} POSTs of a clean 1 KiB form body a round, ${CONNECTIONS} connections, ${ROUNDS} rounds A B B A; medians:`)
console.log('| node | µs/request (wall) | requests/s | process CPU µs/request |')
console.log('|---|---|---|---|')
for (const [name, r] of Object.entries(results)) console.log(`| ${name} | ${median(r.us).toFixed(1)} | ${median(r.rps).toFixed(0)} | ${median(r.cpuUs).toFixed(1)} |`)
const on = results['body check on'] as { rps: number[]; cpuUs: number[] }
const off = results['body check off'] as { rps: number[]; cpuUs: number[] }
console.log(`\nrequests/s on ÷ off: ${(median(on.rps) / median(off.rps)).toFixed(3)}; CPU per request on − off: ${(median(on.cpuUs) - median(off.cpuUs)).toFixed(1)} µs`)

for (const { node, pool } of Object.values(targets)) {
  await pool.close()
  await node.close()
}
await origin.close()

/**
 * What the tests of a node on several processes (LEAKGATE_WORKERS) share: leaked tokens made from a
 * seeded source, a GET on a connection of its own (so cluster hands each to a worker afresh), the
 * admin port's readiness and metrics as read by a test, and which workers logged a block.
 */
import { request as httpRequest } from 'node:http'
import { Rng, ALPHA } from '../../control-plane/detect/corpus/random.js'
import type { TestPlane } from '../../control-plane/test/harness.js'
import type { NodeProcess } from './cli-process.js'

const rng = new Rng(0x3047)
/** Two leaked tokens. */
export const first = `lgtest_${rng.chars(36, ALPHA.base62)}`
export const second = `lgtest_${rng.chars(36, ALPHA.base62)}`
/** Requests sent each time: enough that both workers get some. */
export const REQUESTS = 24

/** One GET on a connection of its own, so cluster hands each to a worker afresh. */
export function get(url: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end()
  })
}

/** Adds a blocked leak of `token` on the control plane; answers its id. */
export async function addLeak(plane: TestPlane, token: string): Promise<number> {
  const res = await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: token }], action: 'block' })
  if (res.statusCode !== 201) throw new Error(`POST /v1/leaks: ${res.statusCode} ${res.body}`)
  return (res.json() as { id: number }).id
}

/** How many sightings of a leak the control plane has. */
export async function hits(plane: TestPlane, leakId: number): Promise<number> {
  return ((await plane.call('GET', `/v1/leaks/${leakId}`, plane.keys.analyst)).json() as { hits: number }).hits
}

/** The node's /readyz answer, as far as the tests read it. */
export interface Ready { status?: string; revision?: number; workers?: { ready: number; each: { pid: number; listening: boolean; revision: number | null }[] } }

/** The node's /readyz answer. */
export async function readyz(adminUrl: string): Promise<Ready> {
  const res = await fetch(`${adminUrl}/readyz`)
  return (await res.json()) as Ready
}

/** One series' value in the node's /metrics (NaN when absent). */
export async function metric(adminUrl: string, series: string): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? NaN : Number(line.slice(series.length + 1))
}

/** The pids of the workers that logged a block of `leakId`. */
export function blockers(p: NodeProcess, leakId: number): Set<unknown> {
  return new Set(p.logs().filter((l) => l.msg === 'blocked a request carrying a leaked credential' && l.leakId === leakId).map((l) => l.worker))
}

/**
 * Waits for a node on several processes to listen, as cli-process.ts `listening` does, but longer: each
 * worker compiles the TypeScript sources again after the primary, which on a loaded machine takes minutes.
 */
export async function listeningWorkers(p: NodeProcess): Promise<{ url: string; adminUrl: string }> {
  const line = await p.waitForLog('leakgate node listening', () => true, 240_000)
  const { proxy, admin } = line as { proxy: { port: number }; admin: { port: number } }
  return { url: `http://127.0.0.1:${proxy.port}`, adminUrl: `http://127.0.0.1:${admin.port}` }
}

/**
 * Credential extraction, ns per request, before and after the reader table, in one process.
 *
 *   node --import ./scripts/register-ts.js bench/credentials.bench.ts
 *
 * Clean requests (what production traffic is made of): a Bearer token, Basic, a query key, a cookie,
 * and a typical path with path segments as a place. The old extraction (node/credentials.ts at commit
 * e3bc164, the last before the reader table, read from git into bench/.cache/ at start)
 * and the new one alternate A B A B for many rounds; each round times a batch of calls; the medians and
 * their ratio are printed. Only extraction is timed: hashing and lookup are the same for both.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import * as after from '../node/credentials.js'
import { DEFAULT_CREDENTIAL_PLACES, type CredentialPlace } from '../node/config.js'
import { upperMedian } from './stats.js'

// The extraction before the reader table, from git history: its only import (config types) re-pointed.
const BEFORE_COMMIT = 'e3bc164'
const cache = new URL('./.cache/', import.meta.url)
mkdirSync(cache, { recursive: true })
const beforeSource = execFileSync('git', ['show', `${BEFORE_COMMIT}:node/credentials.ts`], { cwd: new URL('..', import.meta.url), encoding: 'utf8' })
  .replace("from './config.js'", "from '../../node/config.js'")
  // The old plan put every non-header, non-query place among cookies; the path place did not exist then.
  .replace('} else {\n      cookieNames.add(place.name)', "} else if (place.in === 'cookie') {\n      cookieNames.add(place.name)")
writeFileSync(new URL('credentials-before.ts', cache), beforeSource)
/** The old module's two functions, as this bench calls them. */
interface Extraction {
  compilePlan(places: readonly CredentialPlace[], limits: { maxCredentials: number; maxCredentialLength: number }): unknown
  extractCredentials(plan: unknown, headers: Record<string, string>, url: string, out: string[]): number
}
const before = (await import(new URL('credentials-before.ts', cache).href)) as Extraction

const limits = { maxCredentials: 64, maxCredentialLength: 8192 }
const cookiePlaces: CredentialPlace[] = [...DEFAULT_CREDENTIAL_PLACES.filter((p) => p.in !== 'path'), { in: 'cookie', name: 'session' }]
const TOKEN = 'ghp_16C7e42F292c6912E7710c838347Ae178B4a' // 40 ASCII characters, the shape of a GitHub token

interface Case {
  name: string
  /** The request. */
  headers: Record<string, string>
  url: string
  /** A: the old extraction (or the new one without the path place); B: the new one. */
  a: (headers: Record<string, string>, url: string, out: string[]) => number
  b: (headers: Record<string, string>, url: string, out: string[]) => number
  labels: [string, string]
}

// Path segments became a default place with the reader table; old and new are compared without it,
// and the path place on its own below.
const noPath = DEFAULT_CREDENTIAL_PLACES.filter((p) => p.in !== 'path')
const oldDefault = before.compilePlan(noPath, limits)
const newDefault = after.compilePlan(noPath, limits)
const oldCookie = before.compilePlan(cookiePlaces, limits)
const newCookie = after.compilePlan(cookiePlaces, limits)
const newPath = after.compilePlan([...noPath, { in: 'path' }], limits)
const oldVsNew = (o: unknown, n: after.CredentialPlan): Pick<Case, 'a' | 'b' | 'labels'> => ({
  a: (h, u, out) => before.extractCredentials(o, h, u, out),
  b: (h, u, out) => after.extractCredentials(n, h, u, out),
  labels: ['old', 'new'],
})
const withoutVsWithPath: Pick<Case, 'a' | 'b' | 'labels'> = {
  a: (h, u, out) => after.extractCredentials(newDefault, h, u, out),
  b: (h, u, out) => after.extractCredentials(newPath, h, u, out),
  labels: ['no path', '+ path'],
}

const cases: Case[] = [
  { name: 'Bearer', headers: { authorization: `Bearer ${TOKEN}`, host: 'api.test', accept: '*/*' }, url: '/v1/users/me', ...oldVsNew(oldDefault, newDefault) },
  { name: 'Basic', headers: { authorization: `Basic ${Buffer.from(`alice:${TOKEN}`).toString('base64')}`, host: 'api.test' }, url: '/v1/users/me', ...oldVsNew(oldDefault, newDefault) },
  { name: 'query key', headers: { host: 'api.test' }, url: `/v1/search?q=shoes&page=2&api_key=${TOKEN}`, ...oldVsNew(oldDefault, newDefault) },
  { name: 'cookie', headers: { host: 'api.test', cookie: `theme=dark; session=${TOKEN}; lang=en` }, url: '/v1/users/me', ...oldVsNew(oldCookie, newCookie) },
  { name: 'path place, words', headers: { authorization: `Bearer ${TOKEN}` }, url: '/v1/organizations/acme/repositories/widgets/issues?state=open', ...withoutVsWithPath },
  { name: 'path place, a UUID', headers: { authorization: `Bearer ${TOKEN}` }, url: '/v1/orders/3f2a6c1e-8b7d-4e1a-9c3b-2d5e7f9a1b4c/items', ...withoutVsWithPath },
]

const BATCH = 10_000
const ROUNDS = 51

function time(fn: () => void): number {
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < BATCH; i++) fn()
  return Number(process.hrtime.bigint() - t0) / BATCH
}

console.log(`credential extraction, ns/request: median of ${ROUNDS} rounds of ${BATCH}, A and B alternated`)
for (const c of cases) {
  const outA: string[] = []
  const outB: string[] = []
  const runA = (): void => void c.a(c.headers, c.url, outA)
  const runB = (): void => void c.b(c.headers, c.url, outB)
  for (let i = 0; i < 5; i++) {
    time(runA)
    time(runB)
  }
  const a: number[] = []
  const b: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    a.push(time(runA))
    b.push(time(runB))
  }
  const ma = upperMedian(a)
  const mb = upperMedian(b)
  const [la, lb] = c.labels
  console.log(`  ${c.name.padEnd(20)} ${la} ${ma.toFixed(0).padStart(5)} ns (${outA.length} cand.)  ${lb} ${mb.toFixed(0).padStart(5)} ns (${outB.length} cand.)  B/A ${(mb / ma).toFixed(2)}  B-A ${(mb - ma).toFixed(0)} ns`)
}

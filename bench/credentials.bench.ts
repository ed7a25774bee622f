/**
 * Credential extraction, ns per request, before and after the reader table, in one process.
 *
 *   node --import ./scripts/register-ts.js bench/credentials.bench.ts
 *
 * Clean requests (what production traffic is made of): a Bearer token, Basic, a query key, a cookie,
 * and a typical path with path segments as a place. The old extraction (bench/credentials-before.ts)
 * and the new one alternate A B A B for many rounds; each round times a batch of calls; the medians and
 * their ratio are printed. Only extraction is timed: hashing and lookup are the same for both.
 */
import * as before from './credentials-before.js'
import * as after from '../node/credentials.js'
import { DEFAULT_CREDENTIAL_PLACES, type CredentialPlace } from '../node/config.js'

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0
const limits = { maxCredentials: 64, maxCredentialLength: 8192 }
const cookiePlaces: CredentialPlace[] = [...DEFAULT_CREDENTIAL_PLACES, { in: 'cookie', name: 'session' }]
const TOKEN = 'ghp_16C7e42F292c6912E7710c838347Ae178B4a' // 40 ASCII characters, the shape of a GitHub token

interface Case {
  name: string
  places: readonly CredentialPlace[]
  /** Places for the new extraction, when they differ (the path place did not exist before). */
  newPlaces?: readonly CredentialPlace[]
  headers: Record<string, string>
  url: string
}

const cases: Case[] = [
  { name: 'Bearer', places: DEFAULT_CREDENTIAL_PLACES, headers: { authorization: `Bearer ${TOKEN}`, host: 'api.test', accept: '*/*' }, url: '/v1/users/me' },
  { name: 'Basic', places: DEFAULT_CREDENTIAL_PLACES, headers: { authorization: `Basic ${Buffer.from(`alice:${TOKEN}`).toString('base64')}`, host: 'api.test' }, url: '/v1/users/me' },
  { name: 'query key', places: DEFAULT_CREDENTIAL_PLACES, headers: { host: 'api.test' }, url: `/v1/search?q=shoes&page=2&api_key=${TOKEN}` },
  { name: 'cookie', places: cookiePlaces, headers: { host: 'api.test', cookie: `theme=dark; session=${TOKEN}; lang=en` }, url: '/v1/users/me' },
  { name: 'Bearer + path place', places: DEFAULT_CREDENTIAL_PLACES, newPlaces: [...DEFAULT_CREDENTIAL_PLACES, { in: 'path' }], headers: { authorization: `Bearer ${TOKEN}` }, url: '/v1/organizations/acme/repositories/widgets/issues?state=open' },
]

const BATCH = 20_000
const ROUNDS = 31

function time(fn: () => void): number {
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < BATCH; i++) fn()
  return Number(process.hrtime.bigint() - t0) / BATCH
}

console.log(`credential extraction, ns/request: median of ${ROUNDS} rounds of ${BATCH}, old and new alternated`)
for (const c of cases) {
  const oldPlan = before.compilePlan(c.places, limits)
  const newPlan = after.compilePlan(c.newPlaces ?? c.places, limits)
  const outOld: string[] = []
  const outNew: string[] = []
  let sink = 0
  const runOld = (): void => {
    sink += before.extractCredentials(oldPlan, c.headers, c.url, outOld)
  }
  const runNew = (): void => {
    sink += after.extractCredentials(newPlan, c.headers, c.url, outNew)
  }
  for (let i = 0; i < 3; i++) {
    time(runOld)
    time(runNew)
  }
  const a: number[] = []
  const b: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    a.push(time(runOld))
    b.push(time(runNew))
  }
  const ma = median(a)
  const mb = median(b)
  console.log(`  ${c.name.padEnd(22)} old ${ma.toFixed(0).padStart(5)} ns (${outOld.length} cand.)  new ${mb.toFixed(0).padStart(5)} ns (${outNew.length} cand.)  new/old ${(mb / ma).toFixed(2)}${sink === 0 ? '' : ''}`)
}

/**
 * `leakgate demo`: a whole Leakgate on one machine, in one process: the control plane (API, console,
 * sync), one node following it, and a small demo upstream behind the node. It seeds an admin and a
 * node key and a dozen demo leaks (several kinds, sources, risks and states; a few already seen by the
 * node), then prints the URLs and curl lines to try, last, and once more after the first requests.
 *
 * The demo's tokens are made up and printed on purpose so you can send them; they reach the store only
 * as hashes, like any other token.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import { mkdirSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { buildControlPlane } from './control-plane/app.js'
import { loadControlPlaneConfig } from './control-plane/config.js'
import { generateKey } from './control-plane/store/keys.js'
import { Store } from './control-plane/store/store.js'
import { buildNode } from './node/app.js'
import { loadNodeConfig } from './node/config.js'
import { usageMistake } from './lib/usage.js'

const USAGE = `usage: leakgate demo [--data-dir DIR] [--host HOST]

Starts, in one process: the control plane on LEAKGATE_CP_PORT (8080), a node on LEAKGATE_PORT (8000)
with its admin port on LEAKGATE_ADMIN_PORT (9100), and a demo upstream API on LEAKGATE_DEMO_UPSTREAM_PORT
(8090). Data goes to LEAKGATE_DATA_DIR (./data). Prints the console URL, an admin key and curl lines.
LEAKGATE_ADMIN_KEY / LEAKGATE_NODE_KEY, when set, are used instead of new keys. Ctrl-C stops everything.`

/** The made-up leaked tokens the demo registers. */
export const DEMO_TOKENS = {
  block: 'lg_demo_live_4f8a1c9e2b7d6350aa31c0ffee5eed01',
  monitor: 'lg_demo_live_9b2e7d4c1a0f8e6352bb47decaf0cafe',
} as const

function demoUpstream(): Server {
  return createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      // The demo API answers with what the node let through, so the monitor headers can be seen.
      const seen = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith('leakgate-') || k.startsWith('x-forwarded-')))
      res.setHeader('content-type', 'application/json')
      res.end(`${JSON.stringify({ ok: true, method: req.method, path: req.url?.split('?')[0], headersFromLeakgate: seen })}\n`)
    })
  })
}

export async function main(argv: string[]): Promise<number> {
  let values: { 'data-dir'?: string | undefined; host?: string | undefined; help?: boolean | undefined }
  try {
    ;({ values } = parseArgs({ args: argv, options: { 'data-dir': { type: 'string' }, host: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }))
  } catch (err) {
    console.error(usageMistake('demo', (err as Error).message))
    return 2
  }
  if (values.help === true) {
    console.log(USAGE)
    return 0
  }
  const env = process.env
  const host = values.host ?? '127.0.0.1'
  const dataDir = resolve(values['data-dir'] ?? env.LEAKGATE_DATA_DIR ?? './data')
  mkdirSync(dataDir, { recursive: true })
  const adminKey = env.LEAKGATE_ADMIN_KEY ?? generateKey()
  const nodeKey = env.LEAKGATE_NODE_KEY ?? generateKey()
  const upstreamPort = Number(env.LEAKGATE_DEMO_UPSTREAM_PORT ?? '8090')

  const upstream = demoUpstream()
  await new Promise<void>((ok, fail) => upstream.once('error', fail).listen(upstreamPort, host, ok))
  const upstreamUrl = `http://${host}:${portOf(upstream.address())}`

  // Quiet unless asked: request logs would scroll the banner (the URLs and the admin key) away.
  const logLevel = env.LEAKGATE_LOG_LEVEL ?? 'warn'
  const cpConfig = loadControlPlaneConfig({ env: { ...env, LEAKGATE_DATA_DIR: dataDir, LEAKGATE_LOG_LEVEL: logLevel }, flags: { host } })
  const store = await Store.open(cpConfig.dataDir, {
    defaultAction: cpConfig.defaultAction,
    autoBlockRisk: cpConfig.autoBlockRisk,
    sightingsKeptPerLeak: cpConfig.limits.sightingsKeptPerLeak,
    changesRetention: cpConfig.changesRetention,
  })
  await store.keys.add(adminKey, 'admin', 'demo admin')
  await store.keys.add(nodeKey, 'node', 'demo node')
  const cp = await buildControlPlane(cpConfig, { store })
  cp.addHook('onClose', async () => store.close())
  await cp.listen({ port: cpConfig.port, host })
  const cpUrl = `http://${host}:${portOf(cp.server.address())}`

  const seeded = await seedDemoLeaks(cpUrl, adminKey)

  const nodeConfig = loadNodeConfig({
    env: {
      ...env,
      LEAKGATE_UPSTREAM: upstreamUrl,
      LEAKGATE_CONTROL_PLANE: cpUrl,
      LEAKGATE_NODE_KEY: nodeKey,
      LEAKGATE_NODE_ID: env.LEAKGATE_NODE_ID ?? 'demo-node',
      LEAKGATE_CACHE_DIR: join(dataDir, 'node'),
      LEAKGATE_LOG_LEVEL: logLevel,
    },
    flags: { host, 'admin-host': host },
  })
  const node = buildNode(nodeConfig, { version: 'demo' })
  await node.admin.listen({ port: nodeConfig.adminPort, host })
  await node.proxy.listen({ port: nodeConfig.port, host })
  const nodeUrl = `http://${host}:${portOf(node.proxy.server.address())}`
  const adminUrl = `http://${host}:${portOf(node.admin.server.address())}`
  await waitForIndex(`${adminUrl}/readyz`)
  // A few of the seeded tokens are used once through the node, so the console shows where tokens were seen.
  await sendSightings(nodeUrl, seeded)
  // The node reports sightings in batches (sightingFlushMs): the console shows them once they arrive.
  await waitForHits(cpUrl, adminKey, seeded.length)

  const freshAdmin = env.LEAKGATE_ADMIN_KEY === undefined
  const banner = (): void => console.log(
    [
      '',
      'Leakgate is running.',
      '',
      `  Console        ${cpUrl}/`,
      `  Admin API key  ${adminKey}${freshAdmin ? '   (new each run; set LEAKGATE_ADMIN_KEY to keep one)' : ''}`,
      `  API docs       ${cpUrl}/docs`,
      `  Node (proxy)   ${nodeUrl}  ->  demo upstream ${upstreamUrl}`,
      `  Node metrics   ${adminUrl}/metrics`,
      '',
      'Try it:',
      `  curl -i ${nodeUrl}/v1/orders -H 'Authorization: Bearer ${DEMO_TOKENS.block}'     # leaked, action block: 403`,
      `  curl -i ${nodeUrl}/v1/orders -H 'X-API-Key: ${DEMO_TOKENS.monitor}'              # leaked, action monitor: passes, flagged`,
      `  curl -i ${nodeUrl}/v1/orders -H 'Authorization: Bearer a-token-nobody-leaked'    # clean: passes untouched`,
      `  curl -s ${cpUrl}/v1/leaks -H 'Authorization: Bearer ${adminKey}'`,
      '',
      'Ctrl-C stops everything.',
    ].join('\n'),
  )
  banner()
  // Whatever the first requests log (at LEAKGATE_LOG_LEVEL=info, say) scrolls the banner away: print it
  // once more when they have settled.
  let again: NodeJS.Timeout | undefined
  let repeated = false
  const onFirstRequests = (req: IncomingMessage): void => {
    // The node's own traffic to the control plane (sync, heartbeats, sightings) is not someone trying it.
    if (repeated || /^\/v1\/(sync|nodes|sightings)\b/.test(req.url ?? '')) return
    clearTimeout(again)
    again = setTimeout(() => {
      repeated = true
      banner()
    }, 3000)
    again.unref()
  }
  cp.server.on('request', onFirstRequests)
  node.proxy.server.on('request', onFirstRequests)

  let closing = false
  const shutdown = (): void => {
    if (closing) return
    closing = true
    Promise.allSettled([node.close(), cp.close(), new Promise((ok) => upstream.close(ok))]).then(() => process.exit(0))
  }
  process.once('SIGINT', shutdown)
  process.once('SIGTERM', shutdown)
  return -1
}

function portOf(address: string | AddressInfo | null): number {
  if (address === null || typeof address === 'string') throw new Error('demo: a server has no TCP address')
  return address.port
}

/** One demo leak: what the console shows, and the decision it is left in. */
interface DemoLeak {
  title: string
  source: string
  kind: string
  risk: 'low' | 'medium' | 'high' | 'critical'
  action: 'block' | 'monitor'
  location?: Record<string, string | number>
  /** Decided after it was added: a false positive, or closed once rotated. */
  then?: { status: 'false_positive' | 'closed'; comment: string }
  /** Requests made with its token through the node at start (sightings the console shows). */
  sightings?: number
  /** The printed demo token, or none: a random one is made (never printed). */
  token?: string
}

const DEMO_LEAKS: readonly DemoLeak[] = [
  { title: 'Payment API key in a public gist', source: 'gist', kind: 'payment_api_key', risk: 'critical', action: 'block', token: DEMO_TOKENS.block, sightings: 3, location: { url: 'https://gist.github.com/acme-dev/4f8a1c9e2b7d' } },
  { title: 'Partner key in a shared Postman collection', source: 'postman', kind: 'partner_api_key', risk: 'medium', action: 'monitor', token: DEMO_TOKENS.monitor, sightings: 2, location: { url: 'https://www.postman.com/acme-partners/workspace/orders' } },
  { title: 'GitHub token in acme/api .env', source: 'github', kind: 'github_pat', risk: 'high', action: 'block', sightings: 1, location: { repo: 'acme/api', path: '.env', line: 3, commit: '9c1e2f7a', branch: 'main', url: 'https://github.com/acme/api/blob/9c1e2f7a/.env#L3' } },
  { title: 'AWS access key in acme/infra history', source: 'github', kind: 'aws_access_key', risk: 'critical', action: 'block', location: { repo: 'acme/infra', path: 'terraform/prod.tfvars', line: 12, commit: '3b7d0e55', branch: 'main' } },
  { title: 'Slack bot token in a paste', source: 'paste', kind: 'slack_bot_token', risk: 'high', action: 'monitor', sightings: 1, location: { url: 'https://pastebin.com/u/acme-ops' } },
  { title: 'OpenAI key in acme/ml-experiments notebook', source: 'gitlab', kind: 'openai_api_key', risk: 'high', action: 'block', location: { repo: 'acme/ml-experiments', path: 'notebooks/eval.ipynb', line: 41, branch: 'main' } },
  { title: 'npm token in a published package', source: 'npm', kind: 'npm_token', risk: 'high', action: 'block', location: { url: 'https://www.npmjs.com/package/@acme/build-tools' } },
  { title: 'Twilio key in a Docker image layer', source: 'dockerhub', kind: 'twilio_api_key', risk: 'medium', action: 'monitor', location: { repo: 'acme/notifier', path: '/app/config.json' } },
  { title: 'Database password in a support ticket', source: 'manual', kind: 'password', risk: 'medium', action: 'monitor' },
  { title: 'Mailgun key in a mobile app bundle', source: 'manual', kind: 'mailgun_api_key', risk: 'low', action: 'monitor' },
  { title: 'Stripe test key in acme/docs examples', source: 'github', kind: 'stripe_test_key', risk: 'low', action: 'monitor', location: { repo: 'acme/docs', path: 'payments/quickstart.md', line: 88 }, then: { status: 'false_positive', comment: 'a test-mode key from the docs: it opens nothing' } },
  { title: 'SendGrid key in acme/web history', source: 'github', kind: 'sendgrid_api_key', risk: 'medium', action: 'block', location: { repo: 'acme/web', path: 'config/mail.yml', line: 7, commit: 'e41a9d03' }, then: { status: 'closed', comment: 'rotated by the mail team' } },
]

/** A seeded leak's token and the requests to make with it through the node. */
interface Seeded {
  token: string
  sightings: number
}

/**
 * Adds the demo leaks the store does not have yet (by title), with their decisions. Returns the tokens
 * of the ones added now that should be seen through the node (the made-up ones exist only in memory).
 */
async function seedDemoLeaks(cpUrl: string, adminKey: string): Promise<Seeded[]> {
  const headers = { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' }
  const existing = (await (await fetch(`${cpUrl}/v1/leaks?limit=200`, { headers })).json()) as { items?: Array<{ title: string }> }
  const seeded: Seeded[] = []
  for (const d of DEMO_LEAKS) {
    if (existing.items?.some((l) => l.title === d.title) === true) continue
    const token = d.token ?? `demo_${d.kind}_${randomBytes(18).toString('base64url')}`
    const res = await fetch(`${cpUrl}/v1/leaks`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ title: d.title, source: d.source, kind: d.kind, action: d.action, risk: d.risk, tokens: [{ value: token }], ...(d.location === undefined ? {} : { location: d.location }) }),
    })
    if (res.status !== 201) throw new Error(`could not seed the demo leak "${d.title}": ${res.status} ${await res.text()}`)
    if (d.then !== undefined) {
      const { id } = (await res.json()) as { id: number }
      const decided = await fetch(`${cpUrl}/v1/leaks/${id}`, { method: 'PATCH', headers, body: JSON.stringify(d.then) })
      if (decided.status !== 200) throw new Error(`could not decide the demo leak "${d.title}": ${decided.status} ${await decided.text()}`)
    }
    if (d.sightings !== undefined) seeded.push({ token, sightings: d.sightings })
  }
  return seeded
}

/** Uses each seeded token through the node as often as asked; the node reports the sightings. */
async function sendSightings(nodeUrl: string, seeded: readonly Seeded[]): Promise<void> {
  for (const { token, sightings } of seeded) {
    for (let i = 0; i < sightings; i++) {
      const res = await fetch(`${nodeUrl}/v1/orders`, { headers: { authorization: `Bearer ${token}` } }).catch(() => undefined)
      await res?.body?.cancel()
    }
  }
}

/** Waits (a few seconds at most) until `leaks` leaks show hits in the control plane. */
async function waitForHits(cpUrl: string, adminKey: string, leaks: number): Promise<void> {
  const deadline = Date.now() + 10_000
  while (leaks > 0 && Date.now() < deadline) {
    const res = await fetch(`${cpUrl}/v1/leaks?limit=200`, { headers: { authorization: `Bearer ${adminKey}` } }).catch(() => undefined)
    const seen = res?.ok === true ? ((await res.json()) as { items: Array<{ hits: number }> }).items.filter((l) => l.hits > 0).length : 0
    if (seen >= leaks) return
    await new Promise((ok) => setTimeout(ok, 200))
  }
}

async function waitForIndex(readyz: string): Promise<void> {
  const deadline = Date.now() + 15_000
  while (Date.now() < deadline) {
    const res = await fetch(readyz).catch(() => undefined)
    if (res?.status === 200) return
    await new Promise((ok) => setTimeout(ok, 100))
  }
  console.error('leakgate demo: the node has not loaded an index yet; requests pass until it does')
}

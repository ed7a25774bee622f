/**
 * `leakgate demo`: a whole Leakgate on one machine, in one process: the control plane (API, console,
 * sync), one node following it, and a small demo upstream behind the node. It seeds an admin and a
 * node key and two demo leaks (one blocked, one monitored), then prints the URLs and curl lines to try.
 *
 * The demo's tokens are made up and printed on purpose so you can send them; they reach the store only
 * as hashes, like any other token.
 */
import { createServer, type Server } from 'node:http'
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
    console.error(`leakgate demo: ${(err as Error).message}\n\n${USAGE}`)
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

  const cpConfig = loadControlPlaneConfig({ env: { ...env, LEAKGATE_DATA_DIR: dataDir }, flags: { host } })
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

  await seedDemoLeaks(cpUrl, adminKey)

  const nodeConfig = loadNodeConfig({
    env: {
      ...env,
      LEAKGATE_UPSTREAM: upstreamUrl,
      LEAKGATE_CONTROL_PLANE: cpUrl,
      LEAKGATE_NODE_KEY: nodeKey,
      LEAKGATE_NODE_ID: env.LEAKGATE_NODE_ID ?? 'demo-node',
      LEAKGATE_CACHE_DIR: join(dataDir, 'node'),
    },
    flags: { host, 'admin-host': host },
  })
  const node = buildNode(nodeConfig, { version: 'demo' })
  await node.admin.listen({ port: nodeConfig.adminPort, host })
  await node.proxy.listen({ port: nodeConfig.port, host })
  const nodeUrl = `http://${host}:${portOf(node.proxy.server.address())}`
  const adminUrl = `http://${host}:${portOf(node.admin.server.address())}`
  await waitForIndex(`${adminUrl}/readyz`)

  const freshAdmin = env.LEAKGATE_ADMIN_KEY === undefined
  console.log(
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

async function seedDemoLeaks(cpUrl: string, adminKey: string): Promise<void> {
  const demo = [
    { title: 'Demo: payment key in a public gist', source: 'paste', action: 'block', risk: 'critical', token: DEMO_TOKENS.block },
    { title: 'Demo: partner key in a shared Postman collection', source: 'postman', action: 'monitor', risk: 'medium', token: DEMO_TOKENS.monitor },
  ]
  const headers = { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' }
  const existing = (await (await fetch(`${cpUrl}/v1/leaks?q=Demo%3A&limit=50`, { headers })).json()) as { items?: Array<{ title: string }> }
  for (const d of demo) {
    if (existing.items?.some((l) => l.title === d.title) === true) continue
    const res = await fetch(`${cpUrl}/v1/leaks`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ title: d.title, source: d.source, action: d.action, risk: d.risk, tokens: [{ value: d.token }] }),
    })
    if (res.status !== 201) throw new Error(`could not seed the demo leak "${d.title}": ${res.status} ${await res.text()}`)
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

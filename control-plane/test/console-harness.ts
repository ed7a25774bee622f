/**
 * What the console's browser tests (and `scripts/screenshots.ts`) start: a small upstream API, the
 * real control plane and the real node (each on port 0, in this process), Debian's Chromium driven by
 * playwright-core, and a handful of leaks to show.
 */
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { chromium, type Browser, type Page } from 'playwright-core'
import { buildNode } from '../../node/app.js'
import { loadNodeConfig } from '../../node/config.js'
import { buildControlPlane } from '../app.js'
import { loadControlPlaneConfig } from '../config.js'
import { generateKey } from '../store/keys.js'
import { tempDir, type Teardown } from '../../test/support.js'
import { openTestStore } from './test-store.js'

export { waitFor } from '../../test/support.js'

/** Where Debian's chromium package puts the browser (`apt-get install chromium`). */
export const CHROMIUM = process.env.LEAKGATE_CHROMIUM ?? '/usr/bin/chromium'

/** Anything with an async close, closed in reverse order by `Stack.close`. */
type Closer = () => unknown

/**
 * Collects teardown steps so one `t.teardown(stack.close)` undoes everything a test made; being a
 * `Teardown` itself, it takes the shared `tempDir` too (screenshots.ts runs outside tap).
 */
export class Stack implements Teardown {
  readonly #closers: Closer[] = []
  teardown(closer: Closer): void {
    this.#closers.push(closer)
  }
  close = async (): Promise<void> => {
    for (const closer of this.#closers.splice(0).reverse()) {
      try {
        await closer()
      } catch (err) {
        console.error('teardown:', err)
      }
    }
  }
}

/** The API behind the node: answers 200 with the path it was asked for, and counts requests. */
export async function startUpstream(stack: Stack): Promise<{ url: string; hits: () => number }> {
  let hits = 0
  const server: Server = createServer((req, res) => {
    hits += 1
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ ok: true, path: req.url }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  stack.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, hits: () => hits }
}

/** The keys a test signs in with (random each run; admin and node seeded through the config). */
export interface Keys {
  admin: string
  analyst: string
  node: string
}

/**
 * The real control plane on port 0 with a fresh store (a SQLite file in a temp dir, or a PostgreSQL database: test-store.ts), its keys added as
 * `leakgate control-plane` seeds them (and as `leakgate keys create --role analyst` adds one); `env`
 * adds configuration.
 */
export async function startControlPlane(stack: Stack, keys: Keys, env: Record<string, string> = {}): Promise<{ url: string; dataDir: string }> {
  const dataDir = tempDir(stack, 'leakgate-console-cp-')
  const config = loadControlPlaneConfig({
    // Nodes go stale after 2 s here (30 s by default) so the nodes page can be seen flagging one;
    // webhooks may reach the test's loopback receiver.
    env: {
      LEAKGATE_DATA_DIR: dataDir, LEAKGATE_CP_PORT: '0', LEAKGATE_CP_HOST: '127.0.0.1', LEAKGATE_LOG_LEVEL: 'warn', LEAKGATE_NODE_STALE_SECONDS: '2',
      LEAKGATE_WEBHOOKS: JSON.stringify({ allowPrivateTargets: true, pollMilliseconds: 200 }),
      ...env,
    },
  })
  const store = await openTestStore(stack, dataDir)
  stack.teardown(() => store.close())
  await store.keys.add(keys.admin, 'admin', 'console test admin')
  await store.keys.add(keys.analyst, 'analyst', 'console test analyst')
  await store.keys.add(keys.node, 'node', 'console test node')
  const app = await buildControlPlane(config, { store })
  stack.teardown(() => app.close())
  const address = await app.listen({ port: config.port, host: '127.0.0.1' })
  return { url: address.replace(/\/$/, ''), dataDir }
}

/** The real node on port 0, following the control plane with the node key. */
export async function startNode(stack: Stack, controlPlane: string, upstream: string, nodeKey: string): Promise<{ url: string; adminUrl: string }> {
  const cacheDir = tempDir(stack, 'leakgate-console-node-')
  const config = loadNodeConfig({
    env: {
      LEAKGATE_UPSTREAM: upstream,
      LEAKGATE_CONTROL_PLANE: controlPlane,
      LEAKGATE_NODE_KEY: nodeKey,
      LEAKGATE_NODE_ID: 'console-test-edge',
      LEAKGATE_CACHE_DIR: cacheDir,
      LEAKGATE_PORT: '0',
      LEAKGATE_ADMIN_PORT: '0',
      LEAKGATE_HOST: '127.0.0.1',
      LEAKGATE_ADMIN_HOST: '127.0.0.1',
      LEAKGATE_LOG_LEVEL: 'warn',
      // Well inside the control plane's 2 s staleness window above.
      LEAKGATE_HEARTBEAT_MS: '300',
    },
  })
  const node = buildNode(config, { version: '0.1.0-test' })
  stack.teardown(() => node.close())
  const url = await node.proxy.listen({ port: 0, host: '127.0.0.1' })
  const adminUrl = await node.admin.listen({ port: 0, host: '127.0.0.1' })
  return { url, adminUrl }
}

/** Everything a console or metrics test runs against, each part on port 0. */
export interface Deployment {
  keys: Keys
  upstream: { url: string; hits: () => number }
  cp: { url: string; dataDir: string }
  node: { url: string; adminUrl: string }
}

/** Fresh keys, the upstream, the control plane, and a node following it with the node key; all undone by `stack`. */
export async function startDeployment(stack: Stack): Promise<Deployment> {
  const keys = makeKeys()
  const upstream = await startUpstream(stack)
  const cp = await startControlPlane(stack, keys)
  const node = await startNode(stack, cp.url, upstream.url, keys.node)
  return { keys, upstream, cp, node }
}

/** Random keys in the documented shape. */
export function makeKeys(): Keys {
  return { admin: generateKey(), analyst: generateKey(), node: generateKey() }
}

/** Headless Chromium, as the CI script installs it. */
export async function launchBrowser(stack: Stack): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium (apt-get install chromium) or set LEAKGATE_CHROMIUM`)
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
  stack.teardown(() => browser.close())
  return browser
}

/** A JSON call to the control plane with a key (for seeding and for checking what the browser did). */
export async function cpFetch<T = unknown>(base: string, key: string, path: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${key}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: init.body === undefined ? null : JSON.stringify(init.body),
  })
  const text = await res.text()
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T }
}

/** Lowercase hex SHA-256 of a string's UTF-8 bytes, as the node and the console hash tokens. */
export const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex')

/** A random token value with a recognisable prefix. */
export const rawToken = (prefix: string): string => `${prefix}${randomBytes(18).toString('base64url')}`

/** A leak to seed, with the raw token it stands for (kept in memory only, to send through the node). */
export interface SeedLeak { title: string; source: string; kind: string; risk: string; action: string; token: string; url: string }

const gh = (repo: string, path: string, line: number): string => `https://github.com/${repo}/blob/4f2a9c1/${path}#L${line}`

/** Seven leaks over several sources and every risk, with fresh random tokens each call. */
export function demoSeeds(): SeedLeak[] {
  return [
    { title: 'GitHub token in acme/api .env', source: 'github', kind: 'github_pat', risk: 'high', action: 'monitor', token: rawToken('ghp_'), url: gh('acme/api', '.env', 3) },
    { title: 'Stripe live key in a public paste', source: 'paste', kind: 'stripe_secret_key', risk: 'critical', action: 'block', token: rawToken('sk_live_'), url: 'https://paste.example.org/raw/8hQ2' },
    { title: 'Slack bot token in acme/ops README', source: 'github', kind: 'slack_bot_token', risk: 'high', action: 'monitor', token: rawToken('xoxb-'), url: gh('acme/ops', 'README.md', 41) },
    { title: 'Postman collection with an API key', source: 'postman', kind: 'generic_api_key', risk: 'medium', action: 'monitor', token: rawToken('pmak-'), url: 'https://www.postman.com/acme/workspace/public' },
    { title: 'AWS key in acme/infra history', source: 'gitlab', kind: 'aws_access_key', risk: 'critical', action: 'block', token: rawToken('AKIA'), url: 'https://gitlab.com/acme/infra/-/blob/9e1d/terraform.tfvars#L12' },
    { title: 'Test key in acme/sandbox', source: 'github', kind: 'generic_api_key', risk: 'low', action: 'monitor', token: rawToken('tk_'), url: gh('acme/sandbox', 'config/test.yml', 7) },
    { title: 'Reported by email', source: 'manual', kind: 'generic_api_key', risk: 'medium', action: 'monitor', token: rawToken('key_'), url: '' },
  ]
}

/** Adds the leaks through the API by hash, as the console does; answers title → leak id. */
export async function seedLeaks(base: string, adminKey: string, seeds: readonly SeedLeak[]): Promise<Map<string, number>> {
  const ids = new Map<string, number>()
  for (const s of seeds) {
    const res = await cpFetch<{ id: number }>(base, adminKey, '/v1/leaks', {
      method: 'POST',
      body: {
        title: s.title, source: s.source, kind: s.kind, risk: s.risk, action: s.action,
        ...(s.url ? { location: { url: s.url } } : {}),
        tokens: [{ sha256: sha256(s.token), preview: `${s.token.slice(0, 4)}…${s.token.slice(-4)}` }],
      },
    })
    if (res.status !== 201) throw new Error(`seeding "${s.title}" answered ${res.status}: ${JSON.stringify(res.body)}`)
    ids.set(s.title, res.body.id)
  }
  return ids
}

/** What `openPage` records: console errors that match `expected` are not problems; with `origin`, requests elsewhere are. */
export interface OpenPageOptions {
  expected?: RegExp
  origin?: string
}

/** A page and what went wrong in it so far (a test ends with `tt.same(problems, [])`). */
export interface OpenedPage {
  page: Page
  problems: string[]
}

/**
 * A fresh page in a context of its own (its own session storage), recording what went wrong in it:
 * page errors, console errors (but those `expected` matches) and, with `origin`, any request elsewhere.
 */
export async function openPage(browser: Browser, tt: Teardown, options: OpenPageOptions = {}): Promise<OpenedPage> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, reducedMotion: 'reduce' })
  tt.teardown(() => context.close())
  const page = await context.newPage()
  const problems: string[] = []
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !(options.expected?.test(msg.text()) ?? false)) problems.push(`console error: ${msg.text()}`)
  })
  const origin = options.origin
  if (origin !== undefined) {
    page.on('request', (req) => {
      if (!req.url().startsWith(origin)) problems.push(`request outside the control plane: ${req.url()}`)
    })
  }
  return { page, problems }
}

/** Signs `page` in to the console at `base` with `key`, and waits for the signed-in shell. */
export async function signIn(page: Page, base: string, key: string): Promise<void> {
  await page.goto(`${base}/`)
  await page.getByTestId('signin-key').fill(key)
  await page.getByTestId('signin-submit').click()
  await page.getByTestId('whoami').waitFor()
}

/** What a browser test file runs against: a control plane, Chromium, and the stack that closes them. */
export interface ConsoleDeployment {
  /** Closed at the end of the file; takes whatever else a test starts for the whole file. */
  stack: Stack
  keys: Keys
  cp: { url: string; dataDir: string }
  browser: Browser
  /** A fresh page (as `openPage` makes it) signed in to the control plane with `key`. */
  signedIn(tt: Teardown, key: string, options?: OpenPageOptions): Promise<OpenedPage>
}

/**
 * The start of a browser test file: a stack closed at `t`'s teardown, fresh keys, the control plane
 * (`env` adds configuration) or, with `node`, the whole deployment (upstream, control plane and a node
 * following it), then Chromium.
 */
export async function startConsoleDeployment(t: Teardown, options: { node: true }): Promise<ConsoleDeployment & Deployment>
export async function startConsoleDeployment(t: Teardown, options?: { env?: Record<string, string> }): Promise<ConsoleDeployment>
export async function startConsoleDeployment(t: Teardown, options: { node?: true; env?: Record<string, string> } = {}): Promise<ConsoleDeployment> {
  const stack = new Stack()
  t.teardown(stack.close)
  let started: Pick<Deployment, 'keys' | 'cp'>
  if (options.node) {
    started = await startDeployment(stack)
  } else {
    const keys = makeKeys()
    started = { keys, cp: await startControlPlane(stack, keys, options.env) }
  }
  const browser = await launchBrowser(stack)
  const cpUrl = started.cp.url
  return {
    ...started,
    stack,
    browser,
    async signedIn(tt, key, pageOptions = {}) {
      const opened = await openPage(browser, tt, pageOptions)
      await signIn(opened.page, cpUrl, key)
      return opened
    },
  }
}

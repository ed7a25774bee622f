/**
 * What the check-mode tests share: a node in check mode (no upstream) on port 0, tokens made from a
 * seeded random source, and a real nginx run from the shipped deploy/nginx config with its ports
 * replaced by the test's.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, chownSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, connect, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { buildNode, type NodeDeps } from '../app.js'
import { loadNodeConfig } from '../config.js'
import { Rng } from '../../control-plane/detect/corpus/random.js'
import { LogCapture, tempDir, waitFor, type RunningNode, type Teardown } from './helpers.js'

/** Where Debian installs nginx. */
export const NGINX = '/usr/sbin/nginx'

/** The shipped nginx recipe, as the tests run it. */
export const NGINX_RECIPE = new URL('../../deploy/nginx/leakgate-auth-request.conf', import.meta.url)

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

/** Tokens shaped like provider keys, drawn from a seeded source (never committed as literals). */
export function tokenMaker(seed: number): (prefix: string) => string {
  const rng = new Rng(seed)
  return (prefix) => `${prefix}${rng.chars(36, ALPHABET)}`
}

/** A node in check mode, listening on 127.0.0.1 port 0 (admin too). */
export async function startCheckNode(t: Teardown, options: { env?: Record<string, string>; deps?: NodeDeps } = {}): Promise<RunningNode> {
  const logs = new LogCapture()
  const config = loadNodeConfig({
    env: { LEAKGATE_CONTROL_PLANE: 'http://127.0.0.1:1', LEAKGATE_LOG_LEVEL: 'info', ...options.env },
    flags: { mode: 'check', port: '0', 'admin-port': '0', host: '127.0.0.1', 'admin-host': '127.0.0.1' },
  })
  const node = buildNode(config, { logStream: logs, ...options.deps })
  t.teardown(() => node.close())
  await node.proxy.listen({ port: 0, host: '127.0.0.1' })
  await node.admin.listen({ port: 0, host: '127.0.0.1' })
  const port = (node.proxy.server.address() as AddressInfo).port
  const adminPort = (node.admin.server.address() as AddressInfo).port
  return { node, url: `http://127.0.0.1:${port}`, adminUrl: `http://127.0.0.1:${adminPort}`, config, logs }
}

/** A port free right now (taken by listening on port 0, then released). */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** The shipped recipe with the node's, the API's and the listening port put in. */
export function nginxRecipe(ports: { check: number; api: number; listen: number }): string {
  const text = readFileSync(NGINX_RECIPE, 'utf8')
  const out = text
    .replace(/server 127\.0\.0\.1:8001;/, `server 127.0.0.1:${ports.check};`)
    .replace(/server 127\.0\.0\.1:3000;/, `server 127.0.0.1:${ports.api};`)
    .replace(/listen 8080;/, `listen 127.0.0.1:${ports.listen};`)
  // Each of the three must have been found: a recipe edited out of shape fails here, not later.
  if ((out.match(/127\.0\.0\.1:(\d+)/g) ?? []).filter((a) => !/:(8001|3000|8080)$/.test(a)).length !== 3) throw new Error('deploy/nginx recipe: the three addresses were not all found')
  return out
}

/** A running nginx: its base URL and its error log (read when a test fails). */
export interface RunningNginx {
  url: string
  errorLog(): string
}

/**
 * Runs nginx in the foreground from a temp prefix: its own pid file, error log and temp paths, never as
 * root (as root, it runs as `nobody`). `recipe` is given the port and the prefix (for paths of its own,
 * such as a cache). Stopped at `t`'s teardown.
 */
export async function startNginx(t: Teardown, recipe: (listen: number, dir: string) => string, options: { workerConnections?: number } = {}): Promise<RunningNginx> {
  const dir = tempDir(t, 'leakgate-nginx-')
  const listen = await freePort()
  writeFileSync(join(dir, 'leakgate.conf'), recipe(listen, dir))
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${join(dir, k)};`).join('\n')
  writeFileSync(join(dir, 'nginx.conf'), [
    'worker_processes 1;',
    `pid ${join(dir, 'nginx.pid')};`,
    `error_log ${join(dir, 'error.log')} warn;`,
    `events { worker_connections ${options.workerConnections ?? 256}; }`,
    'http {',
    '  access_log off;',
    temp,
    `  include ${join(dir, 'leakgate.conf')};`,
    '}',
    '',
  ].join('\n'))
  const root = process.getuid?.() === 0
  if (root) {
    chownSync(dir, 65534, 65534)
    chmodSync(dir, 0o755)
  }
  const child: ChildProcess = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log'), '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(root ? { uid: 65534, gid: 65534 } : {}),
  })
  let stderr = ''
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
  })
  const errorLog = (): string => `${stderr}${existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : ''}`
  await waitFor(`nginx on port ${listen} (${errorLog()})`, () => {
    if (child.exitCode !== null) throw new Error(`nginx exited ${child.exitCode}: ${errorLog()}`)
    return new Promise<boolean>((resolve) => {
      const s = connect(listen, '127.0.0.1', () => {
        s.destroy()
        resolve(true)
      })
      s.on('error', () => resolve(false))
    })
  }, 10_000)
  return { url: `http://127.0.0.1:${listen}`, errorLog }
}

/**
 * `leakgate node` as a process: --help, config errors, --index FILE, and SIGTERM draining requests
 * in flight before it exits.
 */
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { sha256Hex } from '../../protocol/token-hash.js'
import { encodeSnapshot } from '../../protocol/snapshot.js'
import { startUpstream, tempDir, waitFor, type Teardown } from './helpers.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const TOKEN = 'glpat-ServerTestLeakedToken0000001'

interface Proc {
  child: ChildProcess
  stdout: string
  stderr: string
  exit: Promise<number | null>
}

function run(t: Teardown, args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, ['--import', new URL('../../scripts/register-ts.js', import.meta.url).href, 'cli.ts', 'node', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const p: Proc = { child, stdout: '', stderr: '', exit: new Promise((resolve) => child.on('exit', (code) => resolve(code))) }
  child.stdout?.on('data', (d: Buffer) => (p.stdout += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (p.stderr += d.toString()))
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  return p
}

t.test('--help lists every option with its env variable', async (t) => {
  const p = run(t, ['--help'])
  t.equal(await p.exit, 0)
  for (const s of ['--index', '--config', 'LEAKGATE_UPSTREAM', 'LEAKGATE_NO_INDEX', 'LEAKGATE_NODE_KEY']) t.match(p.stdout, s)
})

t.test('a bad configuration exits 2 naming the option and its env variable', async (t) => {
  const missing = run(t, ['--index', '/nonexistent'])
  t.equal(await missing.exit, 2)
  t.match(missing.stderr, 'LEAKGATE_UPSTREAM')
  const dir = tempDir(t)
  const corrupt = join(dir, 'bad.snapshot')
  await writeFile(corrupt, Buffer.from('not a snapshot at all, just text'))
  const bad = run(t, ['--index', corrupt, '--upstream', 'http://127.0.0.1:9'])
  t.equal(await bad.exit, 2)
  t.match(bad.stderr, /LEAKGATE_INDEX/)
  const unknown = run(t, ['--bogus'])
  t.equal(await unknown.exit, 2)
})

t.test('--index FILE enforces without a control plane; SIGTERM drains requests in flight', async (t) => {
  const upstream = await startUpstream(t)
  const dir = tempDir(t)
  const file = join(dir, 'leaks.snapshot')
  await writeFile(file, encodeSnapshot([{ sha256: sha256Hex(TOKEN), action: 'block', leakId: 3 }], 1))
  const p = run(t, ['--index', file, '--upstream', upstream.url, '--port', '0', '--admin-port', '0', '--host', '127.0.0.1', '--admin-host', '127.0.0.1'], { LEAKGATE_NODE_ID: 'server-test' })
  await waitFor('the node to listen', () => p.stdout.includes('leakgate node listening'), 30_000)
  const line = p.stdout.split('\n').find((l) => l.includes('leakgate node listening')) ?? '{}'
  const { proxy, admin } = JSON.parse(line) as { proxy: { port: number }; admin: { port: number } }
  const base = `http://127.0.0.1:${proxy.port}`

  const ready = await request(`http://127.0.0.1:${admin.port}/readyz`)
  t.equal(ready.statusCode, 200)
  await ready.body.dump()
  const blocked = await request(`${base}/x`, { headers: { authorization: `Bearer ${TOKEN}` } })
  t.equal(blocked.statusCode, 403)
  await blocked.body.dump()

  const inFlight = request(`${base}/slow`)
  await waitFor('the slow request to reach the upstream', () => upstream.seen.some((s) => s.url === '/slow'))
  p.child.kill('SIGTERM')
  await waitFor('the node to start draining', () => p.stdout.includes('draining'))
  upstream.release()
  const res = await inFlight
  t.equal(res.statusCode, 200, 'the request in flight is answered')
  t.equal(await res.body.text(), 'slow done')
  t.equal(await p.exit, 0, 'then the node exits 0')
  t.notOk(p.stdout.includes(TOKEN) || p.stderr.includes(TOKEN), 'the token is in no output')
})

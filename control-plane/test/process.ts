/**
 * Runs the real `leakgate control-plane` as a child process (`node --import ./scripts/register-ts.js cli.ts control-plane`),
 * for tests that kill it, restart it, or read its log stream.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Teardown } from './harness.js'
import { TEST_SCAN_JOBS_ENV, testDatabaseEnv } from './test-store.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** A running control-plane process. */
export interface PlaneProcess {
  child: ChildProcess
  url: string
  /** Everything it wrote to stdout and stderr so far. */
  output: () => string
  /** Ends it with a signal and waits for the exit. */
  kill: (signal: NodeJS.Signals) => Promise<void>
}

/**
 * Starts a control plane on a free port with `env`; resolves once it listens (fails after `startMs`:
 * generous, since replica tests start two at once on a machine that may be busy). Its store is the test
 * engine's (test-store.ts): on PostgreSQL, the database standing for its LEAKGATE_DATA_DIR, whose scan
 * jobs it works itself.
 */
export async function spawnPlane(t: Teardown, env: Record<string, string>, startMs = 60_000): Promise<PlaneProcess> {
  // On the test's database, it works its scan jobs itself (TEST_SCAN_JOBS); a test naming its own
  // database chooses its own workers.
  const database = env.LEAKGATE_DATA_DIR === undefined || env.LEAKGATE_DATABASE_URL !== undefined ? {} : { ...TEST_SCAN_JOBS_ENV, ...await testDatabaseEnv(t, env.LEAKGATE_DATA_DIR) }
  const child = spawn(process.execPath, ['--import', new URL('../../scripts/register-ts.js', import.meta.url).href, 'cli.ts', 'control-plane'], {
    cwd: ROOT,
    env: { ...process.env, LEAKGATE_CP_PORT: '0', LEAKGATE_CP_HOST: '127.0.0.1', ...database, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout?.on('data', (d: Buffer) => (out += d.toString('utf8')))
  child.stderr?.on('data', (d: Buffer) => (out += d.toString('utf8')))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const kill = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    await exited
  }
  t.teardown(() => kill('SIGKILL'))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`control plane did not start:\n${out}`)), startMs)
    const onData = (): void => {
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
      if (m?.[1] !== undefined) {
        clearTimeout(timer)
        child.stdout?.off('data', onData)
        resolve(m[1])
      }
    }
    child.stdout?.on('data', onData)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`control plane exited with ${String(code)}:\n${out}`))
    })
  })
  return { child, url, output: () => out, kill }
}

/** A JSON request to a running control plane. */
export async function request(url: string, key: string, method = 'GET', body?: unknown): Promise<{ status: number; json: () => unknown; bytes: Buffer }> {
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const bytes = Buffer.from(await res.arrayBuffer())
  return { status: res.status, bytes, json: () => JSON.parse(bytes.toString('utf8')) as unknown }
}

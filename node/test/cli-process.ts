/**
 * `leakgate node` as a real process, for the tests of its life: what it prints, how it exits, what a
 * signal does to it. Killed at `t`'s teardown if still running.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { waitFor, type Teardown } from '../../test/support.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** A running (or ended) `leakgate node` process and everything it printed so far. */
export interface NodeProcess {
  child: ChildProcess
  readonly stdout: string
  readonly stderr: string
  /** Settles with the exit code (null when ended by a signal). */
  exit: Promise<number | null>
  /** The JSON log lines printed so far. */
  logs(): Record<string, unknown>[]
  /** Waits for a log line whose msg includes `msg` (and which `match` accepts) and answers it. */
  waitForLog(msg: string, match?: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>
}

/** Spawns `leakgate node ARGS` from the source tree with only PATH, HOME and `env` in its environment. */
export function spawnNode(t: Teardown, args: string[], env: Record<string, string> = {}): NodeProcess {
  const child = spawn(process.execPath, ['--import', new URL('../../scripts/register-ts.js', import.meta.url).href, 'cli.ts', 'node', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const logs = (): Record<string, unknown>[] =>
    stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
  return {
    child,
    get stdout() {
      return stdout
    },
    get stderr() {
      return stderr
    },
    exit: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
    logs,
    waitForLog: (msg, match = () => true, timeoutMs = 30_000) =>
      waitFor(`a log line "${msg}"`, () => logs().find((l) => String(l.msg).includes(msg) && match(l)), timeoutMs),
  }
}

/** Waits for the node to listen and answers its proxy's and admin port's base URLs. */
export async function listening(p: NodeProcess): Promise<{ url: string; adminUrl: string }> {
  // A minute: the TypeScript sources compile at start, slow on a loaded machine.
  const line = await p.waitForLog('leakgate node listening', () => true, 60_000)
  const { proxy, admin } = line as { proxy: { port: number }; admin: { port: number } }
  return { url: `http://127.0.0.1:${proxy.port}`, adminUrl: `http://127.0.0.1:${admin.port}` }
}

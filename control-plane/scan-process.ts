/**
 * Runs one scan in a child process of its own (control-plane/scan-worker.ts): a heap limit
 * (`--max-old-space-size`), a wall-clock limit, a process group that a timeout or the control
 * plane's shutdown kills whole (the scan and its git processes), and an environment that carries
 * no Leakgate key and no GitHub or GitLab token (a token, when there is one, goes over IPC).
 */
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { reviveError, SourceError } from '../lib/errors.js'
import type { Progress, ScanResult } from './detect/index.js'
import type { ScanMessage, ScanRequest } from './scan-worker.js'
import { keptEnvironment } from './detect/sources/git.js'

/** Limits of one scan process. */
export interface ScanProcessLimits {
  timeoutSeconds: number
  memoryMb: number
}

/** What the caller hears while the scan runs. */
export interface ScanProcessEvents {
  onProgress?: (progress: Progress) => void
  onDiagnostic?: (text: string) => void
}

/** How the worker module starts: built JavaScript as is; TypeScript sources through the dev loader. */
function workerModule(): { path: string; execArgv: string[] } {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js'
  const url = new URL(`./scan-worker${ext}`, import.meta.url)
  if (ext === '.js') return { path: fileURLToPath(url), execArgv: [] }
  const loader = process.env.LEAKGATE_TS_LOADER
  if (loader === undefined || loader === '') {
    throw new Error('cannot start a scan process from TypeScript sources without the dev loader: run with `node --import ./scripts/register-ts.js`, or build first')
  }
  return { path: fileURLToPath(url), execArgv: ['--import', loader] }
}

/** A scan process under way: its result, and how to end it early. */
export interface RunningScan {
  result: Promise<ScanResult>
  /** Kills the scan and its git processes; `result` then rejects with `reason`. */
  stop: (reason: string) => void
}

/** Starts a scan in a child process. */
export function startScanProcess(request: ScanRequest, limits: ScanProcessLimits, events: ScanProcessEvents = {}): RunningScan {
  const { path, execArgv } = workerModule()
  const child = fork(path, [], {
    execArgv: [...execArgv, `--max-old-space-size=${limits.memoryMb}`],
    env: keptEnvironment(),
    // Its own process group: killing -pid ends the scan and every git it started.
    detached: true,
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  })
  let stopped: string | undefined
  const killGroup = (): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
    } catch {
      child.kill('SIGKILL')
    }
  }
  const stop = (reason: string): void => {
    if (stopped !== undefined) return
    stopped = reason
    killGroup()
  }
  const timer = setTimeout(() => stop(`the scan ran longer than scan.timeoutSeconds (${limits.timeoutSeconds} s) and was stopped`), limits.timeoutSeconds * 1000)
  const result = new Promise<ScanResult>((resolve, reject) => {
    let answer: ScanMessage | undefined
    child.on('message', (m: ScanMessage) => {
      if (m.type === 'progress') events.onProgress?.(m.progress)
      else if (m.type === 'diagnostic') events.onDiagnostic?.(m.text)
      else answer = m
    })
    child.on('error', (cause) => reject(new SourceError(`cannot start the scan process: ${cause.message}`, { cause })))
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      // git children left behind by a scan that ended badly go with its group.
      killGroup()
      if (stopped !== undefined) return reject(new SourceError(stopped))
      if (answer?.type === 'done') return resolve(answer.result)
      if (answer?.type === 'failed') return reject(reviveError(answer.code ?? '', answer.message) ?? new Error(answer.message))
      const oom = signal === 'SIGABRT' || code === 134
      reject(new SourceError(oom ? `the scan ran out of memory (scan.memoryMb, ${limits.memoryMb} MiB) and was stopped` : `the scan process ended unexpectedly (${signal ?? `exit ${code ?? '?'}`})`))
    })
  })
  result.catch(() => undefined)
  child.send(request)
  return { result, stop }
}

/**
 * Scanning a directory's files on several threads. The main thread walks and reads (dirSource)
 * and hands batches of files to worker threads; each worker builds the rules itself from where
 * they come from (the built-in rules, the rules files, the scan allowlist's sources), since rule
 * objects hold functions and cannot be sent. Batches come back in the order they went, so the
 * findings are those of a one-thread scan, in the same order.
 *
 * This module is also the workers' entry point (startWorker on its own URL).
 */
import { isMainThread, parentPort, workerData, type Worker } from 'node:worker_threads'
import { startWorker } from '../../lib/worker.js'
import { scanText } from './scanner.js'
import { toFindings, type Finding } from './findings.js'
import type { Allowlist } from './rule.js'
import type { ScanItem } from './sources/source.js'

/** A regex as sent to a worker. */
interface RegexSource {
  source: string
  flags: string
}

/** Where a worker's rules come from: what `resolveRules` is given, in a form threads can send. */
export interface RuleSources {
  rulesFiles: readonly string[]
  allowlist: { regexes: RegexSource[]; paths: RegexSource[]; stopwords: string[] }
  showSecrets: boolean
}

interface ThreadData {
  leakgateScanThread: true
  sources: RuleSources
}

type Request = { id: number; items: ScanItem[] }
type Reply = { id: number; findings: Finding[] } | { id: number; error: string } | { ready: true }

/**
 * An allowlist as sources, or undefined when it cannot travel as plain regexes: it holds RE2 patterns
 * (a rules file's; the thread reloads those from the file), or commits, a condition or a target.
 */
export function allowlistSources(list: Allowlist): RuleSources['allowlist'] | undefined {
  if (list.commits !== undefined || list.condition !== undefined || list.regexTarget !== undefined) return undefined
  const regexes: RegexSource[] = []
  const paths: RegexSource[] = []
  for (const [from, to] of [[list.regexes, regexes], [list.paths, paths]] as const) {
    for (const r of from) {
      if (!(r instanceof RegExp)) return undefined
      to.push({ source: r.source, flags: r.flags })
    }
  }
  return { regexes, paths, stopwords: [...list.stopwords] }
}

/** Worker threads that scan batches of files. */
export class ScanThreads {
  readonly #workers: Worker[] = []
  /** Threads that have built their rules and wait for a batch. */
  readonly #idle: Worker[] = []
  readonly #queue: Array<{ request: Request; resolve: (f: Finding[]) => void; reject: (e: Error) => void }> = []
  readonly #waiting = new Map<number, { worker: Worker; resolve: (f: Finding[]) => void; reject: (e: Error) => void }>()
  #next = 0
  #failed: Error | undefined

  constructor(count: number, sources: RuleSources) {
    const data: ThreadData = { leakgateScanThread: true, sources }
    for (let i = 0; i < count; i++) {
      const worker = startWorker(import.meta.url, { workerData: data })
      worker.on('message', (reply: Reply) => this.#answer(worker, reply))
      worker.on('error', (err) => this.#fail(err))
      // A thread that ends on its own (a crash, or nothing left to wait for) still owes its batches.
      worker.on('exit', (code) => this.#fail(new Error(`a scan thread ended (exit ${code})`)))
      this.#workers.push(worker)
    }
  }

  /**
   * Whether a thread has its rules: until then (a thread's start costs a module load and the rules'
   * compilation) the caller does better to scan a batch itself than to wait.
   */
  get ready(): boolean {
    return this.#started
  }

  #started = false

  /** Scans a batch of files; resolves with their findings in the batch's order. */
  scan(items: ScanItem[]): Promise<Finding[]> {
    if (this.#failed !== undefined) return Promise.reject(this.#failed)
    return new Promise((resolve, reject) => {
      this.#queue.push({ request: { id: this.#next++, items }, resolve, reject })
      this.#dispatch()
    })
  }

  /** Stops the threads. */
  async close(): Promise<void> {
    this.#failed ??= new Error('the scan threads were stopped')
    await Promise.all(this.#workers.map((w) => w.terminate()))
  }

  #dispatch(): void {
    while (this.#idle.length > 0 && this.#queue.length > 0) {
      const worker = this.#idle.pop()!
      const job = this.#queue.shift()!
      this.#waiting.set(job.request.id, { worker, resolve: job.resolve, reject: job.reject })
      worker.postMessage(job.request)
    }
  }

  #answer(worker: Worker, reply: Reply): void {
    if ('ready' in reply) {
      this.#started = true
      this.#idle.push(worker)
      this.#dispatch()
      return
    }
    const job = this.#waiting.get(reply.id)
    if (job === undefined) return
    this.#waiting.delete(reply.id)
    this.#idle.push(worker)
    if ('error' in reply) job.reject(new Error(reply.error))
    else job.resolve(reply.findings)
    this.#dispatch()
  }

  #fail(err: Error): void {
    this.#failed ??= err
    for (const job of this.#waiting.values()) job.reject(err)
    this.#waiting.clear()
    for (const job of this.#queue.splice(0)) job.reject(err)
  }
}

if (!isMainThread && (workerData as Partial<ThreadData> | undefined)?.leakgateScanThread === true && parentPort !== null) {
  const port = parentPort
  const { sources } = workerData as ThreadData
  const regex = (r: RegexSource): RegExp => new RegExp(r.source, r.flags)
  // Not a top-level await: index.ts imports this module, and would wait for it to finish.
  const ready = import('./index.js').then(({ resolveRules }) => resolveRules({
    rulesFiles: sources.rulesFiles,
    allowlist: { regexes: sources.allowlist.regexes.map(regex), paths: sources.allowlist.paths.map(regex), stopwords: sources.allowlist.stopwords },
  }))
  void ready.then(() => port.postMessage({ ready: true } satisfies Reply), () => port.postMessage({ ready: true } satisfies Reply))
  port.on('message', (request: Request) => {
    void ready.then(({ rules, allowlist }) => {
      const findings: Finding[] = []
      for (const item of request.items) {
        const found = scanText(item.text, { rules, allowlist, path: item.origin.file })
        if (found.length > 0) findings.push(...toFindings(found, item.origin, sources.showSecrets))
      }
      port.postMessage({ id: request.id, findings } satisfies Reply)
    }).catch((err: unknown) => {
      port.postMessage({ id: request.id, error: (err as Error).message } satisfies Reply)
    })
  })
}

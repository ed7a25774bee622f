/**
 * Scanning a directory's files on several threads. The main thread only lists the files and hands
 * batches of paths out; each worker thread reads its files itself (the same checks as the one-thread
 * scan: regular, not binary, within the size limit), scans them, and sends back per file only the
 * bytes read and the findings. Each worker builds the rules itself from where they come from (the
 * built-in rules, the rules files, the scan allowlist's sources), since rule objects hold functions
 * and cannot be sent; it does so once, when it starts, and threads are kept for the process (one
 * pool per rule sources), so a second scan pays no start.
 *
 * This module is also the workers' entry point (startWorker on its own URL).
 */
import { isMainThread, parentPort, workerData, type Worker } from 'node:worker_threads'
import { startWorker } from '../../lib/worker.js'
import { prepareRules, scanText } from './scanner.js'
import { toFindings, type Finding } from './findings.js'
import type { Allowlist, Rule } from './rule.js'
import { readDirFile, type DirFile, type DirText } from './sources/dir.js'
import type { SourceLimits } from './sources/source.js'

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

/**
 * What became of one file of a batch: undefined, skipped (unreadable, binary, too large); else its
 * bytes, its findings and the matches dropped for a checksum that did not verify.
 */
export type FileOutcome = { bytes: number; findings: Finding[]; checksumDropped: number } | undefined

interface ThreadData {
  leakgateScanThread: true
  sources: RuleSources
}

type Request = { id: number; files: DirFile[]; limits: SourceLimits }
// Structured clone keeps `undefined` in arrays; null is sent for it all the same, to say so plainly.
type Reply = { id: number; outcomes: Array<{ bytes: number; findings: Finding[]; checksumDropped: number } | null> } | { id: number; error: string } | { ready: true }

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

/** Reads a batch takes at once, so its scanning does not wait on the file system. */
const BATCH_READ_AHEAD = 4

/**
 * Reads and scans a batch of listed files on this thread, as a worker does: each file's outcome in the
 * batch's order.
 */
export async function scanDirBatch(files: readonly DirFile[], limits: SourceLimits, scan: { rules: readonly Rule[]; allowlist: readonly Allowlist[]; showSecrets: boolean }): Promise<FileOutcome[]> {
  const reads: Array<Promise<DirText | undefined>> = []
  const outcomes: FileOutcome[] = []
  let next = 0
  const fill = (): void => {
    while (reads.length < BATCH_READ_AHEAD && next < files.length) reads.push(readDirFile(files[next++]!, limits))
  }
  fill()
  while (reads.length > 0) {
    const read = await reads.shift()!
    fill()
    if (read === undefined) {
      outcomes.push(undefined)
      continue
    }
    const dropped = { checksum: 0 }
    const found = scanText(read.item.text, { rules: scan.rules, allowlist: scan.allowlist, path: read.item.origin.file, dropped })
    outcomes.push({ bytes: read.bytes, findings: found.length === 0 ? [] : toFindings(found, read.item.origin, scan.showSecrets), checksumDropped: dropped.checksum })
  }
  return outcomes
}

/**
 * Worker threads that read and scan batches of files. Idle threads do not keep the process alive
 * (they are unreferenced between batches), so a pool can outlive the scan that started it.
 */
export class ScanThreads {
  readonly #workers: Worker[] = []
  /** Batches each ready thread holds (sent, not answered); absent until the thread has its rules. */
  readonly #load = new Map<Worker, number>()
  readonly #queue: Array<{ request: Request; resolve: (o: FileOutcome[]) => void; reject: (e: Error) => void }> = []
  readonly #waiting = new Map<number, { worker: Worker; resolve: (o: FileOutcome[]) => void; reject: (e: Error) => void }>()
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
      // Only a thread at work keeps the process alive: one still starting when a scan ends does not.
      worker.unref()
      this.#workers.push(worker)
    }
  }

  /** How many threads the pool has. */
  get size(): number {
    return this.#workers.length
  }

  /**
   * Whether a thread has its rules: until then (a thread's start costs a module load and the rules'
   * compilation) the caller does better to scan a batch itself than to wait.
   */
  get ready(): boolean {
    return this.#load.size > 0 && this.#failed === undefined
  }

  /**
   * Whether a ready thread would start on a batch sent now, or holds fewer than PER_THREAD: when
   * none does, a caller that can scan does better to scan the batch itself.
   */
  get wantsWork(): boolean {
    if (this.#failed !== undefined || this.#queue.length > 0) return false
    for (const held of this.#load.values()) if (held < PER_THREAD) return true
    return false
  }

  /** Whether the pool can take no more work (a thread failed, or it was closed). */
  get failed(): boolean {
    return this.#failed !== undefined
  }

  /** Reads and scans a batch of files; resolves with each file's outcome, in the batch's order. */
  scan(files: DirFile[], limits: SourceLimits): Promise<FileOutcome[]> {
    if (this.#failed !== undefined) return Promise.reject(this.#failed)
    return new Promise((resolve, reject) => {
      this.#queue.push({ request: { id: this.#next++, files, limits }, resolve, reject })
      this.#dispatch()
    })
  }

  /** Stops the threads. */
  async close(): Promise<void> {
    this.#failed ??= new Error('the scan threads were stopped')
    await Promise.all(this.#workers.map((w) => w.terminate()))
  }

  #dispatch(): void {
    while (this.#queue.length > 0 && this.#failed === undefined) {
      // The least busy ready thread, if it has room.
      let worker: Worker | undefined
      let least = PER_THREAD
      for (const [w, held] of this.#load) {
        if (held < least) {
          worker = w
          least = held
        }
      }
      if (worker === undefined) return
      const job = this.#queue.shift()!
      this.#waiting.set(job.request.id, { worker, resolve: job.resolve, reject: job.reject })
      this.#load.set(worker, least + 1)
      // A thread at work keeps the process alive until it answers.
      if (least === 0) worker.ref()
      worker.postMessage(job.request)
    }
  }

  #answer(worker: Worker, reply: Reply): void {
    if ('ready' in reply) {
      this.#load.set(worker, 0)
      worker.unref()
      this.#dispatch()
      return
    }
    const job = this.#waiting.get(reply.id)
    if (job === undefined) return
    this.#waiting.delete(reply.id)
    const held = (this.#load.get(worker) ?? 1) - 1
    this.#load.set(worker, held)
    if (held === 0) worker.unref()
    if ('error' in reply) job.reject(new Error(reply.error))
    else job.resolve(reply.outcomes.map((o) => o ?? undefined))
    this.#dispatch()
  }

  #fail(err: Error): void {
    this.#failed ??= err
    for (const job of this.#waiting.values()) job.reject(err)
    this.#waiting.clear()
    for (const job of this.#queue.splice(0)) job.reject(err)
  }
}

/** Batches a thread holds at once: the next one is there when it finishes one, with no round trip. */
const PER_THREAD = 2

/** The process's pools, one per rule sources and size: started by the first scan that needs one. */
const pools = new Map<string, ScanThreads>()

/**
 * The process's pool of `jobs` threads for these rule sources, started now if there is none (its
 * threads then compile the rules while the caller goes on). A pool whose thread failed is replaced.
 */
export function scanThreadsFor(jobs: number, sources: RuleSources): ScanThreads {
  const key = JSON.stringify([jobs, sources])
  let pool = pools.get(key)
  if (pool === undefined || pool.failed) {
    pool = new ScanThreads(jobs, sources)
    pools.set(key, pool)
  }
  return pool
}

/** Whether a started pool for these sources is ready to scan. */
export function scanThreadsReady(jobs: number, sources: RuleSources): boolean {
  return pools.get(JSON.stringify([jobs, sources]))?.ready === true
}

/** Whether a pool for these sources was started and has not failed (it may still be building its rules). */
export function scanThreadsStarted(jobs: number, sources: RuleSources): boolean {
  return pools.get(JSON.stringify([jobs, sources]))?.failed === false
}

/** Stops every pool the process started (tests, and a server shutting down). */
export async function closeScanThreads(): Promise<void> {
  const all = [...pools.values()]
  pools.clear()
  await Promise.all(all.map((p) => p.close()))
}

if (!isMainThread && (workerData as Partial<ThreadData> | undefined)?.leakgateScanThread === true && parentPort !== null) {
  const port = parentPort
  const { sources } = workerData as ThreadData
  const regex = (r: RegexSource): RegExp => new RegExp(r.source, r.flags)
  // Not a top-level await: index.ts imports this module, and would wait for it to finish. rules.js, not
  // index.js: the git and GitHub sources are no thread's business, and loading them cost a start 0.1 s.
  const ready = import('./rules.js').then(({ resolveRules }) => {
    const resolved = resolveRules({
      rulesFiles: sources.rulesFiles,
      allowlist: { regexes: sources.allowlist.regexes.map(regex), paths: sources.allowlist.paths.map(regex), stopwords: sources.allowlist.stopwords },
    })
    // The keyword automaton too, before the thread says it is ready, not on its first batch.
    prepareRules(resolved.rules)
    return resolved
  })
  void ready.then(() => port.postMessage({ ready: true } satisfies Reply), () => port.postMessage({ ready: true } satisfies Reply))
  port.on('message', (request: Request) => {
    void ready.then(async ({ rules, allowlist }) => {
      const outcomes = await scanDirBatch(request.files, request.limits, { rules, allowlist, showSecrets: sources.showSecrets })
      port.postMessage({ id: request.id, outcomes: outcomes.map((o) => o ?? null) } satisfies Reply)
    }).catch((err: unknown) => {
      port.postMessage({ id: request.id, error: (err as Error).message } satisfies Reply)
    })
  })
}

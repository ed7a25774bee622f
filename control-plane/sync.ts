/**
 * What nodes sync from: the snapshot of the whole index (built with protocol/snapshot.ts's encoder, cached
 * per revision so a fleet fetching it costs one build) and the change log, answered at once when
 * there are changes and otherwise held open until a write advances the revision or the wait runs out.
 *
 * Small indexes are encoded on the spot. A large one (`workerThreshold` entries or more) is built in
 * a worker thread, since a million entries take seconds that the event loop must not stall for;
 * meanwhile a request gets the last snapshot built, if any, which is still correct: its ETag and
 * `Leakgate-Revision` name its revision, and the node catches up from there through the changes.
 */
import type { Worker } from 'node:worker_threads'
import type { ChangesAnswer } from '../protocol/changes.js'
import { snapshotCount } from '../protocol/snapshot.js'
import { SyncGoneError } from '../lib/errors.js'
import { startWorker } from '../lib/worker.js'
import { encodeSnapshotOf } from './snapshot-build.js'
import type { BuildAnswer } from './snapshot-worker.js'
import type { Store } from './store/store.js'

// How long a shared changes answer may be served without a revision event (see #answers).
const ANSWER_TTL_MS = 1000
// Nodes in step ask since one or two revisions; more distinct `since`s than this are read each time.
const MAX_CACHED_ANSWERS = 64

/** A snapshot body and its validators. */
export interface SnapshotBody {
  revision: number
  etag: string
  body: Buffer
}

/** Options of the sync service. */
export interface SyncOptions {
  /** The longest a changes request is held, in seconds. */
  maxWaitSeconds: number
  /** The most changes in one answer; the node asks again from the last revision it got. */
  changesPerResponse: number
  /** Indexes with at least this many entries are built in a worker thread. Default 100 000. */
  workerThreshold?: number
}

/** Snapshot cache and long-poll waiters over one store. */
export class SyncService {
  readonly #store: Store
  readonly #options: SyncOptions
  readonly #waiters = new Set<() => void>()
  /**
   * Answers read since the last revision event, by `since`. A decision wakes the whole fleet at once,
   * every node asking for the changes since the same revision, and the new polls that follow all ask
   * since the new one: the store answers each question once and the fleet shares the answer (and the
   * route its serialized body). Cleared on each revision event, and after `ANSWER_TTL_MS` so that a write
   * no event announced is seen at most that much later than without it; capped, so odd `since`s cannot fill it.
   */
  readonly #answers = new Map<number, Promise<ChangesAnswer>>()
  #answersFrom = 0
  readonly #unsubscribe: () => void
  #cached: SnapshotBody | undefined
  /** The snapshot built before `#cached`: still served at its immutable URL, for a node redirected to it just before. */
  #previous: SnapshotBody | undefined
  #builds = 0
  #building: Promise<SnapshotBody> | undefined
  #worker: Worker | undefined
  #nextId = 1
  readonly #pending = new Map<number, { resolve: (a: BuildAnswer) => void }>()
  #closed = false

  constructor(store: Store, options: SyncOptions) {
    this.#store = store
    this.#options = options
    this.#unsubscribe = store.onRevision(() => {
      this.#answers.clear()
      this.#wakeAll()
    })
  }

  /** How many changes requests are being held open now. */
  get waiting(): number {
    return this.#waiters.size
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed
  }

  /** How many snapshots were built (encoded on the spot or in the worker) since start. */
  get builds(): number {
    return this.#builds
  }

  /** The current revision. */
  async revision(): Promise<number> {
    return this.#store.index.revision()
  }

  /**
   * A snapshot: at the current revision for a small index; for a large one, the last one built
   * while a fresh one is being made (or the fresh one when none was built yet, or the one built is
   * older than the changes kept).
   */
  async snapshot(): Promise<SnapshotBody> {
    const index = this.#store.index
    const revision = await index.revision()
    const cached = this.#cached
    if (cached?.revision === revision) return cached
    // The entry count of the last snapshot says how big the index is, without counting a million rows.
    const entries = cached === undefined ? await index.size() : snapshotCount(cached.body)
    if (entries < (this.#options.workerThreshold ?? 100_000)) {
      // Revision and entries read in one transaction, so no write lands between them.
      const snap = await index.atOneRevision(async (rev, all) => ({ revision: rev, etag: `"r${rev}"`, body: await encodeSnapshotOf(all, rev) }))
      this.#builds++
      if (this.#cached === undefined || snap.revision >= this.#cached.revision) this.#keep(snap)
      return snap
    }
    const fresh = this.#building ?? this.#buildInWorker()
    if (cached !== undefined && cached.revision >= await index.prunedThrough()) return cached
    return fresh
  }

  /**
   * The snapshot of exactly `revision`, for its immutable URL: the last one built or the one before it
   * (a node may have been sent to that one just before a newer one was built), or the current revision's,
   * built now if need be. Undefined for any other revision: no snapshot of it is kept, and none is built.
   */
  async snapshotAt(revision: number): Promise<SnapshotBody | undefined> {
    const kept = [this.#cached, this.#previous].find((s) => s?.revision === revision)
    if (kept !== undefined) return kept
    if (revision !== await this.#store.index.revision()) return undefined
    const built = await this.snapshot()
    return built.revision === revision ? built : undefined
  }

  /**
   * Changes after `since`; when there are none, waits up to `waitSeconds` (capped by the
   * configuration) for one, or until `signal` aborts (the client went away). The answer may be shared
   * with other requests asking the same: read it, do not change it.
   * @throws {SyncGoneError} when `since` is older than what is kept, or newer than the current revision.
   */
  async changes(since: number, waitSeconds: number, signal?: AbortSignal): Promise<ChangesAnswer> {
    const wait = Math.min(waitSeconds, this.#options.maxWaitSeconds)
    if (wait <= 0 || this.#closed) return this.#read(since)
    // Listening before the first read: a write that commits while it is under way still wakes this request.
    let wake!: () => void
    const woken = new Promise<void>((resolve) => { wake = resolve })
    const timer = setTimeout(wake, wait * 1000)
    this.#waiters.add(wake)
    signal?.addEventListener('abort', wake, { once: true })
    try {
      const first = await this.#read(since)
      if (first.changes.length > 0 || this.#closed) return first
      await woken
      return await this.#read(since)
    } finally {
      clearTimeout(timer)
      this.#waiters.delete(wake)
      signal?.removeEventListener('abort', wake)
    }
  }

  /** Releases every held request (they answer with what they have), stops listening and the worker. */
  async close(): Promise<void> {
    this.#closed = true
    this.#unsubscribe()
    this.#wakeAll()
    const worker = this.#worker
    this.#worker = undefined
    if (worker !== undefined) await worker.terminate()
  }

  #keep(snap: SnapshotBody): void {
    if (this.#cached !== undefined && this.#cached.revision !== snap.revision) this.#previous = this.#cached
    this.#cached = snap
  }

  #buildInWorker(): Promise<SnapshotBody> {
    const build = (async (): Promise<SnapshotBody> => {
      const answer = await this.#ask()
      if ('error' in answer) throw new Error(`building the snapshot failed: ${answer.error}`)
      const body = Buffer.from(answer.body.buffer, answer.body.byteOffset, answer.body.byteLength)
      this.#builds++
      const snap = { revision: answer.revision, etag: `"r${answer.revision}"`, body }
      if (this.#cached === undefined || snap.revision > this.#cached.revision) this.#keep(snap)
      return snap
    })()
    this.#building = build
    void build.finally(() => {
      if (this.#building === build) this.#building = undefined
    }).catch(() => undefined)
    return build
  }

  #ask(): Promise<BuildAnswer> {
    if (this.#closed) return Promise.resolve({ id: 0, error: 'the sync service is closed' })
    const worker = this.#worker ?? this.#startWorker()
    const id = this.#nextId++
    return new Promise((resolve) => {
      this.#pending.set(id, { resolve })
      worker.postMessage({ id })
    })
  }

  #startWorker(): Worker {
    const workerData = { storeLocation: this.#store.location }
    // The worker module beside this one: .js when built, .ts when run from the sources.
    const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js'
    const worker = startWorker(new URL(`./snapshot-worker${ext}`, import.meta.url), { workerData })
    worker.unref()
    worker.on('message', (answer: BuildAnswer) => {
      this.#pending.get(answer.id)?.resolve(answer)
      this.#pending.delete(answer.id)
    })
    const fail = (message: string): void => {
      for (const [id, p] of this.#pending) p.resolve({ id, error: message })
      this.#pending.clear()
      if (this.#worker === worker) this.#worker = undefined
    }
    worker.on('error', (err) => fail(err.message))
    worker.on('exit', (code) => fail(`the snapshot worker exited (${code})`))
    this.#worker = worker
    return worker
  }

  #read(since: number): Promise<ChangesAnswer> {
    const now = Date.now()
    if (now - this.#answersFrom > ANSWER_TTL_MS) {
      this.#answers.clear()
      this.#answersFrom = now
    }
    const cached = this.#answers.get(since)
    if (cached !== undefined) return cached
    // The read in progress is what is shared: a fleet woken at once waits on one read, not a thousand.
    // A revision event during it clears it from the map (the polls it wakes read again); a failed read
    // is not kept.
    const answer = this.#readStore(since)
    if (this.#answers.size < MAX_CACHED_ANSWERS) {
      this.#answers.set(since, answer)
      answer.catch(() => {
        if (this.#answers.get(since) === answer) this.#answers.delete(since)
      })
    }
    return answer
  }

  async #readStore(since: number): Promise<ChangesAnswer> {
    const index = this.#store.index
    const revision = await index.revision()
    if (since > revision) {
      throw new SyncGoneError(`since=${since} is ahead of the control plane's revision ${revision} (its store was reset); fetch /v1/sync/snapshot`)
    }
    // Three reads, no transaction, in an order that keeps the answer whole: changes committed after the
    // revision was read are left for the next request, and the pruned-through mark is read after the
    // changes, so a prune that ran in between is seen and answered as gone rather than as a gap.
    const changes = (await index.changesSince(since, this.#options.changesPerResponse)).filter((c) => c.rev <= revision)
    const prunedThrough = await index.prunedThrough()
    if (since < prunedThrough) {
      throw new SyncGoneError(`changes up to revision ${prunedThrough} are no longer kept; fetch /v1/sync/snapshot`)
    }
    const last = changes.at(-1)
    // A capped answer covers only up to its last change; the node asks again from there.
    const covered = changes.length === this.#options.changesPerResponse && last !== undefined ? last.rev : revision
    return { revision: changes.length === 0 ? since : covered, changes }
  }

  #wakeAll(): void {
    for (const wake of [...this.#waiters]) wake()
  }
}

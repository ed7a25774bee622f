/**
 * What nodes sync from: the snapshot of the whole index (built with node/leakdb's encoder, cached
 * per revision so a fleet fetching it costs one build) and the change log, answered at once when
 * there are changes and otherwise held open until a write advances the revision or the wait runs out.
 */
import { encodeSnapshot } from '../node/leakdb/snapshot.js'
import { SyncGoneError } from './errors.js'
import type { IndexChange } from './store/index-log.js'
import type { Store } from './store/store.js'

/** A snapshot body and its validators. */
export interface SnapshotBody {
  revision: number
  etag: string
  body: Buffer
}

/** The answer to a changes request (docs/api.md). */
export interface ChangesBody {
  revision: number
  changes: IndexChange[]
}

/** Options of the sync service. */
export interface SyncOptions {
  /** The longest a changes request is held, in seconds. */
  maxWaitSeconds: number
  /** The most changes in one answer; the node asks again from the last revision it got. */
  changesPerResponse: number
}

/** Snapshot cache and long-poll waiters over one store. */
export class SyncService {
  readonly #store: Store
  readonly #options: SyncOptions
  readonly #waiters = new Set<() => void>()
  readonly #unsubscribe: () => void
  #cached: SnapshotBody | undefined
  #closed = false

  constructor(store: Store, options: SyncOptions) {
    this.#store = store
    this.#options = options
    this.#unsubscribe = store.onRevision(() => this.#wakeAll())
  }

  /** How many changes requests are being held open now. */
  get waiting(): number {
    return this.#waiters.size
  }

  /** The current revision. */
  revision(): number {
    return this.#store.index.revision()
  }

  /** The snapshot at the current revision (built once per revision). */
  snapshot(): SnapshotBody {
    const revision = this.#store.index.revision()
    if (this.#cached?.revision === revision) return this.#cached
    // better-sqlite3 is synchronous, so no write can land between reading the revision and the entries.
    const body = encodeSnapshot(this.#store.index.entries(), revision)
    this.#cached = { revision, etag: `"r${revision}"`, body }
    return this.#cached
  }

  /**
   * Changes after `since`; when there are none, waits up to `waitSeconds` (capped by the
   * configuration) for one, or until `signal` aborts (the client went away).
   * @throws {SyncGoneError} when `since` is older than what is kept, or newer than the current revision.
   */
  async changes(since: number, waitSeconds: number, signal?: AbortSignal): Promise<ChangesBody> {
    const first = this.#read(since)
    const wait = Math.min(waitSeconds, this.#options.maxWaitSeconds)
    if (first.changes.length > 0 || wait <= 0 || this.#closed) return first
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.#waiters.delete(done)
        signal?.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, wait * 1000)
      this.#waiters.add(done)
      signal?.addEventListener('abort', done, { once: true })
    })
    return this.#read(since)
  }

  /** Releases every held request (they answer with what they have) and stops listening. */
  close(): void {
    this.#closed = true
    this.#unsubscribe()
    this.#wakeAll()
  }

  #read(since: number): ChangesBody {
    const index = this.#store.index
    const revision = index.revision()
    if (since > revision) {
      throw new SyncGoneError(`since=${since} is ahead of the control plane's revision ${revision} (its store was reset); fetch /v1/sync/snapshot`)
    }
    if (since < index.prunedThrough()) {
      throw new SyncGoneError(`changes up to revision ${index.prunedThrough()} are no longer kept; fetch /v1/sync/snapshot`)
    }
    const changes = index.changesSince(since, this.#options.changesPerResponse)
    const last = changes.at(-1)
    // A capped answer covers only up to its last change; the node asks again from there.
    const covered = changes.length === this.#options.changesPerResponse && last !== undefined ? last.rev : revision
    return { revision: changes.length === 0 ? since : covered, changes }
  }

  #wakeAll(): void {
    for (const wake of [...this.#waiters]) wake()
  }
}

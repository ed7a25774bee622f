/**
 * The control plane's store: one SQLite file in the data directory, and the repositories over it.
 * `onRevision` listeners hear when a committed write advanced the index revision, which is what wakes
 * the nodes' long-polls.
 */
import { EventEmitter } from 'node:events'
import type Database from 'better-sqlite3'
import { openDatabase } from './db.js'
import { IndexLog } from './index-log.js'
import { KeyRepo } from './keys.js'
import { LeakRepo, type LeakPolicy } from './leaks.js'
import { NodeRepo } from './nodes.js'
import { ScanRepo } from './scans.js'
import { SightingRepo } from './sightings.js'

/** What the store needs to know of the configuration. */
export interface StoreOptions extends LeakPolicy {
  /** How many index changes to keep for nodes catching up. */
  changesRetention: number
}

/** The store's default options (the config defaults), for tools such as `leakgate keys`. */
export const DEFAULT_STORE_OPTIONS: StoreOptions = {
  defaultAction: 'monitor', autoBlockRisk: 'off', sightingsKeptPerLeak: 1000, changesRetention: 1_000_000,
}

/** The SQLite store and its repositories. */
export class Store {
  readonly db: Database.Database
  readonly index: IndexLog
  readonly leaks: LeakRepo
  readonly sightings: SightingRepo
  readonly nodes: NodeRepo
  readonly keys: KeyRepo
  readonly scans: ScanRepo
  readonly #events = new EventEmitter()
  readonly #retention: number
  #lastRevision: number

  private constructor(db: Database.Database, options: StoreOptions) {
    this.db = db
    this.#retention = options.changesRetention
    this.#events.setMaxListeners(0)
    this.index = new IndexLog(db)
    this.#lastRevision = this.index.revision()
    this.leaks = new LeakRepo(db, this.index, options, () => this.#afterWrite())
    this.sightings = new SightingRepo(db, this.leaks, options.sightingsKeptPerLeak)
    this.nodes = new NodeRepo(db)
    this.keys = new KeyRepo(db)
    this.scans = new ScanRepo(db)
  }

  /** Opens (creating and migrating when needed) the store in `dataDir`. */
  static open(dataDir: string, options: StoreOptions = DEFAULT_STORE_OPTIONS): Store {
    return new Store(openDatabase(dataDir), options)
  }

  /** Calls `listener(revision)` after each committed write that advanced the revision. */
  onRevision(listener: (revision: number) => void): () => void {
    this.#events.on('revision', listener)
    return () => this.#events.off('revision', listener)
  }

  /**
   * Runs `fn` in one write transaction (for callers outside the repositories, such as the scans
   * service) and announces a new revision after it commits.
   */
  write<T>(fn: () => T): T {
    const result = this.db.transaction(fn).immediate()
    this.#afterWrite()
    return result
  }

  /** Closes the database; the store is unusable after. */
  close(): void {
    this.#events.removeAllListeners()
    if (this.db.open) this.db.close()
  }

  #afterWrite(): void {
    // Inside a caller's transaction (a repository write nested in `write`): announce after its commit,
    // which `write` does, so a rolled-back revision is never announced.
    if (this.db.inTransaction) return
    const revision = this.index.revision()
    if (revision === this.#lastRevision) return
    this.#lastRevision = revision
    // Pruning is rare work (only when the log outgrows its retention), done outside the request's transaction.
    if (revision - this.index.prunedThrough() > this.#retention * 1.1) this.index.prune(this.#retention)
    this.#events.emit('revision', revision)
  }
}

/**
 * The control plane's store: one SQLite file in the data directory, and the repositories over it.
 * Routes, services and metrics go through the repositories, never through SQL of their own, so the
 * store's interface is all a second implementation (PostgreSQL) would have to provide.
 * `onRevision` listeners hear when a committed write advanced the index revision, which is what wakes
 * the nodes' long-polls.
 */
import { EventEmitter } from 'node:events'
import type Database from 'better-sqlite3'
import { openDatabase } from './db.js'
import { AuditLog } from './audit.js'
import { applyHashKey, recordedKeyId, StoredHashes, type HashKeyConversion } from './hash-key.js'
import { IndexLog } from './index-log.js'
import { KeyRepo } from './keys.js'
import { LeakRecords } from './leak-records.js'
import type { LeakPolicy } from './leak-types.js'
import { LeakRepo } from './leaks.js'
import { NodeRepo } from './nodes.js'
import { ScanRepo } from './scans.js'
import { SightingRepo } from './sightings.js'
import { StatsRepo } from './stats.js'

/** What the store needs to know of the configuration. */
export interface StoreOptions extends LeakPolicy {
  /** How many index changes to keep for nodes catching up. */
  changesRetention: number
  /**
   * The `hashKey` option: `{ key }` (undefined for none) is checked against the store and converts an
   * unkeyed store when set. Left out (tools that store no token hash, such as `leakgate keys`): not checked.
   */
  hashKey?: { key: Buffer | undefined }
}

/** The store's default options (the config defaults), for tools such as `leakgate keys`. */
export const DEFAULT_STORE_OPTIONS: StoreOptions = {
  defaultAction: 'monitor', autoBlockRisk: 'off', sightingsKeptPerLeak: 1000, changesRetention: 1_000_000,
}

/** The SQLite store and its repositories. */
export class Store {
  /** Where another thread opens this store to read it (`openIndexReader`): the SQLite file's path. */
  readonly location: string
  readonly index: IndexLog
  readonly leaks: LeakRepo
  readonly audit: AuditLog
  readonly sightings: SightingRepo
  readonly nodes: NodeRepo
  readonly keys: KeyRepo
  readonly stats: StatsRepo
  readonly scans: ScanRepo
  /** How received SHA-256s become stored hashes (keyed or not). */
  readonly hashes: StoredHashes
  /** What starting with a new hash key converted, or undefined (logged by the control plane once). */
  readonly hashKeyConversion: HashKeyConversion | undefined
  readonly #db: Database.Database
  readonly #events = new EventEmitter()
  readonly #retention: number
  #lastRevision: number

  private constructor(db: Database.Database, options: StoreOptions) {
    this.#db = db
    this.location = db.name
    this.#retention = options.changesRetention
    this.#events.setMaxListeners(0)
    this.hashKeyConversion = options.hashKey === undefined ? undefined : applyHashKey(db, options.hashKey.key)
    this.hashes = options.hashKey === undefined ? new StoredHashes(undefined, recordedKeyId(db)) : new StoredHashes(options.hashKey.key)
    this.index = new IndexLog(db)
    this.#lastRevision = this.index.revision()
    this.audit = new AuditLog(db)
    const records = new LeakRecords(db, this.index, this.audit, options)
    this.sightings = new SightingRepo(db, records, options.sightingsKeptPerLeak)
    this.leaks = new LeakRepo(db, records, this.audit, this.sightings, this.hashes, (fn) => this.write(fn))
    this.nodes = new NodeRepo(db)
    this.keys = new KeyRepo(db)
    this.stats = new StatsRepo(db)
    this.scans = new ScanRepo(db, this.hashes)
  }

  /** Opens (creating and migrating when needed) the store in `dataDir`. */
  static open(dataDir: string, options: StoreOptions = DEFAULT_STORE_OPTIONS): Store {
    const db = openDatabase(dataDir)
    try {
      return new Store(db, options)
    } catch (err) {
      db.close()
      throw err
    }
  }

  /** Calls `listener(revision)` after each committed write that advanced the revision. */
  onRevision(listener: (revision: number) => void): () => void {
    this.#events.on('revision', listener)
    return () => this.#events.off('revision', listener)
  }

  /** Throws unless the database answers a query (the liveness check). */
  ping(): void {
    this.#db.prepare('SELECT 1').get()
  }

  /** The newest migration applied to the database (`LATEST_SCHEMA_VERSION` when it is current); throws when it cannot be read. */
  schemaVersion(): number {
    return (this.#db.prepare('SELECT coalesce(max(version), 0) AS v FROM schema_migrations').get() as { v: number }).v
  }

  /**
   * Runs `fn` in one write transaction and announces a new revision after it commits. The
   * repositories' writes run through it; callers outside them (the scans service) use it to make several
   * repository writes one transaction.
   */
  write<T>(fn: () => T): T {
    const result = this.#db.transaction(fn).immediate()
    this.#afterWrite()
    return result
  }

  /** Closes the database; the store is unusable after. */
  close(): void {
    this.#events.removeAllListeners()
    if (this.#db.open) this.#db.close()
  }

  #afterWrite(): void {
    // Inside a caller's transaction (a repository write nested in `write`): announce after its commit,
    // which `write` does, so a rolled-back revision is never announced.
    if (this.#db.inTransaction) return
    const revision = this.index.revision()
    if (revision === this.#lastRevision) return
    this.#lastRevision = revision
    // Pruning is rare work (only when the log outgrows its retention), done outside the request's transaction.
    if (revision - this.index.prunedThrough() > this.#retention * 1.1) this.index.prune(this.#retention)
    this.#events.emit('revision', revision)
  }
}

/**
 * The control plane's store: one SQLite file in the data directory, and the repositories over it.
 * Routes, services and metrics go through the repositories, never through SQL of their own, so the
 * store's interface is all a second implementation (PostgreSQL) would have to provide.
 * `onRevision` listeners hear when a committed write advanced the index revision, which is what wakes
 * the nodes' long-polls.
 *
 * On PostgreSQL several control planes (replicas) may share the database. Each write that advances the
 * revision notifies REVISION_CHANNEL at its commit (index-log.ts), and every store listens to it: a
 * revision above the last one announced is announced here too, whichever replica wrote it. A store's
 * own writes are announced once, by whichever of its commit and the notification comes first.
 */
import { EventEmitter } from 'node:events'
import { AuditLog } from './audit.js'
import { migrate, schemaVersionOf } from './db.js'
import { applyHashKey, recordedKeyId, StoredHashes, type HashKeyConversion } from './hash-key.js'
import { IndexLog, REVISION_CHANNEL } from './index-log.js'
import { IssuedHashRepo } from './issued-hashes.js'
import type { StoreLocation } from './index-reader.js'
import { KeyRepo } from './keys.js'
import { LeakedHashes } from './leaked-hashes.js'
import { LeakRecords } from './leak-records.js'
import type { LeakPolicy } from './leak-types.js'
import { LeakRepo } from './leaks.js'
import { NodeRepo } from './nodes.js'
import { RiskRecompute } from './risk-recompute.js'
import { PostgresSql } from './postgres.js'
import { PublicSourceRepo } from './public-sources.js'
import { OtherFindingRepo } from './other-findings.js'
import { ScanRepo } from './scans.js'
import { SessionRepo } from './sessions.js'
import { SightingRepo } from './sightings.js'
import { EventLog } from './events.js'
import type { Sql } from './sql.js'
import { openSqlite, SqliteSql } from './sqlite.js'
import { StatsRepo } from './stats.js'
import { WebhookRepo } from './webhooks.js'

/** How often a store on PostgreSQL rereads the revision in case a notification was lost unnoticed. */
const SAFETY_REREAD_MS = 30_000

/** What the store needs to know of the configuration. */
export interface StoreOptions extends LeakPolicy {
  /** How many index changes to keep for nodes catching up. */
  changesRetention: number
  /**
   * The `hashKey` option: `{ key }` (undefined for none) is checked against the store and converts an
   * unkeyed store when set. Left out (tools that store no token hash, such as `leakgate keys`): not checked.
   */
  hashKey?: { key: Buffer | undefined }
  /** After a leak's first sighting by a node, at most one leak.sighted event an interval this long (default an hour). */
  sightedEventSeconds?: number
}

/** The store's default options (the config defaults), for tools such as `leakgate keys`. */
export const DEFAULT_STORE_OPTIONS: StoreOptions = {
  defaultAction: 'monitor', autoBlockRisk: 'off', sightingsKeptPerLeak: 1000, changesRetention: 1_000_000,
}

/** The store and its repositories, over one `Sql` connection (SQLite) or pool (PostgreSQL). */
export class Store {
  /** Where another thread opens this store to read its index (`openIndexReader`). */
  readonly location: StoreLocation
  readonly index: IndexLog
  readonly leaks: LeakRepo
  readonly audit: AuditLog
  readonly sightings: SightingRepo
  readonly nodes: NodeRepo
  readonly keys: KeyRepo
  /** Console sessions of people signed in through OpenID Connect. */
  readonly sessions: SessionRepo
  readonly stats: StatsRepo
  readonly scans: ScanRepo
  /** Leaked token hashes by prefix, for range checks. */
  readonly leakedHashes: LeakedHashes
  /** The scheduled recompute of risk (`control-plane/risk-schedule.ts` drives it). */
  readonly risk: RiskRecompute
  readonly webhooks: WebhookRepo
  /** The events recorded with each change (the outbox), read by live followers. */
  readonly events: EventLog
  /** How received SHA-256s become stored hashes (keyed or not). */
  readonly hashes: StoredHashes
  /** Public sources' cursors, the content they scanned, the public places of their leaks. */
  readonly publicSources: PublicSourceRepo
  /** The hashes of the tokens the organisation issued (a public token among them is a leak of ours). */
  readonly issuedHashes: IssuedHashRepo
  /** Other providers' findings in public content, kept apart from leaks (`leakgate watch --keep-others`). */
  readonly otherFindings: OtherFindingRepo
  /** What starting with a new hash key converted, or undefined (logged by the control plane once). */
  readonly hashKeyConversion: HashKeyConversion | undefined
  readonly #sql: Sql
  readonly #events = new EventEmitter()
  readonly #retention: number
  #lastRevision: number
  /** The pruned-through mark as last seen: a lower bound (another replica may have pruned further). */
  #prunedThrough: number
  #unlisten: (() => Promise<void>) | undefined
  #safetyTimer: NodeJS.Timeout | undefined

  private constructor(sql: Sql, location: StoreLocation, options: StoreOptions, init: { hashes: StoredHashes; conversion: HashKeyConversion | undefined; revision: number; prunedThrough: number }) {
    this.#sql = sql
    this.location = location
    this.#retention = options.changesRetention
    this.#events.setMaxListeners(0)
    this.hashKeyConversion = init.conversion
    this.hashes = init.hashes
    this.index = new IndexLog(sql)
    this.#lastRevision = init.revision
    this.#prunedThrough = init.prunedThrough
    this.audit = new AuditLog(sql)
    const records = new LeakRecords(sql, this.index, this.audit, options)
    this.sightings = new SightingRepo(sql, records, options.sightingsKeptPerLeak, options.sightedEventSeconds)
    this.leaks = new LeakRepo(sql, records, this.audit, this.sightings, this.hashes, async (fn) => this.write(fn))
    this.nodes = new NodeRepo(sql)
    this.keys = new KeyRepo(sql)
    this.sessions = new SessionRepo(sql)
    this.stats = new StatsRepo(sql)
    this.scans = new ScanRepo(sql, this.hashes)
    this.leakedHashes = new LeakedHashes(sql)
    this.risk = new RiskRecompute(sql, records, async (fn) => this.write(fn))
    this.webhooks = new WebhookRepo(sql)
    this.events = new EventLog(sql)
    this.publicSources = new PublicSourceRepo(sql)
    this.issuedHashes = new IssuedHashRepo(sql, this.hashes, async (fn) => this.write(fn))
    this.otherFindings = new OtherFindingRepo(sql)
  }

  /** Opens (creating and migrating when needed) the SQLite store in `dataDir`. */
  static async open(dataDir: string, options: StoreOptions = DEFAULT_STORE_OPTIONS): Promise<Store> {
    const sql = openSqlite(dataDir)
    try {
      return await Store.fromSql(sql, options)
    } catch (err) {
      await sql.close()
      throw err
    }
  }

  /**
   * Opens the store a configuration names: PostgreSQL when `databaseUrl` is set, otherwise the SQLite
   * file in `dataDir`; migrated, hash key checked.
   */
  static async openConfigured(where: { dataDir: string; databaseUrl?: string | undefined }, options: StoreOptions = DEFAULT_STORE_OPTIONS): Promise<Store> {
    if (where.databaseUrl === undefined) return Store.open(where.dataDir, options)
    const sql = new PostgresSql(where.databaseUrl)
    try {
      return await Store.fromSql(sql, options, { dialect: 'postgres', address: where.databaseUrl })
    } catch (err) {
      await sql.close()
      throw err
    }
  }

  /**
   * The store over an open connection: migrates it, checks (or applies) the hash key, and reads the
   * revision. `location` tells another thread where to read the index; a SQLite connection knows its
   * own file. The caller closes `sql` when this throws; after, `close()` does.
   */
  static async fromSql(sql: Sql, options: StoreOptions = DEFAULT_STORE_OPTIONS, location?: StoreLocation): Promise<Store> {
    const where = location ?? (sql instanceof SqliteSql ? { dialect: 'sqlite', address: sql.file } : undefined)
    if (where === undefined) throw new TypeError('Store.fromSql: a location is needed for a connection other than SQLite\'s (where the snapshot worker reads the index)')
    await migrate(sql)
    const conversion = options.hashKey === undefined ? undefined : await applyHashKey(sql, options.hashKey.key)
    const hashes = options.hashKey === undefined ? new StoredHashes(undefined, await recordedKeyId(sql)) : new StoredHashes(options.hashKey.key)
    const index = new IndexLog(sql)
    const store = new Store(sql, where, options, { hashes, conversion, revision: await index.revision(), prunedThrough: await index.prunedThrough() })
    if (sql instanceof PostgresSql) await store.#listenToReplicas(sql)
    return store
  }

  /** Calls `listener(revision)` after each committed write that advanced the revision. */
  onRevision(listener: (revision: number) => void): () => void {
    this.#events.on('revision', listener)
    return () => this.#events.off('revision', listener)
  }

  /** Throws unless the database answers a query (the liveness check). */
  async ping(): Promise<void> {
    await this.#sql.get('SELECT 1')
  }

  /** The newest migration applied to the database (`LATEST_SCHEMA_VERSION` when it is current); throws when it cannot be read. */
  async schemaVersion(): Promise<number> {
    return schemaVersionOf(this.#sql)
  }

  /**
   * Runs `fn` in one write transaction and announces a new revision after it commits. The
   * repositories' writes run through it; callers outside them (the scans service) use it to make several
   * repository writes one transaction.
   */
  async write<T>(fn: () => Promise<T>): Promise<T> {
    // Inside a caller's transaction (a repository write nested in `write`): the outer `write` announces
    // after its commit, so a rolled-back revision is never announced.
    if (this.#sql.inTransaction) return fn()
    const result = await this.#sql.transaction(fn)
    await this.#afterWrite()
    return result
  }

  /** Closes the database; the store is unusable after. */
  async close(): Promise<void> {
    clearInterval(this.#safetyTimer)
    this.#events.removeAllListeners()
    await this.#unlisten?.()
    await this.keys.settled()
    await this.sessions.settled()
    await this.#sql.close()
  }

  async #afterWrite(): Promise<void> {
    const revision = await this.index.revision()
    // Pruning is rare work (only when the log outgrows its retention), done outside the request's
    // transaction. The mark kept here may be behind another replica's pruning: prune() rereads it.
    if (revision - this.#prunedThrough > this.#retention * 1.1) this.#prunedThrough = await this.index.prune(this.#retention)
    this.#announce(revision)
  }

  /** Emits `revision` when it is above the last one announced: each rise is announced once. */
  #announce(revision: number): void {
    // Two writes ending together may read their revisions in either order, and a write's own
    // notification may arrive before or after its commit returns: only a rise counts.
    if (revision <= this.#lastRevision) return
    this.#lastRevision = revision
    this.#events.emit('revision', revision)
  }

  /** Rereads the revision (after notifications may have been missed) and announces it if it rose. */
  async #catchUp(): Promise<void> {
    this.#announce(await this.index.revision())
  }

  async #listenToReplicas(sql: PostgresSql): Promise<void> {
    const catchUp = (): void => {
      // A database that does not answer is reported by the liveness check; the next tick tries again.
      this.#catchUp().catch(() => undefined)
    }
    // A notification says a transaction committed a new revision: read it (the notification comes after
    // the commit, so the read sees it). null: the LISTEN connection was lost and made again, and
    // notifications sent meanwhile are gone: reading the revision covers them too.
    this.#unlisten = await sql.listen(REVISION_CHANNEL, () => catchUp())
    // A write committed between the first read of the revision and LISTEN sent no notification here.
    await this.#catchUp()
    // The notification is the path; this slow reread only bounds how late a revision can be announced
    // when the LISTEN connection dies without a sign (a peer or firewall dropping it silently, which
    // TCP notices only after minutes): a revision missed that way is announced within this period.
    this.#safetyTimer = setInterval(catchUp, SAFETY_REREAD_MS)
    this.#safetyTimer.unref()
  }
}


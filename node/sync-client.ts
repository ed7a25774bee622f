/**
 * The node's sync client: keeps the node's index current from the control plane (docs/api.md "Sync").
 *
 * - Starts from the index cached in `cacheDir` when there is one, so a node restarted while the control
 *   plane is away enforces at once; `ready` settles once that load is over (the proxy waits for it, so
 *   no request passes unchecked meanwhile). A corrupt snapshot is refused with a clear log line; a
 *   corrupt journal is logged and dropped, the cached snapshot is enforced alone, and a fresh snapshot
 *   is fetched once the control plane answers.
 * - With no index, fetches `GET /v1/sync/snapshot`; with one, follows `GET /v1/sync/changes?since=&wait=`
 *   (long-poll). 410 (revision too old, or the control plane's store was reset): fetch the snapshot.
 * - The snapshot is asked with `?redirect=true`: the control plane names the snapshot's immutable URL
 *   (`/v1/sync/snapshot/<revision>?digest=`), fetched from `snapshotUrl` (a cache in front of the control
 *   plane) or the control plane's URL, so that a cache can serve a fleet one build. The bytes must be the
 *   ones named (digest), of the revision named, made with this node's hash key (`Leakgate-Hash-Key-Id`);
 *   a cache failing or answering anything else, the snapshot is fetched from the control plane directly.
 *   A control plane that predates the redirect answers the bytes at once.
 * - A snapshot older than the index in force (served while the control plane builds a newer one) is
 *   not taken: the node follows the changes from its own revision. Only if those answer 410 too (the
 *   control plane's store was reset) is the next snapshot taken whatever its revision.
 * - A bad snapshot or change batch is refused and the index in force is kept (fail-static); so is the
 *   index whenever the control plane cannot be reached. Retries back off exponentially with jitter.
 * - A snapshot taken while an index is in force never sits in memory beside it: it is written to the
 *   cache folder and checked whole there while the old index serves, then read in place from that file
 *   (leakdb/snapshot-file.ts) while the old index is let go and the new one loads. Only when the cache
 *   folder cannot take it (not writable, disk full) is it loaded beside the old index, as a first one is.
 * - Persists: a new snapshot at once, the changes since it after `persistDebounceMs`. A snapshot that
 *   could not be written is written again before the next changes, and at `stop`.
 * - Heartbeats (`POST /v1/nodes/heartbeat`) every `heartbeatMs`, and one soon after changes apply (at
 *   most one a second), so the fleet view confirms a decision's revision within a moment.
 */
import { Agent, request as httpRequest, type Dispatcher } from 'undici'
import type { Logger } from 'pino'
import { isChangesFrame, MAX_WAIT_SECONDS, type Change } from '../protocol/changes.js'
import type { Heartbeat } from '../protocol/heartbeat.js'
import { IndexCache, StagingFailedError, type StagedSnapshot } from './leakdb/cache.js'
import { LeakIndex, type IndexOptions } from './leakdb/index.js'
import { HashKeyMismatchError, SyncError } from '../lib/errors.js'
import { HASH_KEY_ID_HEADER } from '../protocol/token-hash.js'
import { MAX_SNAPSHOT_BYTES, TRAILER_SIZE, type DecodeLimits } from '../protocol/snapshot.js'
import { parseSnapshotLocation, snapshotPath } from '../protocol/snapshot-url.js'
import { SnapshotFileView } from './leakdb/snapshot-file.js'
import { freeingAsRead } from './leakdb/collect.js'
import type { NodeCounters } from './metrics.js'
import type { IndexHolder } from './verdict.js'

/** Options of a sync client. */
export interface SyncClientOptions {
  controlPlane: string
  /** Base URL of a cache in front of the control plane that snapshots are fetched through; the control plane's URL without it. */
  snapshotUrl?: string
  nodeKey: string | undefined
  nodeId: string
  /** The id of the node's hash key (protocol/token-hash.ts hashKeyId), sent with every sync request; undefined without a key. */
  hashKeyId?: string | undefined
  version: string
  cacheDir: string
  /** Long-poll wait of /v1/sync/changes, 0..MAX_WAIT_SECONDS (30) seconds. */
  waitSeconds: number
  heartbeatMs: number
  /**
   * Whether to heartbeat early (at most once a second) after changes or a snapshot apply, so the fleet
   * view confirms a revision within a moment (default true). Internal: the sync benchmark turns it off
   * to measure what those heartbeats cost the control plane.
   */
  confirmEarly?: boolean
  persistDebounceMs: number
  indexOptions: IndexOptions
  holder: IndexHolder
  counters: NodeCounters
  logger: Logger
}

const MIN_BACKOFF_MS = 250
const MAX_BACKOFF_MS = 30_000
const MAX_CHANGES_BYTES = 256 * 1024 * 1024
// Past this many journaled changes, a fresh snapshot is cheaper to keep than the journal.
const MAX_JOURNAL = 200_000
/** At most one early heartbeat (confirming a new revision) this often. */
const CONFIRM_INTERVAL_MS = 1000

class Gone extends Error {}

/** Delay before retry number `attempt` (0-based): exponential, capped, with full jitter in its upper half. */
export function backoffDelay(attempt: number, min = MIN_BACKOFF_MS, max = MAX_BACKOFF_MS): number {
  const base = Math.min(max, min * 2 ** Math.min(attempt, 20))
  return base / 2 + Math.random() * (base / 2)
}

/** Follows the control plane and keeps `holder` current. */
export class SyncClient {
  readonly #o: SyncClientOptions
  readonly #cache: IndexCache
  readonly #agent: Agent
  readonly #base: string
  readonly #snapshotBase: string
  readonly #abort = new AbortController()
  #loop: Promise<void> | undefined
  #ready: Promise<void> | undefined
  /** An index loaded from a snapshot not yet written to the cache (or whose write failed): no journal can be written without it. */
  #unsavedSnapshot: LeakIndex | undefined
  #heartbeat: NodeJS.Timeout | undefined
  /** The early heartbeat that confirms a new revision, while one is due. */
  #confirmTimer: NodeJS.Timeout | undefined
  #lastConfirmAt = 0
  #persistTimer: NodeJS.Timeout | undefined
  #persisting: Promise<void> = Promise.resolve()
  /** Changes applied since the snapshot in the cache: what the cache's journal must hold. */
  #journal: Change[] = []
  #needSnapshot = false
  /** A snapshot older than the index in force was just refused; a 410 since then means take the next one anyway. */
  #refusedOlder = false
  #failing = false
  /** Whether a snapshot had to be loaded beside the index in force (cache folder not writable) already: said once at warn. */
  #overlapSaid = false
  #heartbeatFailing = false
  #stopped = false

  constructor(options: SyncClientOptions) {
    if (!(options.waitSeconds >= 0 && options.waitSeconds <= MAX_WAIT_SECONDS)) throw new TypeError(`waitSeconds must be 0..${MAX_WAIT_SECONDS}, got ${options.waitSeconds}`)
    this.#o = options
    this.#cache = new IndexCache(options.cacheDir)
    this.#base = options.controlPlane.replace(/\/+$/, '')
    this.#snapshotBase = (options.snapshotUrl ?? options.controlPlane).replace(/\/+$/, '')
    // Long polls hold a connection up to `wait` seconds: allow for it before calling the server dead.
    const timeout = (options.waitSeconds + 15) * 1000
    // Two connections: the held long-poll and one for heartbeats and snapshots. A fleet of 1,000 nodes
    // opening four each (as this pool once did while starting and retrying) overran the control plane's
    // connection cap; sighting reports have their own pool (sightings.ts).
    this.#agent = new Agent({ connections: 2, headersTimeout: timeout, bodyTimeout: timeout, keepAliveTimeout: 60_000 })
  }

  /**
   * Settles (never rejects) once the cached index has been loaded into the holder, or found missing
   * or refused. Starts the load on first use; `start` uses the same load.
   */
  get ready(): Promise<void> {
    this.#ready ??= this.#startFromCache()
    return this.#ready
  }

  /** Starts following; returns at once. */
  start(): void {
    if (this.#loop !== undefined) return
    this.#loop = this.#run()
    this.#heartbeat = setInterval(() => void this.#sendHeartbeat(), this.#o.heartbeatMs)
    this.#heartbeat.unref()
  }

  /** Stops following, aborts a long poll in flight, and writes pending changes to the cache. */
  async stop(): Promise<void> {
    this.#stopped = true
    this.#abort.abort()
    clearInterval(this.#heartbeat)
    clearTimeout(this.#confirmTimer)
    await this.#loop
    if (this.#persistTimer !== undefined) {
      clearTimeout(this.#persistTimer)
      this.#persistTimer = undefined
      this.#persist()
    } else if (this.#unsavedSnapshot !== undefined) {
      this.#persist()
    }
    await this.#persisting
    await this.#agent.close()
  }

  async #run(): Promise<void> {
    await this.ready
    void this.#sendHeartbeat()
    let attempt = 0
    while (!this.#stopped) {
      try {
        // Changes apply to a loaded index only, never to a snapshot file read in place while it loads.
        if (this.#needSnapshot || !(this.#o.holder.current instanceof LeakIndex)) await this.#fetchSnapshot()
        else await this.#pollChanges()
        attempt = 0
        if (this.#failing) {
          this.#failing = false
          this.#o.logger.info({ revision: this.#o.holder.current?.revision }, 'in sync with the control plane again')
        }
      } catch (err) {
        if (this.#stopped) break
        if (err instanceof Gone) {
          this.#needSnapshot = true
          continue
        }
        this.#o.counters.syncErrors++
        const e = err as { code?: string; message?: string }
        if (err instanceof HashKeyMismatchError) this.#o.counters.hashKeyMismatches++
        // A hash key mismatch is an operator's error that no retry fixes: said as an error, once.
        const level = this.#failing ? 'debug' : err instanceof HashKeyMismatchError ? 'error' : 'warn'
        this.#failing = true
        this.#o.logger[level]({ err: { code: e.code, message: e.message }, revision: this.#o.holder.current?.revision ?? null }, 'sync with the control plane failed; enforcing the index in force and retrying')
        await this.#sleep(backoffDelay(attempt++))
      }
    }
  }

  async #startFromCache(): Promise<void> {
    const { holder, logger } = this.#o
    try {
      const cached = await this.#cache.load(this.#o.indexOptions)
      if (cached === undefined) return
      this.#journal = [...this.#cache.loadedChanges]
      if (holder.current === undefined) holder.swap(cached, this.#journal)
      logger.info({ revision: cached.revision, indexEntries: cached.size }, 'started from the cached index')
      const journalError = this.#cache.journalError
      if (journalError !== undefined) {
        // The changes since the snapshot are lost: the changes feed would bring them back too, but a
        // snapshot also rewrites the broken journal at once.
        this.#needSnapshot = true
        logger.error({ err: { code: journalError.code, message: journalError.message }, cacheDir: this.#o.cacheDir, revision: cached.revision }, 'cached change journal dropped; enforcing the cached snapshot alone until a fresh one arrives')
      }
    } catch (err) {
      const e = err as { code?: string; message?: string }
      logger.error({ err: { code: e.code, message: e.message }, cacheDir: this.#o.cacheDir }, 'cached index refused; waiting for the control plane')
    }
  }

  #headers(extra?: Record<string, string>): Record<string, string> {
    const h: Record<string, string> = { ...extra }
    if (this.#o.nodeKey !== undefined) h.authorization = `Bearer ${this.#o.nodeKey}`
    return h
  }

  async #get(path: string, headers: Record<string, string>, base = this.#base): Promise<Dispatcher.ResponseData> {
    // The sync requests say which hash key this node looks credentials up with, so the control plane
    // refuses a node that would miss every leak instead of feeding it an index it cannot match.
    const keyId = this.#o.hashKeyId
    const withKey = keyId === undefined ? headers : { ...headers, [HASH_KEY_ID_HEADER]: keyId }
    return httpRequest(base + path, { method: 'GET', dispatcher: this.#agent, headers: this.#headers(withKey), signal: this.#abort.signal })
  }

  /**
   * The snapshot's answer (200): at its immutable URL when the control plane names one, with what the
   * bytes must be; else (an older control plane, or the immutable fetch failed) from the control plane.
   */
  async #snapshotAnswer(): Promise<{ res: Dispatcher.ResponseData; named?: NamedSnapshot }> {
    const asked = await this.#get('/v1/sync/snapshot?redirect=true', {})
    if (asked.statusCode === 200) return { res: asked }
    if (asked.statusCode !== 307 && asked.statusCode !== 302 && asked.statusCode !== 303) throw await this.#statusError(asked, 'snapshot')
    await asked.body.dump()
    const location = asked.headers.location
    const named = typeof location === 'string' ? parseSnapshotLocation(location, `${this.#base}/v1/sync/snapshot`) : undefined
    if (named === undefined) throw new SyncError('snapshot: the control plane redirected elsewhere than a snapshot\'s immutable URL under its own')
    let why: string
    try {
      const res = await this.#get(snapshotPath(named.revision, named.digest), {}, this.#snapshotBase)
      if (res.statusCode === 200) {
        // Another deployment's cache (or control plane) behind snapshotUrl: no retry fixes it, and its
        // index would miss every leak: refused, as the control plane refuses a node with another key.
        const keyId = res.headers[HASH_KEY_ID_HEADER]
        if ((typeof keyId === 'string' ? keyId : undefined) !== this.#o.hashKeyId) {
          await res.body.dump()
          throw new HashKeyMismatchError(`snapshot: ${this.#snapshotBase} served a snapshot made with ${typeof keyId === 'string' ? `hash key id ${keyId.slice(0, 16)}` : 'no hash key'}, and this node has ${this.#o.hashKeyId === undefined ? 'none' : `id ${this.#o.hashKeyId}`}; enforcing the last good index`)
        }
        // Headers of another snapshot (a cache keyed wrongly, or a stale copy): not worth reading the bytes.
        if (res.headers.etag === `"r${named.revision}-${named.digest}"`) return { res, named }
        why = `answered the ETag ${String(res.headers.etag).slice(0, 80)}`
      } else {
        why = `answered ${res.statusCode}`
      }
      await res.body.dump()
    } catch (err) {
      if (err instanceof HashKeyMismatchError || this.#stopped) throw err
      why = (err as Error).message
    }
    this.#o.logger.warn({ snapshotUrl: this.#snapshotBase, revision: named.revision, reason: why }, 'the snapshot\'s immutable URL failed; fetching the snapshot from the control plane directly')
    const direct = await this.#get('/v1/sync/snapshot', {})
    if (direct.statusCode !== 200) throw await this.#statusError(direct, 'snapshot')
    return { res: direct }
  }

  async #requestSnapshot(): Promise<{ res: Dispatcher.ResponseData; limits: DecodeLimits; named?: NamedSnapshot }> {
    const { res, named } = await this.#snapshotAnswer()
    const length = Number(res.headers['content-length'])
    const limits = { maxBytes: MAX_SNAPSHOT_BYTES, ...(Number.isSafeInteger(length) && length >= 0 ? { size: length } : {}) }
    return { res, limits, ...(named === undefined ? {} : { named }) }
  }

  async #fetchSnapshot(): Promise<void> {
    const { res, limits, named } = await this.#requestSnapshot()
    if (this.#o.holder.current === undefined) return this.#loadInMemory(res, limits, named)
    try {
      await this.#reloadThroughFile(res, limits, named)
      return
    } catch (err) {
      if (!(err instanceof StagingFailedError)) throw err
      const level = this.#overlapSaid ? 'debug' : 'warn'
      this.#overlapSaid = true
      this.#o.logger[level]({ err: { message: err.message }, cacheDir: this.#o.cacheDir }, 'cannot write the snapshot to the cache folder; loading it beside the index in force (both in memory until the swap)')
    }
    const again = await this.#requestSnapshot()
    await this.#loadInMemory(again.res, again.limits, again.named)
  }

  /** Loads a snapshot straight into a new index: the first one, or beside the index in force when the cache folder cannot take it. */
  async #loadInMemory(res: Dispatcher.ResponseData, limits: DecodeLimits, named: NamedSnapshot | undefined): Promise<void> {
    const { holder, logger } = this.#o
    // Read into the new index's arrays as the body arrives, checksum computed on the way: the body is
    // never held whole, and the filter is built in slices that leave the event loop free between them.
    // The spent socket reads are freed as it goes (leakdb/collect.ts), or they would stay resident.
    // Throws on a bad snapshot (the body is then closed): the index in force stays.
    let index: LeakIndex
    const tail = new Tail()
    try {
      index = await LeakIndex.fromStream(tail.through(freeingAsRead(res.body)), this.#o.indexOptions, limits)
    } catch (err) {
      res.body.destroy()
      throw err
    }
    if (this.#stopped) return
    checkNamed(named, index.revision, tail.bytes)
    if (this.#refuseOlder(index.revision)) return
    this.#refusedOlder = false
    holder.swap(index)
    holder.lastSyncAt = Date.now()
    this.#needSnapshot = false
    logger.info({ revision: index.revision, indexEntries: index.size, indexBytes: index.byteLength }, 'loaded a snapshot from the control plane')
    this.#confirmSoon()
    clearTimeout(this.#persistTimer)
    this.#persistTimer = undefined
    this.#journal = []
    this.#unsavedSnapshot = index
    this.#persisting = this.#persisting.then(() => this.#saveSnapshot(index)).catch((err: unknown) => this.#logPersistError(err))
  }

  /**
   * Takes a snapshot while an index is in force without holding two: written to the cache folder and
   * checked whole (framing, checksum, then every entry) while the old index serves; then that file, read
   * in place, is put in force, the old index let go (and collected), and the file loaded into the new
   * index. A bad or older snapshot is refused before anything is let go.
   * @throws {StagingFailedError} when the cache folder cannot take the snapshot (nothing changed then).
   */
  async #reloadThroughFile(res: Dispatcher.ResponseData, limits: DecodeLimits, named: NamedSnapshot | undefined): Promise<void> {
    const { holder, logger, indexOptions } = this.#o
    let staged: StagedSnapshot
    const tail = new Tail()
    try {
      staged = await this.#cache.stageSnapshot(tail.through(freeingAsRead(res.body)), limits)
    } catch (err) {
      res.body.destroy()
      throw err
    }
    let view: SnapshotFileView
    try {
      checkNamed(named, staged.checked.parts.revision, tail.bytes)
      if (this.#stopped || this.#refuseOlder(staged.checked.parts.revision)) {
        await this.#cache.discardStaged(staged)
        return
      }
      view = await SnapshotFileView.open(staged.path, indexOptions, staged.checked)
    } catch (err) {
      await this.#cache.discardStaged(staged)
      throw err
    }
    if (this.#stopped) {
      view.close()
      await this.#cache.discardStaged(staged)
      return
    }
    // The snapshot is good. It becomes the cached one (queued after any write of the old one, which it
    // replaces; the view reads its open descriptor, which the rename does not disturb), the journal of
    // the old one is dropped, and the old index goes out of force.
    this.#refusedOlder = false
    clearTimeout(this.#persistTimer)
    this.#persistTimer = undefined
    this.#journal = []
    this.#unsavedSnapshot = undefined
    const adopted = this.#persisting.then(() => this.#cache.adoptSnapshot(staged)).then(() => true, (err: unknown) => {
      this.#logPersistError(err)
      return false
    })
    this.#persisting = adopted.then(() => {})
    holder.swap(view)
    holder.lastSyncAt = Date.now()
    logger.info({ revision: view.revision, indexEntries: view.size }, 'enforcing the new snapshot from its file while it loads; the previous index is let go')
    // The old index's memory back before the new one's is taken: that is the point of the view.
    await holder.collected
    let index: LeakIndex
    try {
      index = await view.load()
    } catch (err) {
      // The view, checked whole, stays in force; a fresh snapshot is fetched to replace it.
      this.#needSnapshot = true
      throw err
    }
    if (holder.current !== view) return
    holder.swap(index)
    this.#needSnapshot = false
    logger.info({ revision: index.revision, indexEntries: index.size, indexBytes: index.byteLength }, 'loaded a snapshot from the control plane')
    this.#confirmSoon()
    if (!(await adopted)) {
      // The file could not be put in place: the index is written from its arrays, as a first snapshot is.
      this.#unsavedSnapshot = index
      this.#persisting = this.#persisting.then(() => this.#saveSnapshot(index)).catch((err: unknown) => this.#logPersistError(err))
    }
  }

  /**
   * Whether a snapshot at `revision` is refused as older than the index in force (served while the
   * control plane builds a newer one); after a 410 that follows such a refusal, the next one is taken.
   */
  #refuseOlder(revision: number): boolean {
    const current = this.#o.holder.current
    if (current !== undefined && revision < current.revision && !this.#refusedOlder) {
      this.#refusedOlder = true
      this.#needSnapshot = false
      this.#o.logger.info({ revision: current.revision, snapshotRevision: revision }, 'the control plane served an older snapshot than the index in force; following the changes from the index in force')
      return true
    }
    return false
  }

  /**
   * Writes the snapshot of an index, from its own arrays, unless a newer one came meanwhile (that one's
   * write is queued after this).
   */
  async #saveSnapshot(index: LeakIndex): Promise<void> {
    if (this.#unsavedSnapshot !== index) return
    await this.#cache.saveIndex(index)
    if (this.#unsavedSnapshot === index) this.#unsavedSnapshot = undefined
  }

  async #pollChanges(): Promise<void> {
    const { holder } = this.#o
    const index = holder.current
    if (!(index instanceof LeakIndex)) return
    const since = index.revision
    const res = await this.#get(`/v1/sync/changes?since=${since}&wait=${this.#o.waitSeconds}`, { accept: 'application/json' })
    if (res.statusCode === 410) {
      await res.body.dump()
      throw new Gone()
    }
    if (res.statusCode !== 200) throw await this.#statusError(res, 'changes')
    const text = (await readBounded(res.body, MAX_CHANGES_BYTES)).toString('utf8')
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch (cause) {
      throw new SyncError('changes answer is not JSON', { cause })
    }
    // The frame here; each change is checked by applyChanges, which refuses the batch whole on a bad one.
    if (!isChangesFrame(body)) throw new SyncError('changes answer lacks revision or changes')
    const changes = body.changes as Change[]
    const revision = body.revision
    if (holder.current !== index) return // a snapshot replaced the index meanwhile
    index.applyChanges(changes, revision) // validates the whole batch first; throws and keeps the index on a bad one
    holder.changed(changes, index.revision)
    holder.lastSyncAt = Date.now()
    this.#refusedOlder = false
    const fresh = changes.filter((c) => c.rev > since)
    if (fresh.length > 0) {
      this.#confirmSoon()
      this.#journal.push(...fresh)
      if (this.#journal.length > MAX_JOURNAL) this.#needSnapshot = true
      else this.#schedulePersist()
    }
  }

  #schedulePersist(): void {
    if (this.#persistTimer !== undefined) return
    this.#persistTimer = setTimeout(() => {
      this.#persistTimer = undefined
      this.#persist()
    }, this.#o.persistDebounceMs)
    this.#persistTimer.unref()
  }

  #persist(): void {
    const journal = this.#journal.slice()
    // The journal belongs to the snapshot in force when it is taken; if that one's write failed, write it first.
    const snapshot = this.#unsavedSnapshot
    this.#persisting = this.#persisting
      .then(async () => {
        if (snapshot !== undefined) await this.#saveSnapshot(snapshot)
        await this.#cache.saveChanges(journal)
      })
      .catch((err: unknown) => this.#logPersistError(err))
  }

  #logPersistError(err: unknown): void {
    const e = err as { code?: string; message?: string }
    this.#o.logger.error({ err: { code: e.code, message: e.message }, cacheDir: this.#o.cacheDir }, 'cannot write the index cache; the node keeps enforcing from memory')
  }

  async #statusError(res: Dispatcher.ResponseData, what: string): Promise<Error> {
    if (res.statusCode === 409) {
      // The control plane's problem detail says which side lacks the key or has another (ids only).
      const text = (await readBounded(res.body, 64 * 1024).catch(() => Buffer.alloc(0))).toString('utf8')
      let detail = 'the hash key of this node is not the control plane\'s'
      try {
        const d = (JSON.parse(text) as { detail?: unknown }).detail
        if (typeof d === 'string') detail = d.slice(0, 500)
      } catch {
        // keep the generic detail
      }
      return new HashKeyMismatchError(`${what}: ${detail}; enforcing the last good index`)
    }
    await res.body.dump()
    const hint = res.statusCode === 401 || res.statusCode === 403 ? ' (check LEAKGATE_NODE_KEY: it needs a key with the node role)' : ''
    return new SyncError(`${what}: control plane answered ${res.statusCode}${hint}`)
  }

  /**
   * Tells the control plane the new revision now rather than at the next heartbeat, so an operator's
   * decision is confirmed as enforced within a moment (the console waits for it): at most one early
   * heartbeat a second, so a burst of changes sends one or two.
   */
  #confirmSoon(): void {
    if (this.#confirmTimer !== undefined || this.#o.confirmEarly === false) return
    const wait = Math.max(0, this.#lastConfirmAt + CONFIRM_INTERVAL_MS - Date.now())
    this.#confirmTimer = setTimeout(() => {
      this.#confirmTimer = undefined
      this.#lastConfirmAt = Date.now()
      void this.#sendHeartbeat()
    }, wait)
    this.#confirmTimer.unref()
  }

  async #sendHeartbeat(): Promise<void> {
    if (this.#stopped) return
    const { holder, logger } = this.#o
    const index = holder.current
    const body: Heartbeat = {
      nodeId: this.#o.nodeId,
      version: this.#o.version,
      revision: index?.revision ?? 0,
      indexEntries: index?.size ?? 0,
      syncAgeSeconds: holder.lastSyncAt < 0 ? 0 : Math.max(0, (Date.now() - holder.lastSyncAt) / 1000),
    }
    try {
      const res = await httpRequest(`${this.#base}/v1/nodes/heartbeat`, {
        method: 'POST',
        dispatcher: this.#agent,
        headers: this.#headers({ 'content-type': 'application/json' }),
        body: JSON.stringify(body),
        signal: this.#abort.signal,
      })
      await res.body.dump()
      // 403: the key reports as another node already (one node key a node), or the fleet is full.
      const hint = res.statusCode === 403 ? ' (a node key reports only as the node id it first used: give each node its own key, or check maxNodes)' : ''
      if (res.statusCode >= 300) throw new SyncError(`heartbeat: control plane answered ${res.statusCode}${hint}`)
      if (this.#heartbeatFailing) logger.info('heartbeats accepted again')
      this.#heartbeatFailing = false
    } catch (err) {
      if (this.#stopped) return
      if (!this.#heartbeatFailing) logger.warn({ err: { code: (err as { code?: string }).code, message: (err as Error).message } }, 'heartbeat failed')
      this.#heartbeatFailing = true
    }
  }

  async #sleep(ms: number): Promise<void> {
    if (this.#stopped) return
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, ms)
      const signal = this.#abort.signal
      function done(): void {
        clearTimeout(t)
        signal.removeEventListener('abort', done)
        resolve()
      }
      signal.addEventListener('abort', done, { once: true })
    })
  }
}

/** Passes a body's chunks through, keeping its last TRAILER_SIZE bytes: the snapshot's checksum. */
/** The snapshot an immutable URL names: its revision and the first 16 bytes of its checksum, in hex. */
interface NamedSnapshot {
  revision: number
  digest: string
}

/**
 * The decoder checked the trailer against the bytes; when an immutable URL named the snapshot, the
 * trailer and revision must also be the ones it named (a cache keyed wrongly serves another).
 */
function checkNamed(named: NamedSnapshot | undefined, revision: number, trailer: Buffer): void {
  if (named !== undefined && (revision !== named.revision || trailer.subarray(0, 16).toString('hex') !== named.digest)) {
    throw new SyncError(`snapshot: the bytes served for revision ${named.revision} (digest ${named.digest}) are another snapshot (revision ${revision}); refused`)
  }
}

class Tail {
  bytes: Buffer = Buffer.alloc(0)

  async *through(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
    for await (const chunk of body) {
      const c = chunk as Buffer
      // A copy: the chunk's memory may be reused once it is consumed.
      this.bytes = Buffer.from(c.length >= TRAILER_SIZE ? c.subarray(c.length - TRAILER_SIZE) : Buffer.concat([this.bytes, c]).subarray(-TRAILER_SIZE))
      yield chunk
    }
  }
}

async function readBounded(body: Dispatcher.ResponseData['body'], max: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += (chunk as Buffer).length
    if (size > max) {
      body.destroy()
      throw new SyncError(`answer larger than ${max} bytes`)
    }
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks, size)
}

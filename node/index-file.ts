/**
 * `--index FILE`: the snapshot file a node enforces without a control plane. Read once at start, then
 * read again whenever it changes and on SIGHUP; a new index is read in chunks, yielding to requests
 * between them, and swapped in whole, and a file that does not load (corrupt, truncated, wrong checksum, gone) is refused with the
 * index in force kept (fail-static, as for a bad snapshot from the control plane).
 *
 * The file is watched through its folder, not by itself: `leakgate index build` (and most tools that
 * write safely) replace it by rename, which a watch on the old file would not survive, and a Kubernetes
 * ConfigMap swaps a symlinked folder beside it. So every event of the folder schedules a look, and the
 * look reloads only when the file's identity (device, inode, size, times) differs from the last one read.
 *
 * A reload never holds two indexes: the new file is opened once and checked whole while the old index
 * serves, then read in place (leakdb/snapshot-file.ts) while the old index is let go and the new one
 * loads from the same descriptor (a file renamed over it meanwhile does not change what is read).
 */
import { statSync, watch, type FSWatcher, type Stats } from 'node:fs'
import { stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Logger } from 'pino'
import { LeakIndex, type IndexOptions } from './leakdb/index.js'
import { SnapshotFileView } from './leakdb/snapshot-file.js'
import type { NodeCounters } from './metrics.js'
import type { IndexHolder } from './verdict.js'

// Writers that do not rename (cp, an editor) make several events per write: wait for them to settle.
const DEBOUNCE_MS = 300
const GONE = 'gone'

/**
 * Reads and builds an index file on the main thread, for the start, before anything is served.
 * @throws a snapshot error (lib/errors.ts) or a file system error.
 */
export function readIndexFile(path: string, options: IndexOptions): LeakIndex {
  return LeakIndex.fromFileSync(path, options)
}

/**
 * Reads an index file in chunks straight into a new index, the event loop free between them, so the
 * node keeps answering while a large file loads: a reload with no index in force (with one, the file
 * is read in place meanwhile instead, see `IndexFileReloader`).
 * @throws a snapshot error (lib/errors.ts) or a file system error.
 */
export async function loadIndexFileInBackground(path: string, options: IndexOptions): Promise<LeakIndex> {
  return LeakIndex.fromFile(path, options)
}

/** What a reload of the index file did, for the log line. */
export interface IndexFileReload {
  file: string
  revision: number
  previousRevision: number | null
  indexEntries: number
}

/** Options of an `IndexFileReloader`. */
export interface IndexFileReloaderOptions {
  path: string
  indexOptions: IndexOptions
  holder: IndexHolder
  counters: NodeCounters
  logger: Logger
  debounceMs?: number
}

/** Keeps `holder` enforcing the current content of one index file. */
export class IndexFileReloader {
  readonly #o: IndexFileReloaderOptions
  readonly #debounceMs: number
  /** Identity of the file as last read (loaded or refused); undefined when unknown. */
  #seen: string | undefined
  #watcher: FSWatcher | undefined
  #timer: NodeJS.Timeout | undefined
  // Loads run one at a time: a SIGHUP during a load from a change waits for it, never races it.
  #queue: Promise<unknown> = Promise.resolve()
  #closed = false

  constructor(options: IndexFileReloaderOptions) {
    this.#o = options
    this.#debounceMs = options.debounceMs ?? DEBOUNCE_MS
  }

  /** Reads the file on the main thread and remembers which file that was; for the start. */
  readNow(): LeakIndex {
    // Taken before the read: a file replaced between the two looks changed, so it is read again.
    const identity = identityOf(statSync(this.#o.path))
    const index = readIndexFile(this.#o.path, this.#o.indexOptions)
    this.#seen = identity
    return index
  }

  /**
   * Loads the file and puts it in force, whether or not it changed (SIGHUP: the operator asked);
   * undefined once closed.
   * @throws what refused the file; the index in force stays.
   */
  reload(): Promise<IndexFileReload | undefined> {
    const run = this.#queue.then(() => this.#load(true))
    this.#queue = run.catch(() => {})
    return run
  }

  /** Starts watching the file's folder; a failure to watch is logged (SIGHUP still reloads). */
  watch(): void {
    if (this.#watcher !== undefined || this.#closed) return
    const { path, logger } = this.#o
    try {
      // Not persistent: the watch alone must not keep a stopping node alive.
      this.#watcher = watch(dirname(path), { persistent: false }, () => this.#schedule())
      this.#watcher.on('error', (err) => {
        logger.warn({ file: path, err: { code: (err as { code?: string }).code, message: err.message } }, 'stopped watching the index file; SIGHUP still reloads it')
        this.#watcher?.close()
      })
    } catch (err) {
      const e = err as { code?: string; message?: string }
      logger.warn({ file: path, err: { code: e.code, message: e.message } }, 'cannot watch the index file for changes; SIGHUP reloads it')
      return
    }
    // A file replaced between the start's read and this watch made no event we heard: look once.
    this.#schedule()
  }

  /** Stops watching; a load in flight finishes but is not put in force. */
  close(): void {
    this.#closed = true
    clearTimeout(this.#timer)
    this.#watcher?.close()
    this.#watcher = undefined
  }

  #schedule(): void {
    if (this.#closed) return
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#queue = this.#queue.then(() => this.#onChange())
    }, this.#debounceMs)
    this.#timer.unref()
  }

  async #onChange(): Promise<void> {
    const { path, holder, logger } = this.#o
    try {
      const result = await this.#load(false)
      if (result !== undefined) logger.info({ ...result, trigger: 'file changed' }, 'reloaded the index file')
    } catch (err) {
      const e = err as { code?: string; message?: string }
      logger.error({ file: path, err: { code: e.code, message: e.message }, revision: holder.current?.revision ?? null }, 'the changed index file was refused; enforcing the index in force')
    }
  }

  /** Loads the file into the holder; undefined when `force` is off and the file is the one last read. */
  async #load(force: boolean): Promise<IndexFileReload | undefined> {
    const { path, indexOptions, holder, counters } = this.#o
    let identity: string
    try {
      identity = identityOf(await stat(path))
    } catch (err) {
      // A file gone is said once, not again at every event of its folder.
      const gone = (err as { code?: string }).code === 'ENOENT'
      if (!force && gone && this.#seen === GONE) return undefined
      if (gone) this.#seen = GONE
      counters.indexReloads.failed++
      throw err
    }
    if (!force && identity === this.#seen) return undefined
    if (this.#closed) return undefined
    // Remembered even when refused, so other files' events in the folder do not log the same refusal again.
    this.#seen = identity
    const previousRevision = holder.current?.revision ?? null
    let index: LeakIndex
    if (holder.current === undefined) {
      try {
        index = await loadIndexFileInBackground(path, indexOptions)
      } catch (err) {
        counters.indexReloads.failed++
        throw err
      }
      if (this.#closed) return undefined
    } else {
      let view: SnapshotFileView
      try {
        view = await SnapshotFileView.open(path, indexOptions)
      } catch (err) {
        counters.indexReloads.failed++
        throw err
      }
      if (this.#closed) {
        view.close()
        return undefined
      }
      // Checked whole: it goes in force, read in place, and the old index's memory is given back
      // before the new one's is taken. From here the load completes even if the reloader is closed.
      holder.swap(view)
      await holder.collected
      try {
        index = await view.load()
      } catch (err) {
        // The view stays in force (the file as checked); the next event or SIGHUP loads it again.
        this.#seen = undefined
        counters.indexReloads.failed++
        throw err
      }
      if (holder.current !== view) return undefined
    }
    holder.swap(index)
    counters.indexReloads.ok++
    return { file: path, revision: index.revision, previousRevision, indexEntries: index.size }
  }
}

function identityOf(s: Stats): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`
}

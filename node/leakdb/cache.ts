/**
 * A node's last good index on disk, so it can start and enforce while the control plane is away.
 *
 * Two files in the cache folder, each replaced atomically (writeFileAtomic):
 *   index.snapshot        the snapshot of the index in force (hashes only), written from its arrays
 *   index.changes.json    `{ "base": <snapshot revision>, "changes": [Change, ...] }`: every change
 *                         applied since that snapshot (hashes only), replayed on load
 * A journal whose base is not the snapshot's revision belongs to an older snapshot and is ignored.
 * A corrupt journal does not cost the snapshot: the index loads at the snapshot's revision and
 * `journalError` says why, so the caller can log it and fetch a fresh snapshot (fail-static).
 *
 * A snapshot downloaded while an index is in force is written here first (`stageSnapshot`: a temporary
 * file, checked as it is written) and, once taken, renamed into place (`adoptSnapshot`); the node reads
 * it in place meanwhile instead of holding a second index in memory (snapshot-file.ts).
 */
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { ChangeInvalidError, IndexInputError, isLeakgateError, type LeakgateError } from '../../lib/errors.js'
import type { Change } from '../../protocol/changes.js'
import { readSnapshotHeader, snapshotChunks, SnapshotDecoder, type DecodeLimits } from '../../protocol/snapshot.js'
import { LeakIndex, type IndexOptions } from './index.js'
import { checkedSnapshot, type CheckedSnapshot } from './snapshot-file.js'
import { syncFolder, writeFileAtomic } from './write-file-atomic.js'

const SNAPSHOT_FILE = 'index.snapshot'
const CHANGES_FILE = 'index.changes.json'

/** A snapshot written to a temporary file of the cache folder and checked (framing and checksum). */
export interface StagedSnapshot {
  readonly path: string
  readonly checked: CheckedSnapshot
}

/** The cache folder could not take a snapshot (folder not writable, disk full): nothing is wrong with the snapshot. */
export class StagingFailedError extends Error {
  constructor(cause: unknown) {
    super(`cannot write a snapshot to the cache folder: ${(cause as Error).message}`, { cause })
  }
}

/** The persisted index of one node. */
export class IndexCache {
  readonly dir: string
  #base = -1
  #loadedChanges: readonly Change[] = []
  #journalError: LeakgateError | undefined

  constructor(dir: string) {
    this.dir = dir
  }

  /** Path of the snapshot file. */
  get snapshotPath(): string {
    return join(this.dir, SNAPSHOT_FILE)
  }

  /** Path of the change journal. */
  get changesPath(): string {
    return join(this.dir, CHANGES_FILE)
  }

  /** The journal's changes that the last `load` replayed, to append new ones to. */
  get loadedChanges(): readonly Change[] {
    return this.#loadedChanges
  }

  /** Why the last `load` dropped the journal (not JSON, or refused changes); undefined when it did not. */
  get journalError(): LeakgateError | undefined {
    return this.#journalError
  }

  /**
   * Loads the cached index, or undefined when there is none. The snapshot is read straight into the
   * index's arrays in chunks, the event loop free between them (LeakIndex.fromFile), so a node that
   * serves while it starts is not held up, and the load takes no memory beyond the index's.
   * A corrupt journal is dropped (see `journalError`): the index is the snapshot's alone.
   * @throws a snapshot error (lib/errors.ts) when the cached snapshot is corrupt or of an older format
   *   (the caller logs it, starts without an index and fetches a fresh snapshot).
   */
  async load(options: IndexOptions = {}): Promise<LeakIndex | undefined> {
    let index: LeakIndex
    try {
      index = await LeakIndex.fromFile(this.snapshotPath, options)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
    this.#loadedChanges = []
    this.#journalError = undefined
    this.#base = index.revision
    let journal: { base?: unknown; changes?: unknown }
    try {
      journal = JSON.parse(await readFile(this.changesPath, 'utf8')) as typeof journal
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return index
      this.#journalError = new ChangeInvalidError(`cached change journal ${this.changesPath} is not valid JSON`, { cause: err })
      return index
    }
    if (typeof journal !== 'object' || journal === null || journal.base !== index.revision) return index
    if (!Array.isArray(journal.changes)) {
      this.#journalError = new ChangeInvalidError(`cached change journal ${this.changesPath} has no list of changes`)
      return index
    }
    try {
      // Validates the whole list before applying any of it: on a refusal the index is the snapshot's.
      index.applyChanges(journal.changes as Change[])
    } catch (err) {
      this.#journalError = isLeakgateError(err) ? err : new ChangeInvalidError(`cached change journal ${this.changesPath} refused`, { cause: err })
      return index
    }
    this.#loadedChanges = journal.changes as Change[]
    return index
  }

  /**
   * Saves the snapshot an index was loaded from (its live changes excluded: they go in the journal),
   * written from the index's own arrays, and starts a new, empty journal for it.
   */
  async saveIndex(index: LeakIndex): Promise<void> {
    const base = index.base
    await this.#replaceSnapshot(base.revision, snapshotChunks(base))
  }

  /** Saves a snapshot held in memory (checked first), and starts a new, empty journal for it. */
  async saveSnapshot(buf: Uint8Array): Promise<void> {
    await this.#replaceSnapshot(readSnapshotHeader(buf).revision, buf)
  }

  /**
   * Writes a snapshot as it arrives to a temporary file of the cache folder, checking its framing and
   * checksum on the way and keeping only its bucket table: constant memory whatever its size. The file
   * is synced to disk; `adoptSnapshot` puts it in place, `discardStaged` removes it.
   * @throws a snapshot error (lib/errors.ts) for a bad snapshot, {StagingFailedError} when the file cannot
   *   be written; the temporary file is removed either way.
   */
  async stageSnapshot(chunks: AsyncIterable<Uint8Array>, limits: DecodeLimits = {}): Promise<StagedSnapshot> {
    const path = join(this.dir, `.${SNAPSHOT_FILE}.${process.pid}.${Date.now()}.download`)
    const file = await mkdir(this.dir, { recursive: true })
      .then(() => open(path, 'w', 0o600))
      .catch((err: unknown) => {
        throw new StagingFailedError(err)
      })
    const decoder = new SnapshotDecoder(limits, 'offsets')
    try {
      for await (const chunk of chunks) {
        decoder.push(chunk)
        await writeAll(file, chunk)
      }
      const checked = checkedSnapshot(decoder)
      await file.sync().catch((err: unknown) => {
        throw new StagingFailedError(err)
      })
      await file.close()
      return { path, checked }
    } catch (err) {
      await file.close().catch(() => {})
      await unlink(path).catch(() => {})
      throw err
    }
  }

  /** Removes a staged snapshot not taken (older than the index in force, or refused). */
  async discardStaged(staged: StagedSnapshot): Promise<void> {
    await unlink(staged.path).catch(() => {})
  }

  /**
   * Puts a staged snapshot in place of the cached one (a rename: a reader holding it open keeps reading
   * the same bytes) and starts a new, empty journal for it. On failure the staged file is removed.
   */
  async adoptSnapshot(staged: StagedSnapshot): Promise<void> {
    await this.#replaceSnapshot(staged.checked.parts.revision, async () => {
      try {
        await rename(staged.path, this.snapshotPath)
      } catch (err) {
        await unlink(staged.path).catch(() => {})
        throw err
      }
      await syncFolder(this.dir)
    })
  }

  async #replaceSnapshot(revision: number, write: Uint8Array | Iterable<Uint8Array> | (() => Promise<void>)): Promise<void> {
    // Until the new snapshot is on disk, no journal may be written: it would hold changes since the
    // new snapshot under the old one's base, and a restart would replay them onto the wrong snapshot.
    this.#base = -1
    await mkdir(this.dir, { recursive: true })
    if (typeof write === 'function') await write()
    else await writeFileAtomic(this.snapshotPath, write)
    this.#base = revision
    await writeFileAtomic(this.changesPath, JSON.stringify({ base: revision, changes: [] }))
  }

  /** Saves every change applied since the saved snapshot (the whole list, replacing the journal). */
  async saveChanges(changes: readonly Change[]): Promise<void> {
    if (this.#base < 0) throw new IndexInputError('no snapshot saved or loaded yet: save one before its changes')
    await mkdir(this.dir, { recursive: true })
    await writeFileAtomic(this.changesPath, JSON.stringify({ base: this.#base, changes }))
  }
}

// A write failure (disk full) is the cache's, not the snapshot's: said as StagingFailedError.
async function writeAll(file: Awaited<ReturnType<typeof open>>, chunk: Uint8Array): Promise<void> {
  try {
    for (let at = 0; at < chunk.length;) at += (await file.write(chunk, at, chunk.length - at)).bytesWritten
  } catch (err) {
    throw new StagingFailedError(err)
  }
}

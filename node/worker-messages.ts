/**
 * What the primary of a multi-process node (workers.ts) and its proxy processes (worker.ts) say to
 * each other over the cluster's IPC channel. Hashes, revisions and counts only: a credential never
 * crosses it (sightings carry the credential's hash, as they do to the control plane).
 */
import type { AddressInfo } from 'node:net'
import type { MetricObjectWithValues, MetricValue } from 'prom-client'
import type { Change } from '../protocol/changes.js'
import type { PortOption } from './listen-errors.js'
import type { ReloadOutcome } from './reload.js'
import type { Sighting } from './sightings.js'

/** The primary to a worker. */
export type ToWorker =
  /**
   * Enforce the snapshot file at `path` (written for the workers, never changed in place) with
   * `changes` applied on top, up to `revision`. Supersedes any base before it.
   */
  | { t: 'base'; path: string; revision: number; changes: readonly Change[] }
  /** Apply these changes to the index of the last base, bringing it to `revision`. */
  | { t: 'changes'; changes: readonly Change[]; revision: number }
  /** The primary has no index to give yet (none cached): start without one, as `noIndex` says. */
  | { t: 'no-index' }
  /** Reload what a worker reloads (SIGHUP): the config file's options, TLS files. */
  | { t: 'reload'; id: number }
  /** Drain and exit. */
  | { t: 'drain' }
  /** Answer with your metrics. */
  | { t: 'metrics'; id: number }

/** A worker to the primary. */
export type FromWorker =
  /** The worker's handlers are set: send it the index (messages sent before would be lost). */
  | { t: 'hello' }
  /** A port could not be bound: the worker exits next, and the primary, whose start failed, too. */
  | { t: 'listen-failed'; key: PortOption; err: { code?: string | undefined; message?: string | undefined } }
  /** Listening: the proxy's address (and the check port's). */
  | { t: 'listening'; proxy: AddressInfo | undefined; checks: AddressInfo | undefined }
  /** The index now in force, after a base or a batch of changes. */
  | { t: 'index'; revision: number; entries: number }
  /** Sightings to send to the control plane. */
  | { t: 'sightings'; items: Sighting[] }
  | { t: 'reloaded'; id: number; outcomes: ReloadOutcome[] }
  | { t: 'metrics'; id: number; metrics: MetricObjectWithValues<MetricValue<string>>[] }

/** Whether an IPC message is one of ours (cluster's own messages share the channel). */
export function isMessage<T extends { t: string }>(m: unknown): m is T {
  return typeof m === 'object' && m !== null && typeof (m as { t?: unknown }).t === 'string'
}

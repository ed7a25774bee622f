/**
 * Shards of a public source: one stream split among workers without overlap. Every unit has a shard key
 * (the repository of a push or project, the gist id, the paste key, the package name), and shard k of n
 * takes only the keys that hash to k. Sources check the key BEFORE the expensive read (a push's
 * commits, a package's tarball, a paste's body), so n shards cost about one source's reads, not n.
 *
 * Each shard has its own cursor row, `<sourceId>#<k>/<n>` (`gharchive#2/4`); an unsharded source keeps
 * `<sourceId>`, as does a source of one shard. The content seen and the public places keep the source's own id. The shard count of a
 * source is fixed once it runs: another count means other cursor rows, started afresh (what was scanned
 * under the old count is skipped by its content hash, not read again for nothing).
 */
import { createHash } from 'node:crypto'

/** Shard `index` (1-based) of `count`. */
export interface ShardSpec {
  index: number
  count: number
}

/** A shard's lease by default: long enough for a batch between renewals, short enough for a quick takeover. */
export const DEFAULT_LEASE_SECONDS = 60

/** The largest shard count: more shards than that is more cursor rows than workers could use. */
export const MAX_SHARDS = 1024

/** The shard (1..count) key `key` belongs to: the first 4 bytes of its SHA-256, mod count. */
export function shardOfKey(key: string, count: number): number {
  return (createHash('sha256').update(key).digest().readUInt32BE(0) % count) + 1
}

/** True when `key` is shard `shard`'s (always, unsharded). */
export function belongsTo(shard: ShardSpec | undefined, key: string): boolean {
  return shard === undefined || shard.count === 1 || shardOfKey(key, shard.count) === shard.index
}

/** `spec` checked (a TypeError naming what is wrong), or undefined. */
export function checkShard(spec: ShardSpec | undefined): ShardSpec | undefined {
  if (spec === undefined) return undefined
  const { index, count } = spec
  if (!Number.isInteger(count) || count < 1 || count > MAX_SHARDS) throw new TypeError(`the shard count must be an integer from 1 to ${MAX_SHARDS}, got ${count}`)
  if (!Number.isInteger(index) || index < 1 || index > count) throw new TypeError(`the shard index must be an integer from 1 to the count (${count}), got ${index}`)
  return { index, count }
}

/** The id of the cursor row of `sourceId`'s shard `shard` (`gharchive#2/4`), or `sourceId` unsharded. */
export function shardCursorId(sourceId: string, shard: ShardSpec | undefined): string {
  // One shard is the whole source: its row is the source's (leased when many workers may run it).
  return shard === undefined || shard.count === 1 ? sourceId : `${sourceId}#${shard.index}/${shard.count}`
}

/** The cursor row id of a source, as `shardCursorId` makes it from the source's own id and shard. */
export function cursorIdOf(source: { readonly id: string; readonly shard?: ShardSpec | undefined }): string {
  return shardCursorId(source.id, source.shard)
}

/**
 * The immutable URL of a snapshot, `/v1/sync/snapshot/<revision>?digest=<32 hex>` (docs/api.md,
 * "Snapshots through a cache"): the revision, and the first 128 bits of the snapshot's own checksum (its
 * trailer), so that the URL names one body forever. A store reset reuses revision numbers and another
 * hash key makes other entries; either way the digest differs, and a cache never confuses the two.
 *
 * The control plane answers `GET /v1/sync/snapshot?redirect=true` with 307 to this URL, written relative
 * to the request's path; the node reads the revision and digest back with parseSnapshotLocation.
 */
import { TRAILER_SIZE } from './snapshot.js'

/** The digest as the query carries it (a JSON schema pattern). */
export const SNAPSHOT_DIGEST_PATTERN = '^[0-9a-f]{32}$'

/** The digest of a snapshot body: the first 16 bytes of its trailing SHA-256, in hex. */
export function snapshotDigest(body: Uint8Array): string | undefined {
  if (body.length < TRAILER_SIZE) return undefined
  return Buffer.from(body.buffer, body.byteOffset + body.length - TRAILER_SIZE, 16).toString('hex')
}

/** The redirect's `Location`: relative to `/v1/sync/snapshot`, so it resolves under any path prefix. */
export function snapshotLocation(revision: number, digest: string | undefined): string {
  return `snapshot/${revision}${digest === undefined ? '' : `?digest=${digest}`}`
}

/** The immutable path of a snapshot, from a base URL's root (or path prefix). */
export function snapshotPath(revision: number, digest: string): string {
  return `/v1/sync/snapshot/${revision}?digest=${digest}`
}

/**
 * The revision and digest a redirect names, or undefined when `location` is not a snapshot's immutable
 * URL on the same origin and under the same path as `requested` (the URL that was redirected): a node
 * never sends its key elsewhere because an answer said so.
 */
export function parseSnapshotLocation(location: string, requested: string): { revision: number; digest: string } | undefined {
  let target: URL
  let from: URL
  try {
    from = new URL(requested)
    target = new URL(location, from)
  } catch {
    return undefined
  }
  if (target.origin !== from.origin) return undefined
  const m = /^(.*)\/([0-9]{1,16})$/.exec(target.pathname)
  const digest = target.searchParams.get('digest')
  if (m === null || m[1] !== from.pathname || digest === null || !new RegExp(SNAPSHOT_DIGEST_PATTERN).test(digest)) return undefined
  const revision = Number(m[2])
  return Number.isSafeInteger(revision) ? { revision, digest } : undefined
}

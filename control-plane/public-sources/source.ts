/**
 * What a public source is: something that, given where it stopped (its cursor and state), reads the
 * next batch of public content as units (a commit's changes to one file, a gist file, a paste, a
 * package file), each with its public location, and says where the batch leaves it. The runner
 * (runner.ts) scans the units and only then commits the new cursor, so a source never needs to know
 * whether what it read was scanned: it reads from the cursor it is given.
 */
import { createHash } from 'node:crypto'
import type { LeakLocation } from '../store/leak-types.js'
import type { PublicSourceState } from '../store/public-sources.js'
import type { ShardSpec } from './shard.js'

export type { PublicSourceState }

/** The sources, by the name `leakgate watch` and the scan workers' `publicSources` take. */
export const PUBLIC_SOURCE_NAMES = ['github-events', 'gharchive', 'github-gists', 'github-code-search', 'gitlab-events', 'paste-feed', 'npm', 'pypi'] as const

/** A source's name. */
export type PublicSourceName = typeof PUBLIC_SOURCE_NAMES[number]

/** Where a unit is public: a leak's location fields, the link being to the unit's first line. */
export interface PublicLocation {
  /** The repository's web page (`https://github.com/acme/api`). */
  repoUrl?: string
  /** `owner/name`. */
  repo?: string
  commit?: string
  branch?: string
  path?: string
  /** A browsable link to line `line` of the unit (1-based, as scans link lines). */
  link?: (line: number) => string
  /** The unit's own address when it has no line links (a paste, a package file). */
  url?: string
}

/** One piece of public content to scan. */
export interface PublicUnit {
  /** Stable within its source (`<repo>@<commit>:<path>`): the same content read again has the same id. */
  id: string
  /** SHA-256 hex of `content`: the same content elsewhere (a fork's push) is scanned once. */
  contentSha256: string
  /** The text to scan: for a diff, its added lines, blank lines standing for the others so line numbers hold. */
  content: string
  location: PublicLocation
  /** When the content became public (ISO-8601), when the source knows. */
  publishedAt?: string
}

/** Where a source stands: the cursor committed with its last batch and the state it reported then. */
export interface SourcePosition {
  cursor: string | null
  state: PublicSourceState
}

/** What one read gave. */
export interface SourceBatch {
  units: PublicUnit[]
  /** The cursor after these units (the same as before when nothing new was read). */
  next: string | null
  /** The state to keep (rate limit, poll interval, lag, an ETag...). */
  state: PublicSourceState
  /** True when the source has more to read right now (the caller reads again without waiting). */
  more: boolean
}

/** A public source. */
export interface PublicSource {
  /** Stable id, the key of its cursor row (`github-events`). */
  readonly id: string
  /**
   * The `source` of the leaks it finds, as leaks name sources (`github`, `gitlab`, `paste`): one the
   * risk model counts as public exposure, and one the leak list's filter takes.
   */
  readonly leakSource: string
  /**
   * The shard this source reads (shard.ts): only the units whose key is the shard's, from its own cursor
   * row (`<id>#<k>/<n>`); undefined for the whole source.
   */
  readonly shard?: ShardSpec | undefined
  /**
   * Reads the batch after `position`. Throws when the source failed (a 500, an unreadable answer):
   * nothing of the batch is scanned, and the cursor stays. A rate limit is not a failure: an empty
   * batch whose state says when to come back (`nextPollAt`).
   */
  read(position: SourcePosition, signal?: AbortSignal): Promise<SourceBatch>
}

/** A unit of `content` at `location`, its content hash computed. */
export function unitOf(id: string, content: string, location: PublicLocation, publishedAt?: string): PublicUnit {
  return {
    id, content, location,
    contentSha256: createHash('sha256').update(content).digest('hex'),
    ...(publishedAt === undefined ? {} : { publishedAt }),
  }
}

/** The fields of a public location a leak keeps, at `line`. */
export function leakLocationAt(location: PublicLocation, line: number): LeakLocation {
  const out: LeakLocation = { line }
  if (location.repo !== undefined) out.repo = location.repo
  if (location.repoUrl !== undefined) out.repoUrl = location.repoUrl
  if (location.commit !== undefined) out.commit = location.commit
  if (location.branch !== undefined) out.branch = location.branch
  if (location.path !== undefined) out.path = location.path
  const url = location.link?.(line) ?? location.url
  if (url !== undefined) out.url = url
  return out
}

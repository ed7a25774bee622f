/**
 * The npm registry's changes feed as a public source. The feed (CouchDB's `_changes`:
 * `GET /_changes?since={seq}&limit=N` → `{ results: [{ seq, id, changes }], last_seq }`) names the
 * packages changed; each one's packument (`GET /{name}`) gives its versions, their publish times and
 * `dist.tarball`; the versions published recently are downloaded (gzip'd tar) and each text file in
 * them is a unit, linked to the version's page (`https://www.npmjs.com/package/{name}/v/{version}`)
 * with its path in the package.
 *
 * The cursor is the feed's seq after the last change read in full: a change whose packument or
 * tarball fails to read (a 5xx, a body cut off) fails the batch and is read again. A package
 * unpublished since (404) is skipped, and so is a tarball that is complete but does not unpack (the
 * package is broken, reading it again would not help): counted in the state. A rate limit ends the
 * batch at the last change read in full.
 */
import { FeedError } from '../../lib/errors.js'
import { feedState, FeedHttp, parseFeedJson, type FeedHttpOptions } from './feed-http.js'
import { type PublicSource, type PublicUnit, type SourceBatch, type SourcePosition } from './source.js'
import { belongsTo, checkShard, type ShardSpec } from './shard.js'
import { packageUnits } from './package-archive.js'

/** How to read the npm registry's changes. */
export interface NpmChangesOptions extends FeedHttpOptions {
  /** Where packuments and tarballs are (default https://registry.npmjs.org). */
  registryUrl?: string
  /** The changes feed (default `{registryUrl}/_changes`; for the public registry https://replicate.npmjs.com/registry/_changes). */
  changesUrl?: string
  /** Where versions' pages are, for links (default https://www.npmjs.com). */
  webUrl?: string
  /** Where to start when there is no cursor yet: a seq, or `now` (default): only the changes to come. */
  since?: string
  /** Changes read in one batch (default 20). */
  maxChangesPerBatch?: number
  /** A version is read when published at most this long before the packument's last change (default 1 hour). */
  recentSeconds?: number
  /** At most this many versions of a package a change (the newest; default 3). */
  maxVersionsPerChange?: number
  /** Tarballs larger than this (downloaded, or unpacked) are skipped (default 32 MiB). */
  maxTarballBytes?: number
  /** Files larger than this are not scanned (default 1 MiB). */
  maxFileBytes?: number
  /** Seconds between polls when nothing more is waiting (default 60). */
  pollSeconds?: number
  /** The source id (its cursor row); default `npm`. */
  id?: string
  /** Read only this shard's units (shard.ts). */
  shard?: ShardSpec
}

/** A change as the feed lists it: the fields read. */
interface Change {
  seq: string
  id: string
  deleted: boolean
}

/** A version to read. */
interface Version {
  version: string
  tarball: string
  published: string | undefined
}

/** Seqs are numbers on CouchDB 1 and opaque strings on later feeds. */
const SEQ = /^[A-Za-z0-9_=+/.-]{1,2048}$/

/** The npm registry's changes. */
export class NpmChangesSource implements PublicSource {
  readonly id: string
  readonly shard: ShardSpec | undefined
  readonly leakSource = 'npm'
  readonly #http: FeedHttp
  readonly #registry: string
  readonly #changes: string
  readonly #web: string
  readonly #since: string
  readonly #maxChanges: number
  readonly #recentSeconds: number
  readonly #maxVersions: number
  readonly #maxTarball: number
  readonly #maxFile: number
  readonly #pollSeconds: number

  constructor(options: NpmChangesOptions = {}) {
    this.id = options.id ?? 'npm'
    this.shard = checkShard(options.shard)
    this.#http = new FeedHttp(options)
    this.#registry = (options.registryUrl ?? 'https://registry.npmjs.org').replace(/\/+$/, '')
    this.#changes = options.changesUrl ?? (options.registryUrl === undefined ? 'https://replicate.npmjs.com/registry/_changes' : `${this.#registry}/_changes`)
    for (const url of [this.#registry, this.#changes]) {
      if (!/^https?:$/.test(new URL(url).protocol)) throw new TypeError(`the npm registry must be an http(s) URL, got ${url}`)
    }
    this.#web = (options.webUrl ?? 'https://www.npmjs.com').replace(/\/+$/, '')
    this.#since = options.since ?? 'now'
    if (this.#since !== 'now' && !SEQ.test(this.#since)) throw new TypeError(`since must be a seq or now, got ${JSON.stringify(this.#since)}`)
    this.#maxChanges = options.maxChangesPerBatch ?? 20
    this.#recentSeconds = options.recentSeconds ?? 3600
    this.#maxVersions = options.maxVersionsPerChange ?? 3
    this.#maxTarball = options.maxTarballBytes ?? 32 * 1024 * 1024
    this.#maxFile = options.maxFileBytes ?? 1024 * 1024
    this.#pollSeconds = options.pollSeconds ?? 60
  }

  async read(position: SourcePosition, signal?: AbortSignal): Promise<SourceBatch> {
    const state = position.state
    if (typeof state.nextPollAt === 'string' && Date.parse(state.nextPollAt) > Date.now()) return { units: [], next: position.cursor, state, more: false }
    this.#http.resetPace()
    if (position.cursor !== null && !SEQ.test(position.cursor)) throw new FeedError(`the npm cursor ${JSON.stringify(position.cursor.slice(0, 60))} is not a seq`)
    const since = position.cursor ?? this.#since
    const url = new URL(this.#changes)
    url.searchParams.set('since', since)
    url.searchParams.set('limit', String(this.#maxChanges))
    const res = await this.#http.get(url.href, signal)
    const counts = { unpublished: Number(state.unpublished ?? 0), unreadableTarballs: Number(state.unreadableTarballs ?? 0), skippedTarballs: Number(state.skippedTarballs ?? 0) }
    const stateOf = (wait: boolean, more: boolean, lagSeconds?: number): SourceBatch['state'] => feedState(this.#http.pace, { wait, more, pollSeconds: this.#pollSeconds, ...(lagSeconds === undefined ? {} : { lagSeconds }), extra: counts })
    if (res.limited !== undefined) return { units: [], next: position.cursor, state: stateOf(true, false), more: false }
    if (res.status !== 200 || res.body === undefined) throw new FeedError(`the npm changes feed answered ${res.status}`)
    const { changes, lastSeq } = changesOf(parseFeedJson(res.body, 'the npm changes feed'))
    const units: PublicUnit[] = []
    let next = position.cursor
    let limited = false
    let newest: number | undefined
    for (const change of changes) {
      if (!change.deleted && !change.id.startsWith('_design/')) {
        const got = await this.#unitsOf(change.id, counts, signal)
        if (got === 'limited') {
          limited = true
          break
        }
        units.push(...got.units)
        if (got.newest !== undefined) newest = Math.max(newest ?? 0, got.newest)
      }
      next = change.seq
    }
    // With no change left, the feed's own last seq (the first read from `now` starts there).
    if (!limited && changes.length === 0 && lastSeq !== undefined) next = lastSeq
    const more = !limited && changes.length >= this.#maxChanges
    return { units, next, state: stateOf(limited, more, newest === undefined ? undefined : Math.max(0, Math.round((Date.now() - newest) / 1000))), more }
  }

  /** The units of a changed package's recent versions; `limited` when a rate limit was met. */
  async #unitsOf(name: string, counts: { unpublished: number; unreadableTarballs: number; skippedTarballs: number }, signal: AbortSignal | undefined): Promise<{ units: PublicUnit[]; newest: number | undefined } | 'limited'> {
    // Another shard's package: the cursor passes its change without reading its packument or tarball.
    if (!belongsTo(this.shard, name)) return { units: [], newest: undefined }
    const res = await this.#http.get(`${this.#registry}/${name.startsWith('@') ? `@${encodeURIComponent(name.slice(1))}` : encodeURIComponent(name)}`, signal)
    if (res.limited !== undefined) return 'limited'
    if (res.status === 404) {
      counts.unpublished++
      return { units: [], newest: undefined }
    }
    if (res.status !== 200 || res.body === undefined) throw new FeedError(`the packument of ${name} answered ${res.status}`)
    const versions = this.#recentVersions(name, parseFeedJson(res.body, `the packument of ${name}`))
    const units: PublicUnit[] = []
    let newest: number | undefined
    for (const v of versions) {
      const got = await this.#http.get(v.tarball, signal, this.#maxTarball, 'application/octet-stream')
      if (got.limited !== undefined) return 'limited'
      if (got.status === 404) {
        counts.unpublished++
        continue
      }
      if (got.status !== 200) throw new FeedError(`the tarball of ${name}@${v.version} answered ${got.status}`)
      if (got.body === undefined) {
        counts.skippedTarballs++
        continue
      }
      // npm packs everything under `package/`; the path in the package is what a reader knows.
      const files = packageUnits(got.body, {
        repo: `npm:${name}@${v.version}`, page: `${this.#web}/package/${name}/v/${v.version}`, topFolder: /^package\//, published: v.published,
      }, { maxBytes: this.#maxTarball * 8, maxFileBytes: this.#maxFile })
      if (files === undefined) {
        counts.unreadableTarballs++
        continue
      }
      units.push(...files)
      if (v.published !== undefined) newest = Math.max(newest ?? 0, Date.parse(v.published))
    }
    return { units, newest }
  }

  /** The versions published within `recentSeconds` of the packument's newest, newest first, at most maxVersions. */
  #recentVersions(name: string, body: unknown): Version[] {
    if (body === null || typeof body !== 'object') throw new FeedError(`the packument of ${name} is not a JSON object`)
    const doc = body as { versions?: Record<string, { dist?: { tarball?: unknown } }>; time?: Record<string, unknown> }
    const time = doc.time ?? {}
    const all: Version[] = []
    for (const [version, meta] of Object.entries(doc.versions ?? {})) {
      const tarball = meta?.dist?.tarball
      if (typeof tarball !== 'string') continue
      let url: URL
      try {
        url = new URL(tarball)
      } catch {
        continue
      }
      // Tarballs only from the registry: a packument cannot send this source elsewhere.
      if (url.origin !== new URL(this.#registry).origin) continue
      const at = time[version]
      all.push({ version, tarball: url.href, published: typeof at === 'string' && !Number.isNaN(Date.parse(at)) ? new Date(at).toISOString() : undefined })
    }
    all.sort((a, b) => (b.published ?? '').localeCompare(a.published ?? ''))
    const newest = all[0]?.published
    if (newest === undefined) return all.slice(0, 1)
    const from = Date.parse(newest) - this.#recentSeconds * 1000
    return all.filter((v) => v.published !== undefined && Date.parse(v.published) >= from).slice(0, this.#maxVersions)
  }
}

/** The changes of a feed's answer, and its last seq. */
function changesOf(body: unknown): { changes: Change[]; lastSeq: string | undefined } {
  if (body === null || typeof body !== 'object' || !Array.isArray((body as { results?: unknown }).results)) throw new FeedError('the npm changes feed did not answer { results: [...] }')
  const b = body as { results: unknown[]; last_seq?: unknown }
  const changes: Change[] = []
  for (const r of b.results) {
    const c = r as { seq?: unknown; id?: unknown; deleted?: unknown } | null
    const seq = c === null || typeof c !== 'object' ? undefined : seqOf(c.seq)
    if (seq === undefined || typeof c?.id !== 'string' || c.id === '') throw new FeedError('the npm changes feed answered a change without a seq or an id')
    changes.push({ seq, id: c.id, deleted: c.deleted === true })
  }
  return { changes, lastSeq: seqOf(b.last_seq) }
}

function seqOf(value: unknown): string | undefined {
  const s = typeof value === 'number' && Number.isInteger(value) && value >= 0 ? String(value) : value
  return typeof s === 'string' && SEQ.test(s) ? s : undefined
}

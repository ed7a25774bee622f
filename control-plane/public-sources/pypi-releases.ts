/**
 * PyPI's new releases as a public source: the recent-releases RSS feed (`GET /rss/updates.xml`, items
 * titled `{name} {version}`, newest first), each release's files from the JSON API
 * (`GET /pypi/{name}/{version}/json` → `urls[]`), and its source distribution (`sdist`, a gzip'd tar)
 * downloaded and each text file in it a unit, linked to the release's page. Wheels are zip archives and
 * no zip reader is part of Leakgate: they are skipped and counted (`wheelsSkipped`).
 *
 * The cursor is `{unix seconds}|{name@version,...}`: the newest release time handled and the releases
 * handled at that second. A release removed since (404) is skipped; any other failure (a 5xx, a body cut
 * off) fails the batch and the cursor stays; a rate limit ends the batch at the last release read.
 */
import { FeedError } from '../../lib/errors.js'
import { feedState, FeedHttp, parseFeedJson, type FeedHttpOptions } from './feed-http.js'
import { type PublicSource, type PublicUnit, type SourceBatch, type SourcePosition } from './source.js'
import { belongsTo, checkShard, type ShardSpec } from './shard.js'
import { packageUnits } from './package-archive.js'

/** How to read PyPI's releases. */
export interface PypiReleasesOptions extends FeedHttpOptions {
  /** The index: the feed and the JSON API (default https://pypi.org). */
  indexUrl?: string
  /** Where distribution files may be downloaded from besides the index (default https://files.pythonhosted.org). */
  filesUrl?: string
  /** Releases read in one batch (default 20). */
  maxReleasesPerBatch?: number
  /** Source distributions larger than this are skipped (default 32 MiB). */
  maxArchiveBytes?: number
  /** Files larger than this are not scanned (default 1 MiB). */
  maxFileBytes?: number
  /** Seconds between polls when nothing more is waiting (default 60). */
  pollSeconds?: number
  /** The source id (its cursor row); default `pypi`. */
  id?: string
  /** Read only this shard's units (shard.ts). */
  shard?: ShardSpec
}

/** A release as the feed lists it. */
interface Release {
  name: string
  version: string
  /** Unix seconds. */
  at: number
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/
const VERSION = /^[A-Za-z0-9][A-Za-z0-9.+!_-]{0,99}$/

/** PyPI's new releases. */
export class PypiReleasesSource implements PublicSource {
  readonly id: string
  readonly shard: ShardSpec | undefined
  readonly leakSource = 'pypi'
  readonly #http: FeedHttp
  readonly #index: string
  readonly #fileOrigins: ReadonlySet<string>
  readonly #maxReleases: number
  readonly #maxArchive: number
  readonly #maxFile: number
  readonly #pollSeconds: number

  constructor(options: PypiReleasesOptions = {}) {
    this.id = options.id ?? 'pypi'
    this.shard = checkShard(options.shard)
    this.#http = new FeedHttp(options)
    this.#index = (options.indexUrl ?? 'https://pypi.org').replace(/\/+$/, '')
    if (!/^https?:$/.test(new URL(this.#index).protocol)) throw new TypeError(`the index must be an http(s) URL, got ${this.#index}`)
    this.#fileOrigins = new Set([new URL(this.#index).origin, new URL(options.filesUrl ?? 'https://files.pythonhosted.org').origin])
    this.#maxReleases = options.maxReleasesPerBatch ?? 20
    this.#maxArchive = options.maxArchiveBytes ?? 32 * 1024 * 1024
    this.#maxFile = options.maxFileBytes ?? 1024 * 1024
    this.#pollSeconds = options.pollSeconds ?? 60
  }

  async read(position: SourcePosition, signal?: AbortSignal): Promise<SourceBatch> {
    const state = position.state
    if (typeof state.nextPollAt === 'string' && Date.parse(state.nextPollAt) > Date.now()) return { units: [], next: position.cursor, state, more: false }
    this.#http.resetPace()
    const { at, handled: handledAt } = parseCursor(position.cursor)
    const counts = { removed: Number(state.removed ?? 0), wheelsSkipped: Number(state.wheelsSkipped ?? 0), unreadableArchives: Number(state.unreadableArchives ?? 0), withoutSdist: Number(state.withoutSdist ?? 0) }
    const stateOf = (wait: boolean, more: boolean, lagSeconds?: number): SourceBatch['state'] => feedState(this.#http.pace, { wait, more, pollSeconds: this.#pollSeconds, ...(lagSeconds === undefined ? {} : { lagSeconds }), extra: counts })
    const res = await this.#http.get(`${this.#index}/rss/updates.xml`, signal, 16 * 1024 * 1024, 'application/rss+xml')
    if (res.limited !== undefined) return { units: [], next: position.cursor, state: stateOf(true, false), more: false }
    if (res.status !== 200 || res.body === undefined) throw new FeedError(`PyPI's releases feed answered ${res.status}`)
    const seen = new Set(handledAt)
    const fresh = releasesOf(res.body.toString('utf8'))
      .filter((r) => at === undefined || r.at > at || (r.at === at && !seen.has(`${r.name}@${r.version}`)))
      .sort((a, b) => a.at - b.at || (a.name < b.name ? -1 : a.name > b.name ? 1 : a.version < b.version ? -1 : 1))
    const units: PublicUnit[] = []
    let nextAt = at
    let nextHandled = [...handledAt]
    let limited = false
    let count = 0
    for (const release of fresh.slice(0, this.#maxReleases)) {
      const got = await this.#unitsOf(release, counts, signal)
      if (got === 'limited') {
        limited = true
        break
      }
      units.push(...got)
      if (release.at !== nextAt) nextHandled = []
      nextAt = release.at
      nextHandled.push(`${release.name}@${release.version}`)
      count++
    }
    const more = !limited && fresh.length > count
    return {
      units,
      next: nextAt === undefined ? null : `${nextAt}|${nextHandled.join(',')}`,
      state: stateOf(limited, more, count === 0 || nextAt === undefined ? undefined : Math.max(0, Math.round(Date.now() / 1000 - nextAt))),
      more,
    }
  }

  /** A release's source distribution's text files, or `limited`. */
  async #unitsOf(release: Release, counts: { removed: number; wheelsSkipped: number; unreadableArchives: number; withoutSdist: number }, signal: AbortSignal | undefined): Promise<PublicUnit[] | 'limited'> {
    const { name, version } = release
    // Another shard's package: the cursor passes the release without reading it.
    if (!belongsTo(this.shard, name)) return []
    const res = await this.#http.get(`${this.#index}/pypi/${encodeURIComponent(name)}/${encodeURIComponent(version)}/json`, signal)
    if (res.limited !== undefined) return 'limited'
    if (res.status === 404) {
      counts.removed++
      return []
    }
    if (res.status !== 200 || res.body === undefined) throw new FeedError(`the release ${name} ${version} answered ${res.status}`)
    const body = parseFeedJson(res.body, `the release ${name} ${version}`) as { urls?: unknown } | null
    if (body === null || typeof body !== 'object' || !Array.isArray(body.urls)) throw new FeedError(`the release ${name} ${version} did not answer { urls: [...] }`)
    const files = body.urls as Array<{ packagetype?: unknown; url?: unknown; filename?: unknown } | null>
    counts.wheelsSkipped += files.filter((f) => f?.packagetype === 'bdist_wheel').length
    const sdists = files.filter((f) => f?.packagetype === 'sdist' && typeof f.url === 'string' && typeof f.filename === 'string' && /\.tar\.gz$/.test(f.filename) && this.#allowed(f.url))
    if (sdists.length === 0) counts.withoutSdist++
    const page = `${this.#index}/project/${name}/${version}/`
    const units: PublicUnit[] = []
    const published = new Date(release.at * 1000).toISOString()
    for (const sdist of sdists) {
      const got = await this.#http.get(String(sdist!.url), signal, this.#maxArchive, 'application/octet-stream')
      if (got.limited !== undefined) return 'limited'
      if (got.status === 404) {
        counts.removed++
        continue
      }
      if (got.status !== 200) throw new FeedError(`the source distribution of ${name} ${version} answered ${got.status}`)
      if (got.body === undefined) continue
      // An sdist holds one folder, `{name}-{version}/`: the path in the project is what a reader knows.
      const files = packageUnits(got.body, { repo: `pypi:${name}@${version}`, page, topFolder: /^[^/]+\//, published }, { maxBytes: this.#maxArchive * 8, maxFileBytes: this.#maxFile })
      if (files === undefined) {
        counts.unreadableArchives++
        continue
      }
      units.push(...files)
    }
    return units
  }

  /** Files only from the index or the files host: a release cannot send this source elsewhere. */
  #allowed(url: string): boolean {
    try {
      return this.#fileOrigins.has(new URL(url).origin)
    } catch {
      return false
    }
  }
}

/** The releases of the RSS feed's items (`<title>{name} {version}</title>`, `<pubDate>`). */
function releasesOf(xml: string): Release[] {
  if (!/<rss[\s>]/.test(xml) || !/<\/rss>\s*$/.test(xml)) throw new FeedError('PyPI\'s releases feed is not a whole RSS document (cut off or malformed)')
  const out: Release[] = []
  for (const item of xml.matchAll(/<item>([\s\S]*?)<\/item>/g)) {
    const title = unescapeXml(/<title>([\s\S]*?)<\/title>/.exec(item[1]!)?.[1] ?? '').trim()
    const date = Date.parse(unescapeXml(/<pubDate>([\s\S]*?)<\/pubDate>/.exec(item[1]!)?.[1] ?? ''))
    const [name, version, ...rest] = title.split(/\s+/)
    if (name === undefined || version === undefined || rest.length > 0 || !NAME.test(name) || !VERSION.test(version) || Number.isNaN(date)) continue
    out.push({ name, version, at: Math.floor(date / 1000) })
  }
  return out
}

function unescapeXml(text: string): string {
  return text.replace(/&(lt|gt|quot|apos|#39|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: '\'', '#39': '\'', amp: '&' })[e] ?? '')
}

function parseCursor(cursor: string | null): { at: number | undefined; handled: string[] } {
  if (cursor === null) return { at: undefined, handled: [] }
  const m = /^(\d{1,12})\|([A-Za-z0-9._+!@,-]*)$/.exec(cursor)
  if (m === null) throw new FeedError(`the PyPI cursor ${JSON.stringify(cursor.slice(0, 60))} is not {time}|{name@version,...}`)
  return { at: Number(m[1]), handled: m[2] === '' ? [] : m[2]!.split(',') }
}

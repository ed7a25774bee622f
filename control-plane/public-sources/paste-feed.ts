/**
 * A paste site's listing of new pastes as a public source. The listing is any HTTP endpoint answering
 * a JSON array of pastes; the common scraping-API shape is the default
 * (`[{ "key", "date" (unix seconds), "title", "size", "full_url", "scrape_url" }]`), and the field
 * names are configurable. Each paste's raw text is read from its raw-URL field, or from a template
 * with `{key}`, and scanned whole, a unit a paste, linked to its public page.
 *
 * The cursor is `{date}|{keys}`: the newest paste date handled (unix seconds) and the keys handled at
 * that second, since pastes share seconds and a batch may end inside one. A paste removed between the
 * listing and its read (404, 410) is skipped and counts as handled: there is nothing left to scan. Any
 * other failure of its read (a 5xx, a cut-off body) fails the batch and the cursor stays; a rate limit
 * ends the batch at the last paste read.
 */
import { FeedError } from '../../lib/errors.js'
import { feedState, FeedHttp, parseFeedJson, shown, textOf, type FeedHttpOptions } from './feed-http.js'
import { unitOf, type PublicSource, type PublicUnit, type SourceBatch, type SourcePosition } from './source.js'
import { belongsTo, checkShard, type ShardSpec } from './shard.js'

/** The field names of a listed paste. */
export interface PasteFields {
  /** The paste's key (default `key`). */
  key: string
  /** When it was posted: unix seconds, or an ISO-8601 string (default `date`). */
  date: string
  /** Where its raw text is (default `scrape_url`); unused with a raw-URL template. */
  rawUrl: string
  /** Its public page, the leak's link (default `full_url`). */
  publicUrl: string
}

/** The scraping-API shape. */
export const DEFAULT_PASTE_FIELDS: Readonly<PasteFields> = { key: 'key', date: 'date', rawUrl: 'scrape_url', publicUrl: 'full_url' }

/** How to read a paste feed. */
export interface PasteFeedOptions extends FeedHttpOptions {
  /** The listing's URL. */
  listUrl: string
  /** Where a paste's raw text is, `{key}` standing for its key; default the listing's raw-URL field. */
  rawUrlTemplate?: string
  fields?: Partial<PasteFields>
  /** Sent as the listing's `limit` query parameter (the scraping API's; at most 250 there). */
  limit?: number
  /** Pastes read in one batch (default 50). */
  maxPastesPerBatch?: number
  /** Pastes larger than this are not scanned (default 1 MiB). */
  maxPasteBytes?: number
  /** Seconds between polls when nothing more is waiting (default 60). */
  pollSeconds?: number
  /** The source id (its cursor row); default `paste-feed`. */
  id?: string
  /** Read only this shard's units (shard.ts). */
  shard?: ShardSpec
}

/** A paste as this source reads it from the listing. */
interface ListedPaste {
  key: string
  /** Unix seconds. */
  date: number
  raw: string
  page: string | undefined
}

/** Keys go into the cursor, `,`-separated: anything else is refused. */
const KEY = /^[A-Za-z0-9_.~-]{1,128}$/

/** A paste site's feed of new pastes. */
export class PasteFeedSource implements PublicSource {
  readonly id: string
  readonly shard: ShardSpec | undefined
  readonly leakSource = 'paste'
  readonly #http: FeedHttp
  readonly #listUrl: string
  readonly #template: string | undefined
  readonly #fields: PasteFields
  readonly #maxPastes: number
  readonly #maxBytes: number
  readonly #pollSeconds: number
  /** Raw text is read only from the listing's origin or the template's: a listing cannot send reads elsewhere. */
  readonly #rawOrigin: string

  constructor(options: PasteFeedOptions) {
    this.id = options.id ?? 'paste-feed'
    this.shard = checkShard(options.shard)
    this.#http = new FeedHttp(options)
    const list = new URL(options.listUrl)
    if (list.protocol !== 'https:' && list.protocol !== 'http:') throw new TypeError(`the paste listing must be an http(s) URL, got ${list.protocol}`)
    if (options.limit !== undefined) {
      if (!Number.isInteger(options.limit) || options.limit < 1) throw new TypeError(`limit must be a positive integer, got ${options.limit}`)
      list.searchParams.set('limit', String(options.limit))
    }
    this.#listUrl = list.href
    if (options.rawUrlTemplate !== undefined && !options.rawUrlTemplate.includes('{key}')) throw new TypeError('the raw-URL template must hold {key}')
    this.#template = options.rawUrlTemplate
    this.#rawOrigin = new URL(options.rawUrlTemplate?.replace('{key}', 'k') ?? list.href).origin
    this.#fields = { ...DEFAULT_PASTE_FIELDS, ...options.fields }
    this.#maxPastes = options.maxPastesPerBatch ?? 50
    this.#maxBytes = options.maxPasteBytes ?? 1024 * 1024
    this.#pollSeconds = options.pollSeconds ?? 60
  }

  async read(position: SourcePosition, signal?: AbortSignal): Promise<SourceBatch> {
    const state = position.state
    if (typeof state.nextPollAt === 'string' && Date.parse(state.nextPollAt) > Date.now()) return { units: [], next: position.cursor, state, more: false }
    this.#http.resetPace()
    const { at, keys } = parseCursor(position.cursor)
    const res = await this.#http.get(this.#listUrl, signal)
    if (res.limited !== undefined) return { units: [], next: position.cursor, state: feedState(this.#http.pace, { wait: true, more: false, pollSeconds: this.#pollSeconds }), more: false }
    if (res.status !== 200 || res.body === undefined) throw new FeedError(`the paste listing ${shown(this.#listUrl)} answered ${res.status}${res.body === undefined ? ' (too large)' : ''}`)
    const handledAt = new Set(keys)
    const { pastes, malformed } = this.#parse(parseFeedJson(res.body, 'the paste listing'))
    const fresh = pastes
      .filter((p) => at === undefined || p.date > at || (p.date === at && !handledAt.has(p.key)))
      .sort((a, b) => a.date - b.date || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    const units: PublicUnit[] = []
    let nextAt = at
    let nextKeys = [...keys]
    let limited = false
    let handled = 0
    let removed = 0
    for (const paste of fresh.slice(0, this.#maxPastes)) {
      // Another shard's paste: the cursor passes it without reading its body.
      if (belongsTo(this.shard, paste.key)) {
        const got = await this.#http.get(paste.raw, signal, this.#maxBytes, 'text/plain')
        if (got.limited !== undefined) {
          limited = true
          break
        }
        if (got.status === 404 || got.status === 410) removed++
        else if (got.status !== 200) throw new FeedError(`reading paste ${paste.key} answered ${got.status}`)
        else if (got.body !== undefined) {
          const text = textOf(got.body)
          const published = new Date(paste.date * 1000).toISOString()
          if (text !== undefined) units.push(unitOf(`paste:${paste.key}`, text, { repo: `paste:${paste.key}`, url: paste.page ?? paste.raw }, published))
        }
      }
      if (paste.date !== nextAt) nextKeys = []
      nextAt = paste.date
      nextKeys.push(paste.key)
      handled++
    }
    const more = !limited && fresh.length > handled
    return {
      units,
      next: nextAt === undefined ? null : `${nextAt}|${nextKeys.join(',')}`,
      state: feedState(this.#http.pace, {
        wait: limited, more, pollSeconds: this.#pollSeconds,
        ...(handled === 0 || nextAt === undefined ? {} : { lagSeconds: Math.max(0, Math.round(Date.now() / 1000 - nextAt)) }),
        extra: { ...(malformed === 0 ? {} : { malformedEntries: malformed }), ...(removed === 0 ? {} : { removedPastes: removed }) },
      }),
      more,
    }
  }

  /** The listing's pastes; entries without a usable key, date or raw URL are counted, not read. */
  #parse(body: unknown): { pastes: ListedPaste[]; malformed: number } {
    if (!Array.isArray(body)) throw new FeedError('the paste listing did not answer a JSON array')
    const pastes: ListedPaste[] = []
    let malformed = 0
    for (const entry of body as unknown[]) {
      const p = this.#paste(entry)
      if (p === undefined) malformed++
      else pastes.push(p)
    }
    return { pastes, malformed }
  }

  #paste(entry: unknown): ListedPaste | undefined {
    if (entry === null || typeof entry !== 'object') return undefined
    const e = entry as Record<string, unknown>
    const key = e[this.#fields.key]
    if (typeof key !== 'string' || !KEY.test(key)) return undefined
    const date = dateOf(e[this.#fields.date])
    if (date === undefined) return undefined
    const raw = this.#template === undefined ? urlOf(e[this.#fields.rawUrl]) : urlOf(this.#template.replaceAll('{key}', encodeURIComponent(key)))
    if (raw === undefined || new URL(raw).origin !== this.#rawOrigin) return undefined
    return { key, date, raw, page: urlOf(e[this.#fields.publicUrl]) }
  }
}

/** Unix seconds from a number, a numeric string, or an ISO-8601 string. */
function dateOf(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 ? value : undefined
  if (typeof value !== 'string') return undefined
  if (/^\d{1,12}$/.test(value)) return Number(value)
  const ms = Date.parse(value)
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000)
}

/** An http(s) URL, or undefined. */
function urlOf(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined
  try {
    const u = new URL(value)
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : undefined
  } catch {
    return undefined
  }
}

function parseCursor(cursor: string | null): { at: number | undefined; keys: string[] } {
  if (cursor === null) return { at: undefined, keys: [] }
  const m = /^(\d{1,12})\|([A-Za-z0-9_.~,-]*)$/.exec(cursor)
  if (m === null) throw new FeedError(`the paste cursor ${JSON.stringify(cursor.slice(0, 60))} is not {date}|{keys}`)
  return { at: Number(m[1]), keys: m[2] === '' ? [] : m[2]!.split(',') }
}

/**
 * The field names given as `name=field` pairs (`--field key=id --field date=created`): the names are
 * key, date, raw-url and public-url.
 */
export function pasteFieldsOf(pairs: readonly string[]): Partial<PasteFields> {
  const names: Record<string, keyof PasteFields> = { key: 'key', date: 'date', 'raw-url': 'rawUrl', 'public-url': 'publicUrl' }
  const out: Partial<PasteFields> = {}
  for (const pair of pairs) {
    const m = /^([a-z-]+)=(.+)$/.exec(pair)
    const name = m === null ? undefined : names[m[1]!]
    if (m === null || name === undefined) throw new TypeError(`--field takes key=NAME, date=NAME, raw-url=NAME or public-url=NAME, got ${JSON.stringify(pair)}`)
    out[name] = m[2]!
  }
  return out
}

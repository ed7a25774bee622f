/**
 * A small HTTP server answering as public feeds do, for the feed sources' tests: a paste site's
 * scraping API (`GET /api_scraping.php?limit=N`, newest first, and `GET /api_scrape_item.php?i=KEY`,
 * 404 for a removed paste) and an npm registry (`GET /_changes?since=&limit=`, the packuments
 * `GET /{name}`, the tarballs). Tests script failures ahead of time: the next answers to a path can be
 * a status (500), a rate limit (429 with Retry-After), JSON cut off mid-way, or a body shorter than its
 * Content-Length.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Teardown } from '../../../test/support.js'
import { listenOnLoopback } from './listen.js'

/** A paste as the fake lists it. */
export interface FakePaste {
  key: string
  /** Unix seconds. */
  date: number
  title: string
  content: string
  /** Listed, but its raw text answers 404 (removed since). */
  removed?: boolean
}

/** A package version as the fake registry holds it. */
export interface FakeVersion {
  version: string
  /** The tarball's bytes (gzip'd tar) as served. */
  tarball: Buffer
}

/** A PyPI release as the fake index holds it. */
export interface FakeRelease {
  name: string
  version: string
  /** Unix seconds. */
  at: number
  /** Its source distribution (gzip'd tar), when it has one. */
  sdist?: Buffer
  /** Its wheel's bytes (a zip), when it has one. */
  wheel?: Buffer
  /** Listed by the feed, but removed since: its JSON answers 404. */
  removed?: boolean
}

/** A scripted answer in place of the real one. */
export type FeedFailure =
  | { status: number }
  | { rateLimit: 429; retryAfter: number }
  | { truncated: 'json' | 'body' }

/** The running fake. */
export interface FakeFeeds {
  /** `http://127.0.0.1:PORT`. */
  url: string
  pastes: FakePaste[]
  /** npm: the changes, oldest first, their seq their index + 1. */
  changes: Array<{ id: string }>
  /** npm: the versions of each package, oldest first. */
  packages: Map<string, FakeVersion[]>
  /** Paths asked, with their query. */
  seen: string[]
  /** Scripted answers, taken in order by the next requests whose path starts with the key. */
  failures: Map<string, FeedFailure[]>
  /** PyPI: the releases (the feed lists them newest first). */
  releases: FakeRelease[]
  /** Where the listing says raw pastes are (default: this server). */
  rawBase: string | undefined
}

/** Starts the fake on 127.0.0.1; closed at `t`'s teardown. */
export async function startFakeFeeds(t: Teardown): Promise<FakeFeeds> {
  const fake: FakeFeeds = { url: '', pastes: [], changes: [], packages: new Map(), seen: [], failures: new Map(), releases: [], rawBase: undefined }
  const server = createServer((req, res) => answer(fake, req, res))
  fake.url = await listenOnLoopback(t, server)
  return fake
}

function answer(fake: FakeFeeds, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', fake.url)
  fake.seen.push(`${url.pathname}${url.search}`)
  const failure = takeFailure(fake, url.pathname)
  if (failure !== undefined && 'rateLimit' in failure) {
    res.writeHead(429, { 'content-type': 'text/plain', 'retry-after': String(failure.retryAfter) }).end('slow down')
    return
  }
  if (failure !== undefined && 'status' in failure) {
    res.writeHead(failure.status, { 'content-type': 'text/html' }).end('<h1>Server Error</h1>')
    return
  }
  const truncated = failure !== undefined && 'truncated' in failure ? failure.truncated : undefined
  if (url.pathname === '/api_scraping.php') {
    const limit = Math.min(Math.max(Number(url.searchParams.get('limit') ?? 50), 1), 250)
    const listed = [...fake.pastes].sort((a, b) => b.date - a.date).slice(0, limit).map((p) => ({
      scrape_url: `${fake.rawBase ?? fake.url}/api_scrape_item.php?i=${p.key}`, full_url: `https://pastebin.example/${p.key}`,
      date: String(p.date), key: p.key, size: String(Buffer.byteLength(p.content)), expire: '0', title: p.title, syntax: 'text', user: '', hits: '0',
    }))
    send(res, 200, Buffer.from(JSON.stringify(listed)), 'application/json', truncated)
    return
  }
  if (url.pathname === '/api_scrape_item.php') {
    const paste = fake.pastes.find((p) => p.key === url.searchParams.get('i'))
    if (paste === undefined || paste.removed === true) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Error, we cannot find this paste.')
      return
    }
    send(res, 200, Buffer.from(paste.content), 'text/plain; charset=utf-8', truncated)
    return
  }
  if (url.pathname === '/rss/updates.xml') {
    const items = [...fake.releases].sort((a, b) => b.at - a.at).slice(0, 40).map((r) => `  <item>
    <title>${r.name} ${r.version}</title>
    <link>https://pypi.org/project/${r.name}/${r.version}/</link>
    <description>a package &amp; its tests</description>
    <author>dev@example.com</author>
    <pubDate>${new Date(r.at * 1000).toUTCString()}</pubDate>
  </item>`)
    const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0">\n <channel>\n  <title>PyPI recent updates</title>\n${items.join('\n')}\n </channel>\n</rss>\n`
    send(res, 200, Buffer.from(xml), 'text/xml; charset=utf-8', truncated)
    return
  }
  const release = /^\/pypi\/([^/]+)\/([^/]+)\/json$/.exec(url.pathname)
  if (release !== null) {
    const r = fake.releases.find((x) => x.name === decodeURIComponent(release[1]!) && x.version === decodeURIComponent(release[2]!))
    if (r === undefined || r.removed === true) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"message": "Not Found"}')
      return
    }
    const urls = [
      ...(r.sdist === undefined ? [] : [{ packagetype: 'sdist', filename: `${r.name}-${r.version}.tar.gz`, url: `${fake.url}/packages/${r.name}-${r.version}.tar.gz`, size: r.sdist.length }]),
      ...(r.wheel === undefined ? [] : [{ packagetype: 'bdist_wheel', filename: `${r.name}-${r.version}-py3-none-any.whl`, url: `${fake.url}/packages/${r.name}-${r.version}-py3-none-any.whl`, size: r.wheel.length }]),
    ]
    send(res, 200, Buffer.from(JSON.stringify({ info: { name: r.name, version: r.version }, urls })), 'application/json', truncated)
    return
  }
  const wheel = /^\/packages\/(.+)-py3-none-any\.whl$/.exec(url.pathname)
  if (wheel !== null) {
    const r = fake.releases.find((x) => `${x.name}-${x.version}` === wheel[1])
    if (r?.wheel === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found')
      return
    }
    send(res, 200, r.wheel, 'application/octet-stream', truncated)
    return
  }
  const sdist = /^\/packages\/(.+)\.tar\.gz$/.exec(url.pathname)
  if (sdist !== null) {
    const r = fake.releases.find((x) => `${x.name}-${x.version}` === sdist[1])
    if (r?.sdist === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found')
      return
    }
    send(res, 200, r.sdist, 'application/octet-stream', truncated)
    return
  }
  if (url.pathname === '/_changes') {
    const asked = url.searchParams.get('since') ?? '0'
    const since = asked === 'now' ? fake.changes.length : Number(asked)
    const limit = Number(url.searchParams.get('limit') ?? 1000)
    const results = fake.changes.map((c, i) => ({ seq: i + 1, id: c.id, changes: [{ rev: `${i + 1}-${'a'.repeat(32)}` }] })).filter((c) => c.seq > since).slice(0, limit)
    send(res, 200, Buffer.from(JSON.stringify({ results, last_seq: results.at(-1)?.seq ?? since })), 'application/json', truncated)
    return
  }
  const tarball = /^\/(@[^/]+\/[^/]+|[^/@][^/]*)\/-\/[^/]+-(\d[^/]*)\.tgz$/.exec(decodeURIComponent(url.pathname))
  if (tarball !== null) {
    const version = fake.packages.get(tarball[1]!)?.find((v) => v.version === tarball[2])
    if (version === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}')
      return
    }
    send(res, 200, version.tarball, 'application/octet-stream', truncated)
    return
  }
  const name = decodeURIComponent(url.pathname.slice(1))
  const versions = fake.packages.get(name)
  if (versions === undefined) {
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Not found"}')
    return
  }
  const base = name.split('/').at(-1)!
  const packument = {
    _id: name, name, 'dist-tags': { latest: versions.at(-1)?.version },
    versions: Object.fromEntries(versions.map((v) => [v.version, { name, version: v.version, dist: { tarball: `${fake.url}/${name}/-/${base}-${v.version}.tgz`, shasum: '0'.repeat(40) } }])),
    time: Object.fromEntries(versions.map((v, i) => [v.version, new Date(Date.UTC(2026, 11, 1, 10, 0, i)).toISOString()])),
  }
  send(res, 200, Buffer.from(JSON.stringify(packument)), 'application/json', truncated)
}

function send(res: ServerResponse, status: number, body: Buffer, type: string, truncated: 'json' | 'body' | undefined): void {
  if (truncated === 'body') {
    // The connection ends before the Content-Length promised is sent.
    res.writeHead(status, { 'content-type': type, 'content-length': String(body.length) })
    res.write(body.subarray(0, Math.floor(body.length / 2)))
    res.destroy()
    return
  }
  res.writeHead(status, { 'content-type': type }).end(truncated === 'json' ? body.subarray(0, Math.floor(body.length / 2)) : body)
}

function takeFailure(fake: FakeFeeds, path: string): FeedFailure | undefined {
  for (const [prefix, list] of fake.failures) {
    if (path.startsWith(prefix) && list.length > 0) return list.shift()
  }
  return undefined
}

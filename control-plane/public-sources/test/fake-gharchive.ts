/**
 * A small server answering as data.gharchive.org does: `/{YYYY-MM-DD-H}.json.gz`, one event a line,
 * gzipped; 404 (S3's XML) for an hour not published yet. Tests publish hours as they go.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { gzipSync } from 'node:zlib'
import type { Teardown } from '../../../test/support.js'

/** The running fake. */
export interface FakeGHArchive {
  url: string
  /** Hour files by name (`2026-11-30-10.json.gz`). */
  hours: Map<string, Buffer>
  /** The names asked for, in order. */
  asked: string[]
  /** Publishes `hour` (`2026-11-30-10`) holding `events`, one JSON a line. */
  publish(hour: string, events: readonly unknown[]): void
}

/** Starts the fake on 127.0.0.1; closed at `t`'s teardown. */
export async function startFakeGHArchive(t: Teardown): Promise<FakeGHArchive> {
  const hours = new Map<string, Buffer>()
  const asked: string[] = []
  const server = createServer((req, res) => {
    const name = (req.url ?? '/').slice(1)
    asked.push(name)
    const body = hours.get(name)
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'application/xml' }).end('<Error><Code>NoSuchKey</Code></Error>')
      return
    }
    res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': String(body.length) }).end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hours, asked,
    publish(hour, events) {
      hours.set(`${hour}.json.gz`, gzipSync(events.map((e) => `${JSON.stringify(e)}\n`).join('')))
    },
  }
}

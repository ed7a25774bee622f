/**
 * A small HTTP server answering as data.gharchive.org does: `GET /{YYYY-MM-DD-H}.json.gz`, the hour's
 * events gzipped one JSON a line, 404 for an hour not published. Tests script failures ahead of time:
 * the next answers for an hour can be a status (500, 503).
 */
import { createServer } from 'node:http'
import { gzipSync } from 'node:zlib'
import type { Teardown } from '../../../test/support.js'
import { listenOnLoopback } from './listen.js'

/** The running fake. */
export interface FakeArchive {
  /** `http://127.0.0.1:PORT`. */
  url: string
  /** The hours' files by name (`2026-11-30-9.json.gz`). */
  hours: Map<string, Buffer>
  /** The names asked for, in order. */
  asked: string[]
  /** Statuses answered instead of the file, taken in order by the next requests for that name. */
  failures: Map<string, number[]>
  /** Publishes `hour` (`2026-11-30-10`) holding `events`, one JSON a line. */
  publish(hour: string, events: readonly unknown[]): void
}

/** The file of an hour of `events`, one JSON a line. */
export function hourFileOf(events: readonly unknown[]): Buffer {
  return gzipSync(`${events.map((e) => JSON.stringify(e)).join('\n')}\n`)
}

/** Starts the fake on 127.0.0.1; closed at `t`'s teardown. */
export async function startFakeArchive(t: Teardown): Promise<FakeArchive> {
  const fake: FakeArchive = {
    url: '', hours: new Map(), asked: [], failures: new Map(),
    publish(hour, events) {
      fake.hours.set(`${hour}.json.gz`, hourFileOf(events))
    },
  }
  const server = createServer((req, res) => {
    const name = (req.url ?? '/').slice(1)
    fake.asked.push(name)
    const failure = fake.failures.get(name)?.shift()
    if (failure !== undefined) {
      res.writeHead(failure, { 'content-type': 'application/xml' }).end('<Error><Code>InternalError</Code></Error>')
      return
    }
    const body = fake.hours.get(name)
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'application/xml' }).end('<Error><Code>NoSuchKey</Code></Error>')
      return
    }
    res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': String(body.length) }).end(body)
  })
  fake.url = await listenOnLoopback(t, server)
  return fake
}

/**
 * `GET /v1/events/stream`: Server-Sent Events telling the console that leaks, decisions, sightings,
 * rotations, scans or nodes changed, so its list, overview and pages reload by themselves.
 *
 * A stream ends after `maxStreamSeconds` (the client reconnects with Last-Event-ID and loses nothing):
 * its key is checked again then, so a revoked key or an ended session stops receiving within that time.
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { API_CSP } from '../http-headers.js'
import { LiveEvents, type LiveEvent } from '../live-events.js'
import type { RouteContext } from '../context.js'
import { problems } from './schemas.js'

/** How the event stream behaves (tests shorten these). */
export interface EventStreamOptions {
  pollMs: number
  keepAliveSeconds: number
  maxStreamSeconds: number
}

const DEFAULTS: EventStreamOptions = { pollMs: 500, keepAliveSeconds: 15, maxStreamSeconds: 300 }

/** A stream whose client reads slower than this much queued output is dropped (it reconnects and catches up). */
const MAX_BUFFERED_BYTES = 1 << 20

const LAST_EVENT_ID = /^\d{1,15}$/

const routes: FastifyPluginAsync<RouteContext & { eventStream?: Partial<EventStreamOptions> }> = async (app, ctx) => {
  const options = { ...DEFAULTS, ...ctx.eventStream }
  const live = new LiveEvents(ctx.store.events, {
    intervalMs: options.pollMs,
    batch: 500,
    onError: (err) => app.log.warn({ err }, 'reading events for the live streams failed; retrying'),
  })
  const open = new Set<FastifyReply>()
  ctx.metrics.liveStreams.collect = () => open.size
  // Streams would hold close() open: end them as closing starts.
  app.addHook('preClose', async () => {
    live.close()
    for (const reply of open) reply.raw.end()
  })

  app.get('/v1/events/stream', {
    config: { roles: ['analyst'], heldOpen: true },
    schema: {
      summary: 'Live changes, as Server-Sent Events',
      description: 'Each event: `id:` (send it back as `Last-Event-ID` when reconnecting: what was missed is replayed) and `data:` `{"id","type","leakId","at"}` with the event types of webhooks (leak.created, leak.decided, leak.sighted, leak.risk_changed, leak.rotation_requested, leak.rotated, scan.finished, node.stale). `event: reset` means more was missed than is replayed: reload everything. Comment lines keep the connection alive; the stream ends after a few minutes, and the client reconnects.',
      tags: ['leaks'],
      headers: { type: 'object', properties: { 'last-event-id': { type: 'string' } } },
      response: { 200: { description: 'text/event-stream', type: 'string' }, ...problems(400, 401, 403) },
    },
  }, async (request, reply) => {
    const header = request.headers['last-event-id']
    const lastEventId = typeof header === 'string' && LAST_EVENT_ID.test(header) ? Number(header) : undefined
    const res = reply.raw
    reply.hijack()
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': API_CSP,
      'x-frame-options': 'DENY',
      'x-content-type-options': 'nosniff',
      // Proxies that buffer answers (nginx) would hold the events back.
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    })
    const write = (chunk: string): void => {
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        res.destroy()
        return
      }
      res.write(chunk)
    }
    const send = (events: LiveEvent[]): void => {
      write(events.map((e) => `id: ${e.id}\ndata: ${JSON.stringify(e)}\n\n`).join(''))
    }
    const reset = (latest: number): void => write(`id: ${latest}\nevent: reset\ndata: {}\n\n`)
    let following: Awaited<ReturnType<LiveEvents['follow']>>
    try {
      following = await live.follow(lastEventId, send, reset)
    } catch (err) {
      // The store did not answer: end the stream; the client reconnects and tries again.
      request.log.warn({ err }, 'starting a live event stream failed')
      res.end()
      return
    }
    open.add(reply)
    // retry: how long a browser's EventSource waits before reconnecting; ready says where it starts.
    write(`retry: 3000\nid: ${following.after}\nevent: ready\ndata: ${JSON.stringify({ after: following.after })}\n\n`)
    const keepAlive = setInterval(() => write(': keep-alive\n\n'), options.keepAliveSeconds * 1000)
    const end = setTimeout(() => res.end(), options.maxStreamSeconds * 1000)
    res.on('close', () => {
      clearInterval(keepAlive)
      clearTimeout(end)
      following.stop()
      open.delete(reply)
    })
  })
}

export default routes

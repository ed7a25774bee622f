import t from 'tap'
import { randomBytes } from 'node:crypto'
import { request } from 'undici'
import { startPlane, waitFor, type TestPlane } from '../test/harness.js'

interface Frame { id?: string; event?: string; data?: string }

/** An open event stream: the frames read so far, and how to stop it. */
interface Stream {
  status: number
  headers: Record<string, string | string[] | undefined>
  frames: Frame[]
  ended: Promise<void>
  close(): void
}

async function listen(plane: TestPlane): Promise<string> {
  await plane.app.listen({ port: 0, host: '127.0.0.1' })
  const address = plane.app.server.address()
  if (address === null || typeof address !== 'object') throw new Error('not listening')
  return `http://127.0.0.1:${address.port}`
}

async function openStream(base: string, key: string | undefined, lastEventId?: number): Promise<Stream> {
  const abort = new AbortController()
  const res = await request(`${base}/v1/events/stream`, {
    headers: { ...(key === undefined ? {} : { authorization: `Bearer ${key}` }), ...(lastEventId === undefined ? {} : { 'last-event-id': String(lastEventId) }) },
    signal: abort.signal,
  })
  const frames: Frame[] = []
  const ended = (async () => {
    let buffered = ''
    try {
      for await (const chunk of res.body) {
        buffered += (chunk as Buffer).toString('utf8')
        let at
        while ((at = buffered.indexOf('\n\n')) !== -1) {
          const block = buffered.slice(0, at)
          buffered = buffered.slice(at + 2)
          const frame: Frame = {}
          for (const line of block.split('\n')) {
            const m = /^(id|event|data): (.*)$/.exec(line)
            if (m?.[1] !== undefined && m[2] !== undefined) frame[m[1] as keyof Frame] = m[2]
          }
          if (frame.data !== undefined || frame.event !== undefined) frames.push(frame)
        }
      }
    } catch {
      // aborted by close()
    }
  })()
  return { status: res.statusCode, headers: res.headers, frames, ended, close: () => abort.abort() }
}

function events(stream: Stream): Array<{ id: number; type: string; leakId: number | null }> {
  return stream.frames.filter((f) => f.event === undefined && f.data !== undefined).map((f) => JSON.parse(f.data ?? '{}') as { id: number; type: string; leakId: number | null })
}

const token = (): string => `ghp_${randomBytes(18).toString('base64url').replace(/[-_]/g, 'x').slice(0, 36)}`

t.test('a console following the event stream hears of a new leak, its decision and nothing raw', async (t) => {
  const plane = await startPlane(t, {}, { eventStream: { pollMs: 50 } })
  const base = await listen(plane)
  const stream = await openStream(base, plane.keys.analyst)
  t.teardown(() => stream.close())
  t.equal(stream.status, 200)
  t.match(String(stream.headers['content-type']), /^text\/event-stream/)
  t.equal(stream.headers['cache-control'], 'no-store')
  t.equal(stream.headers['x-frame-options'], 'DENY')
  await waitFor('the stream says it is ready', () => stream.frames.some((f) => f.event === 'ready'), 5000)

  const raw = token()
  const created = (await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: raw }], kind: 'github_pat', title: 'token in a gist' })).json() as { id: number }
  await plane.call('PATCH', `/v1/leaks/${created.id}`, plane.keys.admin, { action: 'block' })
  await waitFor('the decision is streamed', () => events(stream).some((e) => e.type === 'leak.decided'), 5000)
  const seen = events(stream)
  t.same(seen.map((e) => [e.type, e.leakId]), [['leak.created', created.id], ['leak.decided', created.id]], 'both changes, in order, naming the leak')
  t.ok(seen.every((e, i) => i === 0 || e.id > (seen[i - 1]?.id ?? 0)), 'ids rise')
  t.notOk(stream.frames.some((f) => (f.data ?? '').includes(raw)), 'no raw token is streamed')
  t.notOk(stream.frames.some((f) => (f.data ?? '').includes('token in a gist')), 'no leak data either: the console reads it with its key')
})

t.test('a reconnecting console gets what it missed after its Last-Event-ID, and a reset when that is too far back', async (t) => {
  const plane = await startPlane(t, {}, { eventStream: { pollMs: 50 } })
  const base = await listen(plane)
  const first = await openStream(base, plane.keys.analyst)
  await waitFor('ready', () => first.frames.some((f) => f.event === 'ready'), 5000)
  const a = (await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: token() }] })).json() as { id: number }
  await waitFor('the first leak is streamed', () => events(first).length === 1, 5000)
  const lastSeen = events(first)[0]?.id ?? 0
  first.close()
  await first.ended

  // While it is away: two changes.
  const b = (await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: token() }] })).json() as { id: number }
  await plane.call('PATCH', `/v1/leaks/${a.id}`, plane.keys.admin, { status: 'false_positive' })

  const again = await openStream(base, plane.keys.analyst, lastSeen)
  t.teardown(() => again.close())
  await waitFor('the missed changes are replayed', () => events(again).length >= 2, 5000)
  t.same(events(again).map((e) => [e.type, e.leakId]), [['leak.created', b.id], ['leak.decided', a.id]], 'exactly the two missed, in order')

  const future = await openStream(base, plane.keys.analyst, 999_999)
  t.teardown(() => future.close())
  await waitFor('an id this store never gave: reload everything', () => future.frames.some((f) => f.event === 'reset'), 5000)
})

t.test('only admin and analyst keys may follow; a stream ends after its time and the key is checked again', async (t) => {
  const plane = await startPlane(t, {}, { eventStream: { pollMs: 50, maxStreamSeconds: 1 } })
  const base = await listen(plane)
  const anonymous = await openStream(base, undefined)
  t.equal(anonymous.status, 401)
  const node = await openStream(base, plane.keys.node)
  t.equal(node.status, 403)
  const admin = await openStream(base, plane.keys.admin)
  t.equal(admin.status, 200)
  await admin.ended
  t.pass('the stream ended by itself (the console reconnects, authenticating again)')
  const metrics = await plane.call('GET', '/metrics')
  t.match(metrics.body, /leakgate_cp_live_streams 0/, 'no stream left open')
})

/**
 * A raw token in the request path was written to the node's log as the `route` and sent with sightings
 * to the control plane. Here secrets are planted everywhere a client can put them (path segments of
 * several shapes, the query, every credential header, a cookie, custom and unusual headers, an
 * upgrade's handshake), blocked, monitored and clean, at every log level; then every log line of the
 * node and of a real control plane, and every sighting the control plane received, are searched for
 * each secret, raw, percent-encoded and Base64-encoded.
 */
import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { newNodeKey, startPlane, storeSql, type TestPlane } from '../../control-plane/test/harness.js'
import { pooledGet, rawRequest, startNode, startUpstream, tempDir, waitFor } from './helpers.js'

const secret = (tag: string): string => `${tag}${randomBytes(18).toString('base64url')}9`
const BLOCKED = secret('ghp_Blocked')
const MONITORED = secret('ghp_Monitored')

/** The forms a secret could leak in: as sent, percent-encoded, and Base64 (alone and as a Basic pair). */
function forms(s: string): string[] {
  const b64 = (v: string): string => Buffer.from(v).toString('base64')
  return [s, encodeURIComponent(s), b64(s), Buffer.from(s).toString('base64url'), b64(`user:${s}`).slice(0, -4), s.slice(4, -4)]
}

async function addLeak(plane: TestPlane, token: string, action: 'block' | 'monitor'): Promise<void> {
  const res = await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: token }], action })
  if (res.statusCode !== 201) throw new Error(`POST /v1/leaks: ${res.statusCode} ${res.body}`)
}

const plane = await startPlane(t)
await plane.app.listen({ port: 0, host: '127.0.0.1' })
const cpUrl = `http://127.0.0.1:${(plane.app.server.address() as AddressInfo).port}`
await addLeak(plane, BLOCKED, 'block')
await addLeak(plane, MONITORED, 'monitor')

// Every sighting the control plane stored, as it arrived (the API shows only the recent ones).
const db = storeSql(t, plane.store)
async function sightingsText(): Promise<{ count: number; text: string }> {
  const rows = await db.all('SELECT * FROM sightings')
  return { count: rows.length, text: JSON.stringify(rows) }
}

let sightingsBefore = 0

for (const level of ['trace', 'debug', 'info', 'warn'] as const) {
  t.test(`at log level ${level}, no planted secret reaches a log line or a sighting`, async (t) => {
    const planted: Record<string, string> = {}
    const plant = (where: string): string => (planted[where] = secret(`${where.replace(/\W/g, '')}_`))
    const upstream = await startUpstream(t)
    const node = await startNode(t, {
      upstream: upstream.url,
      env: {
        LEAKGATE_CONTROL_PLANE: cpUrl, LEAKGATE_NODE_KEY: (await newNodeKey(plane)), LEAKGATE_CACHE_DIR: tempDir(t), LEAKGATE_NODE_ID: `plant-${level}`,
        LEAKGATE_LOG_LEVEL: level, LEAKGATE_SIGHTING_FLUSH_MS: '50', LEAKGATE_SYNC_WAIT_SECONDS: '1', LEAKGATE_TRUST_PROXY: 'true',
      },
    })
    const get = pooledGet(t)
    await waitFor('the leaks to be enforced', async () => (await get(`${node.url}/x`, { authorization: `Bearer ${BLOCKED}` })).status === 403, 10_000)

    for (const [verdict, credential] of [['blocked', BLOCKED], ['monitored', MONITORED], ['clean', secret('clean_')]] as const) {
      const v = verdict
      const paths = [
        `/bot123456:${plant(`${v} bot path`)}/sendMessage`,
        `/hooks/${plant(`${v} hook path`)}`,
        `/a;${plant(`${v} semicolon path`)}`,
        `/a,${plant(`${v} comma path`)}`,
        `/${plant(`${v} file path`)}.json`,
        `/v1/${plant(`${v} short`).slice(0, 20)}/x`,
        `/k=${plant(`${v} equals path`)}/y`,
        `/p%20${plant(`${v} percent path`)}`,
      ]
      const basic = Buffer.from(`user:${credential}`).toString('base64')
      for (const path of paths) {
        await get(`${node.url}${path}?api_key=${encodeURIComponent(credential)}&other=${plant(`${v} query ${path.length}`)}`, {
          'x-custom-token': plant(`${v} custom header`),
          'x_weird_header': plant(`${v} unusual header`),
          cookie: `session=${plant(`${v} cookie`)}; other=1`,
        })
        await get(`${node.url}${path}`, { authorization: `Bearer ${credential}` })
        // Host and X-Forwarded-For are the client's to write, and a sighting carries both.
        const hexHost = (planted[`${v} hex host ${path.length}`] = randomBytes(20).toString('hex'))
        await get(`${node.url}${path}`, { authorization: `Bearer ${credential}`, host: `${plant(`${v} host`)}.example`, 'x-forwarded-for': plant(`${v} forwarded for`) })
        await get(`${node.url}${path}`, { authorization: `Bearer ${credential}`, host: `${hexHost}.example:8443` })
        await get(`${node.url}${path}`, { authorization: `Basic ${basic}`, 'proxy-authorization': `Bearer ${plant(`${v} proxy auth`)}` })
        await get(`${node.url}${path}`, { 'x-api-key': credential, 'api-key': plant(`${v} api-key`) })
      }
      // An upgrade's handshake, and a request the node refuses without judging.
      await rawRequest(node.url, `GET /ws/${plant(`${v} upgrade path`)}?access_token=${credential} HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13`)
      await rawRequest(node.url, `TRACE /t/${plant(`${v} refused path`)} HTTP/1.1\r\nAuthorization: Bearer ${credential}`)
    }
    planted.blocked = BLOCKED
    planted.monitored = MONITORED

    const { block, monitor } = node.node.metrics.counters
    t.ok(block > 0 && monitor > 0, 'requests were blocked and monitored')
    const expected = sightingsBefore + block + monitor
    await waitFor('every sighting to reach the control plane', async () => (await sightingsText()).count === expected, 15_000)
    sightingsBefore = expected
    await node.node.close()

    const { text: sightings } = await sightingsText()
    t.match(sightings, /"route":"\/:param\/sendMessage"/, 'sightings carry route templates')
    const logs = node.logs.lines
    if (level === 'trace' || level === 'debug') t.ok(logs.some((line) => line.includes('request completed')), 'every request was logged')
    if (level !== 'warn') t.ok(logs.some((line) => line.includes('blocked a request')), 'blocks were logged')
    for (const [where, value] of Object.entries(planted)) {
      for (const form of forms(value)) {
        const inLog = logs.find((line) => line.includes(form))
        t.equal(inLog, undefined, `${where}: not in the node's log`)
        t.notOk(sightings.includes(form), `${where}: not in a sighting`)
        t.notOk(plane.logs.some((line) => line.includes(form)), `${where}: not in the control plane's log`)
      }
    }
  })
}

/**
 * CGI, WSGI and Rack stacks read `Leakgate_Verdict` as `Leakgate-Verdict` (both become
 * HTTP_LEAKGATE_VERDICT): a client sending its own, in any spelling, could pass for the node's verdict.
 * Every header whose name begins with `leakgate`, whatever the case and separator, is removed from what
 * the client sent; a monitored request reaches the upstream with exactly the node's own two.
 */
import t from 'tap'
import { indexOf, pooledGet, startNode, startUpstream } from './helpers.js'

const MONITORED = 'ghp_VerdictSpoofTestMonitoredToken000001'
const SPOOFED = {
  'Leakgate_Verdict': 'monitor',
  'leakgate_leak_id': '7',
  'LEAKGATE-VERDICT': 'x',
  'Leakgate-Leak-Id': '8',
  'LeakGate_Leak-ID': '9',
  'leakgate': 'bare',
}

const own = (headers: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => name.replaceAll('_', '-').toLowerCase().startsWith('leakgate')))

t.test('client-sent Leakgate headers, in every spelling, never reach the upstream', async (t) => {
  const upstream = await startUpstream(t)
  const { url } = await startNode(t, { upstream: upstream.url, deps: { index: indexOf([{ token: MONITORED, action: 'monitor', leakId: 3 }]) } })
  const get = pooledGet(t)

  t.equal((await get(`${url}/v1/clean`, SPOOFED)).status, 200)
  t.same(own(upstream.seen[0]?.headers ?? {}), {}, 'a clean request: none of them')

  t.equal((await get(`${url}/v1/monitored`, { ...SPOOFED, authorization: `Bearer ${MONITORED}` })).status, 200)
  t.same(own(upstream.seen[1]?.headers ?? {}), { 'leakgate-leak-id': '3', 'leakgate-verdict': 'monitor' }, 'a monitored request: exactly the node\'s own two')
})

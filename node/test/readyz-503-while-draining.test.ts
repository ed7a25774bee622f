/**
 * After SIGTERM, while requests in flight finish, /readyz answers 503 (a load balancer stops sending
 * traffic) and /healthz stays 200 (an orchestrator does not kill a node that is draining), until exit.
 */
import t from 'tap'
import { join } from 'node:path'
import { request } from 'undici'
import { encodeSnapshot } from '../../protocol/snapshot.js'
import { writeFileAtomic } from '../leakdb/write-file-atomic.js'
import { listening, spawnNode } from './cli-process.js'
import { startUpstream, tempDir, waitFor } from './helpers.js'

async function get(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(url)
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> }
}

t.test('/readyz is 503 and /healthz 200 while the node drains', async (t) => {
  const upstream = await startUpstream(t)
  const index = join(tempDir(t), 'leaks.snapshot')
  await writeFileAtomic(index, encodeSnapshot([], 1))
  const p = spawnNode(t, ['--index', index, '--upstream', upstream.url, '--port', '0', '--admin-port', '0', '--host', '127.0.0.1', '--admin-host', '127.0.0.1'])
  const { url, adminUrl } = await listening(p)
  t.equal((await get(`${adminUrl}/readyz`)).status, 200, 'ready before')

  const inFlight = request(`${url}/slow`)
  await waitFor('the slow request to reach the upstream', () => upstream.seen.some((s) => s.url === '/slow'))
  p.child.kill('SIGTERM')
  await p.waitForLog('draining')
  const ready = await get(`${adminUrl}/readyz`)
  t.equal(ready.status, 503, '/readyz says not ready while draining')
  t.equal(ready.body.code, 'LEAKGATE_ERR_SHUTTING_DOWN')
  const health = await get(`${adminUrl}/healthz`)
  t.equal(health.status, 200, '/healthz still 200: the process is alive')

  upstream.release()
  const res = await inFlight
  t.equal(res.statusCode, 200, 'the request in flight is answered')
  await res.body.dump()
  t.equal(await p.exit, 0, 'then the node exits 0')
})

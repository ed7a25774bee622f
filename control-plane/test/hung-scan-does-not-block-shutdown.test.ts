/**
 * Regression: a scan of a git remote that accepts the connection and never answers ran forever, and
 * with one running, SIGTERM closed the port but the control plane never exited. Scans now run in a
 * process of their own with a wall-clock limit, and shutdown kills them with their git processes.
 * The real control plane process; a local TCP server that accepts and stays silent (loopback is
 * refused by default, so the configuration allows it).
 */
import { createServer, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { generateKey } from '../store/keys.js'
import { scanEnded, startPlane, tempDir, waitFor } from './harness.js'
import { request, spawnPlane } from './process.js'

/** A TCP server that accepts connections and never answers; says which are still open. */
async function silentRemote(t: Parameters<typeof tempDir>[0]): Promise<{ port: number; open: () => number; accepted: () => number }> {
  const sockets = new Set<Socket>()
  let accepted = 0
  const server = createServer((socket) => {
    accepted++
    sockets.add(socket)
    socket.on('error', () => undefined)
    socket.on('close', () => sockets.delete(socket))
    // Read (and drop) what git sends, or its closing would go unnoticed.
    socket.resume()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => {
    for (const s of sockets) s.destroy()
    server.close(() => r())
  }))
  return { port: (server.address() as AddressInfo).port, open: () => sockets.size, accepted: () => accepted }
}

t.test('SIGTERM with a scan hung on a silent remote: the scan and its git end, then the process exits', async (t) => {
  const remote = await silentRemote(t)
  const dataDir = tempDir(t, 'leakgate-hung-')
  const admin = generateKey()
  const env = { LEAKGATE_DATA_DIR: dataDir, LEAKGATE_ADMIN_KEY: admin, LEAKGATE_LOG_LEVEL: 'info', LEAKGATE_SCAN: JSON.stringify({ allowedHosts: ['127.0.0.1'] }) }
  const plane = await spawnPlane(t, env)
  const started = await request(`${plane.url}/v1/scans`, admin, 'POST', { source: { type: 'git', url: `http://127.0.0.1:${remote.port}/x.git` } })
  t.equal(started.status, 202)
  await waitFor('git to connect to the silent remote', async () => remote.accepted() > 0, 30_000)
  const health = await request(`${plane.url}/healthz`, admin)
  t.equal(health.status, 200, 'the API answers while the scan hangs')

  const before = Date.now()
  await Promise.race([plane.kill('SIGTERM'), new Promise((r) => setTimeout(r, 15_000))])
  t.ok(plane.child.exitCode !== null || plane.child.signalCode !== null, `the control plane exited (after ${Date.now() - before} ms)`)
  t.equal(plane.child.exitCode, 0, 'cleanly')
  await waitFor('the git connection to close', async () => remote.open() === 0, 5_000)
  t.equal(remote.open(), 0, 'no git process is left connected')

  const again = await spawnPlane(t, env)
  const scan = (await request(`${again.url}/v1/scans/${(started.json() as { id: number }).id}`, admin)).json() as { status: string; error: string }
  t.equal(scan.status, 'failed')
  t.match(scan.error, /stopped during the scan/)
  await again.kill('SIGTERM')
})

t.test('a scan that outlives scan.timeoutSeconds is stopped, its git with it', async (t) => {
  const remote = await silentRemote(t)
  const plane = await startPlane(t, { scan: { allowedHosts: ['127.0.0.1'], timeoutSeconds: 8 } })
  const res = await plane.call('POST', '/v1/scans', plane.keys.admin, { source: { type: 'git', url: `http://127.0.0.1:${remote.port}/x.git` } })
  let scan: { status: string; error?: string } = { status: 'running' }
  await waitFor('the scan to be stopped', async () => {
    scan = (await plane.call('GET', `/v1/scans/${res.json().id as number}`, plane.keys.analyst)).json() as typeof scan
    return scanEnded(scan)
  }, 30_000)
  t.equal(scan.status, 'failed')
  t.match(scan.error, /longer than scan\.timeoutSeconds \(8 s\)/)
  t.ok(remote.accepted() > 0, 'git had connected')
  await waitFor('the git connection to close', async () => remote.open() === 0, 5_000)
})

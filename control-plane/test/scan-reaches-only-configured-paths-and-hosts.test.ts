/**
 * Security regression: a scan through the API read any local path (`/etc`, `.`, `/proc/self/`) and
 * reached any host (an internal service, loopback), and its answers told whether a path existed,
 * how large it was, and whether a port was open. Now local paths must lie under `scan.allowedPaths`
 * (none by default), hosts must resolve to public addresses or be listed in `scan.allowedHosts`,
 * and every refusal reads the same. Real control plane, real SQLite file, real TCP servers.
 */
import { createServer, type Server, type Socket } from 'node:net'
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { scanEnded, startPlane, tempDir, waitFor, type TestPlane } from './harness.js'

interface Scan { id: number; status: string; error?: string; progress: Record<string, number>; findings: unknown[] }

async function finished(plane: TestPlane, id: number): Promise<Scan> {
  let scan: Scan | undefined
  await waitFor(`scan ${id} to end`, async () => {
    scan = (await plane.call('GET', `/v1/scans/${id}`, plane.keys.analyst)).json() as Scan
    return scanEnded(scan)
  }, 30_000)
  return scan!
}

/** A TCP server on loopback that counts connections and answers `answer` (or nothing). */
async function tcpServer(t: Parameters<typeof tempDir>[0], answer?: string): Promise<{ port: number; connections: () => number }> {
  let n = 0
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    n++
    sockets.add(socket)
    socket.on('error', () => undefined)
    if (answer !== undefined) socket.end(answer)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => {
    for (const s of sockets) s.destroy()
    server.close(() => r())
  }))
  return { port: (server.address() as AddressInfo).port, connections: () => n }
}

async function closedPort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

t.test('by default no local path is scanned through the API, and a missing path reads like a forbidden one', async (t) => {
  const plane = await startPlane(t)
  const answers: string[] = []
  for (const path of ['/etc', '/proc/self/', '/nonexistent/x', plane.dir, '.', 'relative']) {
    const res = await plane.call('POST', '/v1/scans', plane.keys.admin, { source: { type: 'dir', path } })
    t.equal(res.statusCode, 400, path)
    t.equal(res.json().code, 'LEAKGATE_ERR_SCAN_REFUSED', path)
    answers.push(res.json().detail as string)
  }
  for (const url of [plane.dir, '/etc', `file://${plane.dir}`, 'fd::0', 'ext::sh -c id', 'git@example.com:acme/x.git', 'ssh://example.com/x.git', 'ftp://example.com/x']) {
    const res = await plane.call('POST', '/v1/scans', plane.keys.admin, { source: { type: 'git', url } })
    t.equal(res.statusCode, 400, url)
    t.notOk(res.body.includes(url), `${url}: not echoed`)
  }
  // A file:// URL whose escapes do not decode was a 500 (the route decoded it itself): refused like any path.
  for (const url of ['file:///x%zz', 'file://localhost/%E0%A4%A']) {
    const res = await plane.call('POST', '/v1/scans', plane.keys.admin, { source: { type: 'git', url } })
    t.equal(res.statusCode, 400, url)
    t.equal(res.json().code, 'LEAKGATE_ERR_SCAN_REFUSED', url)
  }
  t.ok(answers.every((a) => a === answers[0]), 'one answer whatever exists')
  t.notOk(answers[0]!.includes('/etc'))
  t.equal((await plane.call('GET', '/v1/leaks', plane.keys.analyst)).json().total, 0)
})

t.test('an allowed folder is scanned; a link out of it, or a missing path in it, fails alike without progress', async (t) => {
  const root = tempDir(t, 'leakgate-allowed-')
  mkdirSync(join(root, 'repo'))
  writeFileSync(join(root, 'repo', 'a.txt'), 'nothing here\n')
  symlinkSync('/etc', join(root, 'etc-link'))
  const plane = await startPlane(t, { scan: { allowedPaths: [root] } })
  const ok = await finished(plane, (await plane.call('POST', '/v1/scans', plane.keys.admin, { source: { type: 'dir', path: join(root, 'repo') } })).json().id)
  t.equal(ok.status, 'done')
  t.equal(ok.progress.files, 1)
  const errors: string[] = []
  for (const path of [join(root, 'etc-link'), join(root, 'etc-link', 'ssl'), join(root, 'missing')]) {
    const scan = await finished(plane, (await plane.call('POST', '/v1/scans', plane.keys.admin, { source: { type: 'dir', path } })).json().id)
    t.equal(scan.status, 'failed', path)
    t.same(scan.progress, {}, `${path}: no progress`)
    errors.push(scan.error ?? '')
  }
  t.ok(errors.every((e) => e === errors[0] && /does not exist or is not allowed/.test(e)), 'one error whatever exists')
  const outside = await plane.call('POST', '/v1/scans', plane.keys.admin, { source: { type: 'dir', path: join(root, '..') } })
  t.equal(outside.statusCode, 400)
})

t.test('a git URL naming loopback is refused before connecting; with it allowed, open and closed ports fail alike', async (t) => {
  const open = await tcpServer(t, 'HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n')
  const closed = await closedPort()
  const plane = await startPlane(t)
  const urls = [`http://127.0.0.1:${open.port}/x.git`, `http://localhost:${open.port}/x.git`, `http://[::ffff:127.0.0.1]:${open.port}/x.git`, `http://2130706433:${open.port}/x.git`, `git://127.0.0.1:${open.port}/x.git`, 'http://169.254.169.254/latest/meta-data']
  const errors: string[] = []
  for (const url of urls) {
    const res = await plane.call('POST', '/v1/scans', plane.keys.admin, { source: { type: 'git', url } })
    t.equal(res.statusCode, 202, url)
    const scan = await finished(plane, res.json().id)
    t.equal(scan.status, 'failed', url)
    errors.push(scan.error ?? '')
  }
  t.equal(open.connections(), 0, 'nothing connected to the loopback server')
  t.ok(errors.every((e) => e === errors[0]), 'one error for every refused remote')

  const allowing = await startPlane(t, { scan: { allowedHosts: ['127.0.0.1'] } })
  const a = await finished(allowing, (await allowing.call('POST', '/v1/scans', allowing.keys.admin, { source: { type: 'git', url: `http://127.0.0.1:${open.port}/x.git` } })).json().id)
  const b = await finished(allowing, (await allowing.call('POST', '/v1/scans', allowing.keys.admin, { source: { type: 'git', url: `http://127.0.0.1:${closed}/x.git` } })).json().id)
  t.ok(open.connections() > 0, 'an allowed host is reached')
  t.equal(a.status, 'failed')
  t.equal(a.error, b.error, 'an open port and a closed one read the same')
  t.equal(a.error, errors[0], 'and the same as a refused host')
  t.notMatch(a.error ?? '', /404|refused|port|\d{4,5}/)
  t.ok(allowing.logs.some((l) => l.includes('git failed on a remote repository')), 'git’s own words are in the server log')
})

t.test('credentials in any URL spelling are refused and stored nowhere', async (t) => {
  const plane = await startPlane(t)
  const secret = 'glpat-urlCredentialRegression00000'
  for (const url of [`https://example.com/x.git?private_token=${secret}`, `https://example.com/x.git?access_token=${secret}`, `https://example.com/x.git?token=${secret}`, `bob:${secret}@example.com:acme/x.git`, `git://${secret}@example.com/x.git`]) {
    const res = await plane.call('POST', '/v1/scans', plane.keys.admin, { source: { type: 'git', url } })
    t.equal(res.statusCode, 400, url)
    t.notOk(res.body.includes(secret), 'not echoed')
  }
  for (const f of readdirSync(plane.dir).filter((n) => n.includes('.db'))) t.notOk(readFileSync(join(plane.dir, f)).includes(secret), `${f} holds no credential`)
  t.notOk(plane.logs.some((l) => l.includes(secret)), 'no log line holds it')
})

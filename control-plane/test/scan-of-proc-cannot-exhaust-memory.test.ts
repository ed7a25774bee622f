/**
 * Security regression: a dir scan of `/proc/self/` read `/proc/<pid>/pagemap` whole (its stat size is
 * 0, so the file size limit never applied): gigabytes within a minute, the scan "running" throughout.
 * Now only regular files are opened (checked on the descriptor: no FIFO, device or socket), symbolic
 * links are not followed, and the size limit counts the bytes read. Real control plane, allowed paths.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'

type Tap = Pick<typeof t, 'ok'>
import { dirSource } from '../detect/sources/dir.js'
import { newProgress } from '../detect/sources/source.js'
import { scanEnded, startPlane, tempDir, waitFor, type TestPlane } from './harness.js'

interface Scan { id: number; status: string; error?: string; progress: { files?: number; bytes?: number; skipped?: number } }

async function scanned(t: Tap, plane: TestPlane, path: string, within: number): Promise<Scan> {
  const started = Date.now()
  const res = await plane.call('POST', '/v1/scans', plane.keys.admin, { source: { type: 'dir', path } })
  let scan: Scan | undefined
  await waitFor(`the scan of ${path} to end`, async () => {
    scan = (await plane.call('GET', `/v1/scans/${res.json().id as number}`, plane.keys.analyst)).json() as Scan
    return scanEnded(scan)
  }, within)
  t.ok(Date.now() - started < within, `${path}: finished in ${Date.now() - started} ms`)
  return scan!
}

t.test('a folder with a FIFO, a link to /proc/self/pagemap and /proc/self/ itself: scans end promptly, memory bounded', async (t) => {
  const root = tempDir(t, 'leakgate-proc-')
  const folder = join(root, 'tree')
  mkdirSync(folder)
  writeFileSync(join(folder, 'plain.txt'), 'nothing secret\n')
  execFileSync('mkfifo', [join(folder, 'fifo')])
  symlinkSync('/proc/self/pagemap', join(folder, 'pagemap'))
  symlinkSync('/proc/self', join(folder, 'self'))
  const plane = await startPlane(t, { scan: { allowedPaths: [folder, '/proc/self'] } })
  const rssBefore = process.memoryUsage().rss

  const tree = await scanned(t, plane, folder, 20_000)
  t.equal(tree.status, 'done')
  t.equal(tree.progress.files, 1, 'the plain file only: the FIFO is not read, links are not followed')

  const proc = await scanned(t, plane, '/proc/self/', 60_000)
  t.equal(proc.status, 'done')
  t.ok((proc.progress.bytes ?? 0) < 200 * 1024 * 1024, `bytes read stay bounded (${proc.progress.bytes ?? 0})`)

  // The link named as the source: it resolves to the pagemap itself, read up to the limit and skipped.
  const link = await scanned(t, plane, join(folder, 'pagemap'), 20_000)
  t.equal(link.status, 'done')
  t.equal(link.progress.bytes, 0)
  t.equal(link.progress.skipped, 1)

  const grown = process.memoryUsage().rss - rssBefore
  t.ok(grown < 300 * 1024 * 1024, `the control plane's memory grew by ${Math.round(grown / 1e6)} MB`)
})

t.test('a file whose stat size is 0 but yields data stops at the limit', async (t) => {
  const progress = newProgress()
  const items = []
  for await (const item of dirSource('/proc/self/pagemap', { maxFileSize: 1024 * 1024 }, progress)) items.push(item)
  t.same(items, [], 'over the limit once read: skipped')
  t.equal(progress.skipped, 1)
  t.equal(progress.bytes, 0)
})

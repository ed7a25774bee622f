/**
 * A scan's output is bounded: once it holds `scan.maxFindings` findings, or has read `scan.maxBytes`
 * bytes, it stops, keeps what it found (as leaks, and on its record) and says it stopped early.
 * Real control plane, real files.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { PROVIDER_TOKENS } from '../detect/corpus/tokens.js'
import { Rng } from '../detect/corpus/random.js'
import { scanEnded, startPlane, tempDir, waitFor, type TestPlane } from './harness.js'

const rng = new Rng(77)

interface Scan { status: string; error?: string; findings: unknown[]; leaksCreated: number; progress: { files?: number } }

async function scan(plane: TestPlane, path: string): Promise<Scan> {
  const id = (await plane.call('POST', '/v1/scans', plane.keys.admin, { source: { type: 'dir', path } })).json().id as number
  let out: Scan = { status: 'running', findings: [], leaksCreated: 0, progress: {} }
  await waitFor(`scan ${id}`, async () => {
    out = (await plane.call('GET', `/v1/scans/${id}`, plane.keys.analyst)).json() as Scan
    return scanEnded(out)
  }, 30_000)
  return out
}

t.test('a scan stops at scan.maxFindings and at scan.maxBytes, keeping what it found', async (t) => {
  const folder = join(tempDir(t, 'leakgate-bounded-'), 'tree')
  mkdirSync(folder)
  for (let i = 0; i < 40; i++) writeFileSync(join(folder, `f${String(i).padStart(2, '0')}.env`), `GITHUB_TOKEN=${PROVIDER_TOKENS.githubClassic!(rng).value}\n${'x'.repeat(2000)}\n`)

  const few = await startPlane(t, { scan: { allowedPaths: [folder], maxFindings: 2 } })
  const cut = await scan(few, folder)
  t.equal(cut.status, 'done')
  t.equal(cut.findings.length, 2)
  t.equal(cut.leaksCreated, 2)
  t.match(cut.error, /stopped early: 2 findings \(scan\.maxFindings\)/)

  const small = await startPlane(t, { scan: { allowedPaths: [folder], maxBytes: 4096 } })
  const read = await scan(small, folder)
  t.equal(read.status, 'done')
  // Files are read a few ahead of the scan: fewer than all, not exactly two.
  t.ok((read.progress.files ?? 0) < 40, `stopped after ${read.progress.files ?? 0} files read`)
  t.ok(read.findings.length < 40, `with ${read.findings.length} findings`)
  t.match(read.error, /stopped early: 4096 bytes read \(scan\.maxBytes\)/)

  const all = await startPlane(t, { scan: { allowedPaths: [folder] } })
  const whole = await scan(all, folder)
  t.equal(whole.findings.length, 40)
  t.equal(whole.error, undefined, 'within the limits: no error')
})

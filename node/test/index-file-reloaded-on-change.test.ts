/**
 * `--index FILE` is watched: a file rewritten (replaced by rename as `leakgate index build` writes it, or
 * written in place) is loaded without a restart, and a bad one (garbage, truncated, wrong checksum) is
 * refused with a log line saying why, counted, and the index in force kept. While a file reloads (read in
 * place, then loaded), a token it blocks stays blocked.
 */
import t from 'tap'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Rng, ALPHA } from '../../control-plane/detect/corpus/random.js'
import { encodeSnapshot } from '../../protocol/snapshot.js'
import { sha256Hex } from '../../protocol/token-hash.js'
import { writeFileAtomic } from '../leakdb/write-file-atomic.js'
import { SnapshotFileView } from '../leakdb/snapshot-file.js'
import { pooledGet, startNode, startUpstream, tempDir, waitFor } from './helpers.js'

const rng = new Rng(0x1dec5)
const token = (): string => `lgtest_${rng.chars(36, ALPHA.base62)}`
const snapshotOf = (tokens: readonly string[], revision: number): Buffer =>
  encodeSnapshot(tokens.map((tk, i) => ({ sha256: sha256Hex(tk), action: 'block' as const, leakId: i + 1 })), revision)

async function reloadsCounted(adminUrl: string, result: 'ok' | 'failed'): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text()
  const m = new RegExp(`^leakgate_node_index_reloads_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(text)
  return Number(m?.[1] ?? NaN)
}

t.test('a rewritten index file is enforced within seconds; bad files are refused and the old index kept', async (t) => {
  const [first, second, third] = [token(), token(), token()]
  const dir = tempDir(t)
  const file = join(dir, 'leaks.snapshot')
  await writeFileAtomic(file, snapshotOf([first], 1))
  const upstream = await startUpstream(t)
  const { url, adminUrl, logs } = await startNode(t, { upstream: upstream.url, env: { LEAKGATE_INDEX: file } })
  const get = pooledGet(t)
  const status = async (tk: string): Promise<number> => (await get(`${url}/x`, { authorization: `Bearer ${tk}` })).status

  t.equal(await status(first), 403, 'the first file is enforced')
  t.equal(await status(second), 200, 'a token not in it passes')

  // Replaced by rename, as `leakgate index build` does.
  const rewritten = Date.now()
  await writeFileAtomic(file, snapshotOf([first, second], 2))
  // Seconds on a quiet machine (300 ms debounce, then a loader thread); generous for a loaded CI box.
  await waitFor('the rewritten file to be enforced', async () => (await status(second)) === 403, 60_000)
  t.pass('a token added to the file is blocked, without a restart')
  t.comment(`enforced ${Date.now() - rewritten} ms after the rewrite`)
  // Enforced from the file read in place first, then loaded: the reload is said and counted once loaded.
  await waitFor('the reload to be logged', () => /"msg":"reloaded the index file"/.test(logs.text), 60_000)
  t.equal(await reloadsCounted(adminUrl, 'ok'), 1)

  const refusals: [string, Buffer, string][] = [
    ['garbage', rng.bytes(4096), 'LEAKGATE_ERR_SNAPSHOT_MAGIC'],
    ['truncated', snapshotOf([first, second, third], 3).subarray(0, 60), 'LEAKGATE_ERR_SNAPSHOT_TRUNCATED'],
    ['checksum', (() => {
      const b = snapshotOf([first, second, third], 3)
      b[b.length - 1] = (b[b.length - 1] as number) ^ 0xff // one bit of content changed, the checksum left
      return b
    })(), 'LEAKGATE_ERR_SNAPSHOT_CHECKSUM'],
  ]
  let failed = 0
  for (const [what, bytes, code] of refusals) {
    await writeFileAtomic(file, bytes)
    failed++
    await waitFor(`the ${what} file to be refused`, () => logs.lines.filter((l) => l.includes('the changed index file was refused')).length === failed, 60_000)
    const line = JSON.parse(logs.lines.filter((l) => l.includes('the changed index file was refused')).at(-1) ?? '{}') as { level: number; err: { code: string }; revision: number }
    t.equal(line.err.code, code, `${what}: the log line says why (${code})`)
    t.equal(line.revision, 2, `${what}: and which revision stays in force`)
    t.equal(await status(second), 403, `${what}: the index in force still blocks`)
    t.equal(await status(third), 200, `${what}: nothing of the bad file is enforced`)
  }
  t.equal(await reloadsCounted(adminUrl, 'failed'), refusals.length, 'each refusal is counted')
  const ready = await (await fetch(`${adminUrl}/readyz`)).json() as { revision: number }
  t.equal(ready.revision, 2, '/readyz still reports the index in force')

  // Written in place (no rename): the folder's change events are heard too.
  await writeFile(file, snapshotOf([third], 4))
  await waitFor('the file written in place to be enforced', async () => (await status(third)) === 403, 60_000)
  t.equal(await status(first), 200, 'the new file replaced the old index whole')
  await waitFor('the second reload to be counted', async () => (await reloadsCounted(adminUrl, 'ok')) === 2, 60_000)
})

t.test('other files changing in the folder do not reload an unchanged index file', async (t) => {
  const tk = token()
  const dir = tempDir(t)
  const file = join(dir, 'leaks.snapshot')
  await writeFileAtomic(file, snapshotOf([tk], 1))
  const upstream = await startUpstream(t)
  const { adminUrl, logs } = await startNode(t, { upstream: upstream.url, env: { LEAKGATE_INDEX: file } })
  for (let i = 0; i < 3; i++) await writeFileAtomic(join(dir, `other-${i}.txt`), 'x')
  // The debounce is 300 ms: past a second, any reload would have happened.
  await new Promise((resolve) => setTimeout(resolve, 1200))
  t.equal(await reloadsCounted(adminUrl, 'ok'), 0, 'no reload')
  t.notMatch(logs.text, 'reloaded the index file')
})

t.test('while a large rewritten file reloads, a token blocked by both files is blocked at every moment', async (t) => {
  const kept = token()
  const added = token()
  const filler = Array.from({ length: 300_000 }, () => sha256Hex(token()))
  const big = (tokens: readonly string[], revision: number): Buffer =>
    encodeSnapshot([...tokens.map((tk) => sha256Hex(tk)), ...filler].map((sha256, i) => ({ sha256, action: 'block' as const, leakId: i + 1 })), revision)
  const dir = tempDir(t)
  const file = join(dir, 'leaks.snapshot')
  await writeFileAtomic(file, big([kept], 1))
  const upstream = await startUpstream(t)
  const { url, node, logs } = await startNode(t, { upstream: upstream.url, env: { LEAKGATE_INDEX: file } })
  const get = pooledGet(t)
  const statuses = new Map<number, number>()
  let duringView = 0
  let running = true
  const loops = Array.from({ length: 4 }, async () => {
    while (running) {
      const view = node.holder.current instanceof SnapshotFileView
      const { status } = await get(`${url}/x`, { authorization: `Bearer ${kept}` })
      if (view && node.holder.current instanceof SnapshotFileView) duringView++
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
    }
  })
  await writeFileAtomic(file, big([kept, added], 2))
  await waitFor('the reload to be logged', () => /"msg":"reloaded the index file"/.test(logs.text), 60_000)
  running = false
  await Promise.all(loops)
  t.same([...statuses.keys()], [403], `every request with the blocked token was blocked (${[...statuses.values()][0]} requests)`)
  t.ok(duringView > 0, `some were judged while the new file was read in place (${duringView})`)
  t.equal((await get(`${url}/x`, { authorization: `Bearer ${added}` })).status, 403, 'the new file is in force')
  t.equal(node.holder.current?.revision, 2)
})

/**
 * `node.reload()`: every reloader runs, in order, one reload at a time; one that fails is logged and
 * leaves the others' work (and the node) as it was.
 */
import t from 'tap'
import { join } from 'node:path'
import { encodeSnapshot } from '../protocol/snapshot.js'
import { writeFileAtomic } from './leakdb/write-file-atomic.js'
import { startNode, startUpstream, tempDir } from './test/helpers.js'

t.test('a failing reloader is logged; the index file still reloads', async (t) => {
  const file = join(tempDir(t), 'leaks.snapshot')
  await writeFileAtomic(file, encodeSnapshot([], 4))
  const upstream = await startUpstream(t)
  const { node, logs } = await startNode(t, { upstream: upstream.url, env: { LEAKGATE_INDEX: file } })
  const order: string[] = []
  node.reloaders.push({
    name: 'TLS files',
    async reload() {
      order.push('tls start')
      await new Promise((resolve) => setTimeout(resolve, 50))
      order.push('tls end')
      throw Object.assign(new Error('no such file: cert.pem'), { code: 'ENOENT' })
    },
  })
  const [first, second] = await Promise.all([node.reload('test'), node.reload('test')])
  t.same(order, ['tls start', 'tls end', 'tls start', 'tls end'], 'a second reload waits for the first')
  t.same(first?.map((o) => [o.name, o.ok]), [['index file', true], ['TLS files', false]])
  t.same(second?.map((o) => [o.name, o.ok]), [['index file', true], ['TLS files', false]])
  const failed = first?.[1]
  t.same(failed?.ok === false && failed.error, { code: 'ENOENT', message: 'no such file: cert.pem' })
  const errors = logs.lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level === 50)
  t.same(errors.map((l) => l.msg), ['could not reload the TLS files; keeping the one in force', 'could not reload the TLS files; keeping the one in force'])
  t.equal(node.holder.current?.revision, 4)
})

t.test('a node following a control plane with no config file has nothing to reload', async (t) => {
  const upstream = await startUpstream(t)
  const { node, logs } = await startNode(t, { upstream: upstream.url, env: { LEAKGATE_CACHE_DIR: tempDir(t) } })
  t.same(await node.reload('test'), [])
  t.match(logs.text, 'nothing to reload')
})

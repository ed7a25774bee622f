import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import t from 'tap'
import { writeFileAtomic } from './write-file-atomic.js'
import { tempDir } from '../../test/support.js'

t.test('writeFileAtomic replaces a file whole and leaves no temporary file', async (t) => {
  const dir = tempDir(t)
  writeFileSync(`${dir}/x.bin`, 'old')
  const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 251))
  await writeFileAtomic(`${dir}/x.bin`, bytes)
  t.same(readFileSync(`${dir}/x.bin`), bytes)
  t.same(readdirSync(dir), ['x.bin'])
})

t.test('writeFileAtomic into a missing folder fails and writes nothing', async (t) => {
  const dir = tempDir(t)
  await t.rejects(writeFileAtomic(`${dir}/missing/x.bin`, 'new'), { code: 'ENOENT' })
  t.same(readdirSync(dir), [])
})

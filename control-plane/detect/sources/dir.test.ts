import t from 'tap'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { dirSource } from './dir.js'
import { newProgress } from './source.js'
import { tempDir } from '../test/helpers.js'

t.test('text files are read; binary, oversized, .git and symlinked files are not', async (t) => {
  const dir = tempDir(t, 'leakgate-dir-')
  mkdirSync(join(dir, 'src/deep'), { recursive: true })
  mkdirSync(join(dir, '.git'))
  writeFileSync(join(dir, 'src/a.ts'), 'export const a = 1\n')
  writeFileSync(join(dir, 'src/deep/b.env'), 'B=2\n')
  writeFileSync(join(dir, '.git/config'), '[core]\n')
  writeFileSync(join(dir, 'image.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 13]))
  writeFileSync(join(dir, 'big.txt'), 'x'.repeat(2000))
  symlinkSync('/etc/hostname', join(dir, 'link'))
  const progress = newProgress()
  const files: string[] = []
  for await (const item of dirSource(dir, { maxFileSize: 1000 }, progress)) files.push(item.origin.file)
  t.same(files, ['src/a.ts', 'src/deep/b.env'])
  t.equal(progress.files, 2)
  t.equal(progress.skipped, 2, 'the binary and the oversized file')
  t.equal(progress.bytes, 23)
})

t.test('a single file can be scanned; a missing path is a source error', async (t) => {
  const dir = tempDir(t, 'leakgate-dir-')
  writeFileSync(join(dir, 'one.txt'), 'hello\n')
  const items = []
  for await (const item of dirSource(join(dir, 'one.txt'), { maxFileSize: 1000 }, newProgress())) items.push(item.origin.file)
  t.same(items, ['one.txt'])
  await t.rejects(async () => {
    for await (const _ of dirSource(join(dir, 'nope'), { maxFileSize: 1000 }, newProgress())) void _
  }, { code: 'LEAKGATE_ERR_SCAN_SOURCE' })
})

import { gzipSync } from 'node:zlib'
import t from 'tap'
import { gzipTarFiles, makeTar, tarFiles, TarError } from './tar-reader.js'

const long = `package/${'deep/'.repeat(30)}file.txt`

t.test('reads the regular files, long paths through pax records, and caps each file', async (t) => {
  const tar = makeTar([{ path: 'package/package.json', data: '{"name":"a"}' }, { path: long, data: 'hello\n' }, { path: 'package/big.bin', data: Buffer.alloc(3000, 1) }])
  const files = gzipTarFiles(gzipSync(tar), { maxFileBytes: 2048 })
  t.same(files.map((f) => [f.path, f.size, f.data?.toString()]), [['package/package.json', 12, '{"name":"a"}'], [long, 6, 'hello\n'], ['package/big.bin', 3000, undefined]])
})

t.test('an archive cut off is refused whole', async (t) => {
  const tar = makeTar([{ path: 'package/a.txt', data: 'x'.repeat(2000) }, { path: 'package/b.txt', data: 'y' }])
  t.throws(() => tarFiles(tar.subarray(0, 700)), TarError, 'inside a file')
  t.throws(() => tarFiles(tar.subarray(0, 2560 + 100)), /cut off inside a header/)
  t.throws(() => gzipTarFiles(gzipSync(tar).subarray(0, 60)), /does not decompress/, 'a gzip stream cut off')
  const damaged = Buffer.from(tar)
  damaged[10] = 0x41
  t.throws(() => tarFiles(damaged), /checksum fails/)
  t.throws(() => gzipTarFiles(gzipSync(tar), { maxBytes: 1024 }), /does not decompress/, 'over the decompressed cap')
  t.same(tarFiles(Buffer.alloc(0)), [], 'an empty archive has no files')
})

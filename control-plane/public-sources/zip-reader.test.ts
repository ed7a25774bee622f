import { strToU8, zipSync } from 'fflate'
import t from 'tap'
import { ZipError, zipFiles } from './zip-reader.js'

const zip = (files: Record<string, string | Uint8Array>, level: 0 | 9 = 9): Buffer =>
  Buffer.from(zipSync(Object.fromEntries(Object.entries(files).map(([path, data]) => [path, typeof data === 'string' ? strToU8(data) : data])), { level }))

/** Sets every entry's declared uncompressed size (central directory and local headers) to `size`. */
function declare(archive: Buffer, size: number): Buffer {
  const out = Buffer.from(archive)
  for (let at = out.indexOf('PK\x01\x02'); at !== -1; at = out.indexOf('PK\x01\x02', at + 4)) out.writeUInt32LE(size, at + 24)
  for (let at = out.indexOf('PK\x03\x04'); at !== -1; at = out.indexOf('PK\x03\x04', at + 4)) out.writeUInt32LE(size, at + 22)
  return out
}

t.test('a wheel\'s files, directories left out, a path with .. kept as a name, a file over the cap listed without its bytes', async (t) => {
  const files = zipFiles(zip({ 'pkg/': new Uint8Array(0), 'pkg/a.py': 'A = 1\n', '../../outside.txt': 'x\n', 'pkg/big.bin': new Uint8Array(5000) }), { maxFileBytes: 4096 })
  t.same(files.map((f) => [f.path, f.size, f.data?.toString('utf8')]), [['pkg/a.py', 6, 'A = 1\n'], ['../../outside.txt', 2, 'x\n'], ['pkg/big.bin', 5000, undefined]])
  t.same(zipFiles(zip({ 'stored.txt': 'kept as is\n' }, 0)).map((f) => f.data?.toString('utf8')), ['kept as is\n'], 'stored (uncompressed) entries too')
})

t.test('a zip bomb is refused before it is inflated; more entries than the limit too', async (t) => {
  const bomb = zip({ 'a.txt': 'small\n', 'zeros.txt': new Uint8Array(16 * 1024 * 1024) })
  t.ok(bomb.length < 100_000, `16 MiB in ${bomb.length} bytes`)
  t.throws(() => zipFiles(bomb, { maxBytes: 8 * 1024 * 1024, maxFileBytes: 32 * 1024 * 1024 }), { name: 'ZipError', message: /more than 8388608 bytes/ })
  // Declaring 4 GiB - 1 for a small entry: refused on the declaration alone.
  t.throws(() => zipFiles(declare(zip({ 'a.txt': 'tiny\n' }), 0xffffffff), { maxBytes: 1024 * 1024, maxFileBytes: 0xffffffff }), ZipError)
  t.throws(() => zipFiles(zip(Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`f${i}.txt`, 'x']))), { maxFiles: 20 }), { name: 'ZipError', message: /more than 20 entries/ })
  t.equal(zipFiles(zip(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`f${i}.txt`, 'x']))), { maxFiles: 20 }).length, 20)
})

t.test('an entry lying about its size is inflated no further than it declared', async (t) => {
  const lying = declare(zip({ 'a.txt': 'y'.repeat(100_000) }), 1000)
  const files = zipFiles(lying)
  t.ok((files[0]?.data?.length ?? 0) <= 1000, `${files[0]?.data?.length} bytes kept`)
})

t.test('a cut-off or damaged archive is a ZipError', async (t) => {
  const whole = zip({ 'pkg/a.py': 'A = 1\n'.repeat(100) })
  t.throws(() => zipFiles(whole.subarray(0, whole.length - 30)), { name: 'ZipError', message: /does not unzip/ })
  t.throws(() => zipFiles(Buffer.from('not a zip at all')), ZipError)
  const damaged = Buffer.from(whole)
  damaged.fill(0xff, 40, 60) // inside the first entry's deflated bytes
  t.throws(() => zipFiles(damaged), ZipError)
})

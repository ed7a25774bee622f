import t from 'tap'
import { base62, crc32Base62, hasValidCrc32Checksum } from './checksums.js'
import { crc32 } from 'node:zlib'
import { Rng, ALPHA } from '../corpus/random.js'

t.test('base62 pads to the width and uses digits, upper, lower', async (t) => {
  t.equal(base62(0, 6), '000000')
  t.equal(base62(61, 2), '0z')
  t.equal(base62(62, 2), '10')
})

t.test('a GitHub-format token with its CRC32 checksum passes; one changed character fails', async (t) => {
  const rng = new Rng(1)
  for (let i = 0; i < 50; i++) {
    const random = rng.chars(30, ALPHA.base62)
    const token = `ghp_${random}${crc32Base62(random)}`
    t.ok(hasValidCrc32Checksum(token), token.slice(0, 8))
    const flipped = token.slice(0, 10) + (token[10] === 'a' ? 'b' : 'a') + token.slice(11)
    t.notOk(hasValidCrc32Checksum(flipped))
  }
})

t.test('npm tokens use the same scheme; wrong lengths fail', async (t) => {
  const random = 'abcdefghijABCDEFGHIJ0123456789'
  t.ok(hasValidCrc32Checksum(`npm_${random}${crc32Base62(random)}`))
  t.notOk(hasValidCrc32Checksum(`npm_${random}${crc32Base62(random)}x`))
  t.notOk(hasValidCrc32Checksum('npm_short'))
  t.notOk(hasValidCrc32Checksum('noprefix'))
})

t.test('other encoders: lower-case-first alphabet, digits least significant first', async (t) => {
  const random = 'Zq8WmX2vL9pR7tY3nB6cF1hJ5dG0sA'
  const lowerFirst = base62(crc32(random) >>> 0, 6, '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ')
  t.ok(hasValidCrc32Checksum(`ghp_${random}${lowerFirst}`))
  t.ok(hasValidCrc32Checksum(`ghp_${random}${[...crc32Base62(random)].reverse().join('')}`))
})

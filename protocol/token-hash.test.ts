import { createHash } from 'node:crypto'
import t from 'tap'
import { hashKeyId, isSha256Hex, keyedHash, keyedTokenBase64, keyedTokenHex, makePreview, parseHashKey, sha256Digest, sha256Hex } from './token-hash.js'

t.test('sha256Hex is the lowercase hex SHA-256 of the UTF-8 bytes', async (t) => {
  t.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  t.equal(sha256Hex('\u00e9'), '4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c', 'UTF-8 bytes of é')
  t.equal(sha256Digest('abc').toString('hex'), sha256Hex('abc'))
})

t.test('isSha256Hex accepts only 64 lowercase hex characters', async (t) => {
  t.ok(isSha256Hex('a'.repeat(64)))
  t.notOk(isSha256Hex('A'.repeat(64)))
  t.notOk(isSha256Hex('a'.repeat(63)))
  t.notOk(isSha256Hex('g'.repeat(64)))
  t.notOk(isSha256Hex(`${'a'.repeat(64)}\n`))
})

t.test('a preview shows at most 4 + 4 characters and never more than a third of the token', async (t) => {
  t.equal(makePreview('ghp_1234567890abcdefghijklmnopqrstuvwxyz'), 'ghp_…wxyz')
  t.equal(makePreview('abcdefghijkl'), 'ab…kl')
  t.equal(makePreview('abcde'), '…')
  t.equal(makePreview(''), '…')
  for (let n = 0; n < 60; n++) {
    const token = 'x'.repeat(n)
    const shown = makePreview(token).replace('…', '').length
    t.ok(shown <= n / 3 && shown <= 8, `length ${n} shows ${shown}`)
  }
  t.equal(makePreview('😀😀😀😀😀😀😀😀😀😀😀😀'), '😀😀…😀😀', 'counts code points, never splits one')
})

t.test('a keyed hash is HMAC-SHA256(key, the SHA-256 as 32 bytes), from a token or from its SHA-256 alone', async (t) => {
  const key = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff))
  // HMAC written out from its definition (RFC 2104), so the test does not restate the implementation.
  const sha = (...parts: Buffer[]): Buffer => parts.reduce((h, p) => h.update(p), createHash('sha256')).digest()
  const pad = (byte: number): Buffer => Buffer.from(Buffer.concat([key, Buffer.alloc(64 - key.length)]).map((b) => b ^ byte))
  const expected = sha(pad(0x5c), sha(pad(0x36), sha256Digest('hunter2'))).toString('hex')
  t.equal(keyedTokenHex(key, 'hunter2'), expected)
  t.equal(keyedHash(key, sha256Hex('hunter2')), expected, 'from the hex SHA-256')
  t.equal(keyedHash(key, sha256Hex('hunter2').toUpperCase()), expected, 'from uppercase hex')
  t.equal(Buffer.from(keyedTokenBase64(key, 'hunter2'), 'base64').toString('hex'), expected)
  t.not(expected, sha256Hex('hunter2'))
  t.throws(() => keyedHash(key, 'abcd'), TypeError)
  t.match(hashKeyId(key), /^[0-9a-f]{16}$/)
  t.not(hashKeyId(key), expected.slice(0, 16))
})

t.test('a hash key is 32 to 128 bytes of hex that do not look like a pattern', async (t) => {
  const good = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 73 + 5) & 0xff)).toString('hex')
  t.ok('key' in parseHashKey(good))
  t.ok('key' in parseHashKey(good.toUpperCase()))
  for (const bad of [good.slice(0, 62), `${good}a`, good.replace(/./, 'g'), '00'.repeat(32), good.repeat(5)]) t.ok('reason' in parseHashKey(bad), bad.length.toString())
})

import t from 'tap'
import { isSha256Hex, makePreview, sha256Digest, sha256Hex } from './token-hash.js'

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

// The browser's hashing (static/assets/token-hash.js, Web Crypto) must agree with the node's and the
// control plane's (protocol/token-hash.ts): a leak added in the console is then found at the edge.
import t from 'tap'
import { makePreview, sha256Hex } from '../../protocol/token-hash.js'
// @ts-expect-error: plain browser JavaScript, no type declarations
import { hashToken, preview } from './static/assets/token-hash.js'

const samples = ['ghp_0123456789abcdefghijABCDEFGHIJ012345', 'short', 'abcdef', 'abcdefghijkl', 'sk_live_\u00e9\u00e8\u00ea-\u{1F511}-tail', 'user:p@ss w0rd', '']

t.test('same SHA-256 and preview as the node', async (t) => {
  for (const s of samples) {
    const got = (await hashToken(s)) as { sha256: string; preview: string }
    t.equal(got.sha256, sha256Hex(s), `sha256 of ${JSON.stringify(s)}`)
    t.equal(got.preview, makePreview(s), `preview of ${JSON.stringify(s)}`)
  }
})

t.test('a preview never shows more than a third of the token', async (t) => {
  for (let n = 0; n <= 60; n++) {
    const token = 'x'.repeat(n)
    const shown = (preview(token) as string).replace('…', '').length
    t.ok(shown <= n / 3 && shown <= 8, `length ${n} shows ${shown}`)
  }
})

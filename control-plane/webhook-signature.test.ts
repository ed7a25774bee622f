import t from 'tap'
import { documentedVerifier } from './test/webhook-receiver.js'
import { newWebhookSecret, signatureHeader, verifySignature } from './webhook-signature.js'
import { retryDelayMs } from './webhooks.js'

t.test('a signature verifies with its secret and time only, with the documented code as with ours', async (t) => {
  const documented = await documentedVerifier(t)
  const secret = newWebhookSecret()
  const other = newWebhookSecret()
  const body = '{"id":1,"type":"leak.created"}'
  const now = Math.floor(Date.now() / 1000)
  const header = signatureHeader([secret], now, body)
  for (const [name, verify] of [['ours', verifySignature], ['documented', documented]] as const) {
    t.ok(verify(header, body, secret), `${name}: verifies`)
    t.notOk(verify(header, `${body} `, secret), `${name}: a changed body does not`)
    t.notOk(verify(header, body, other), `${name}: another secret does not`)
    t.notOk(verify(signatureHeader([secret], now - 3600, body), body, secret), `${name}: an old timestamp does not`)
    t.notOk(verify(header.replace(/t=\d+/, `t=${now + 1}`), body, secret), `${name}: a changed timestamp does not`)
    t.notOk(verify('v1=zz', body, secret), `${name}: garbage does not`)
    const both = signatureHeader([other, secret], now, body)
    t.ok(verify(both, body, secret) && verify(both, body, other), `${name}: during an overlap either secret verifies`)
  }
})

t.test('retries back off exponentially, with jitter, at most an hour', async (t) => {
  t.equal(retryDelayMs(1, 30, () => 0.5), 30_000)
  t.equal(retryDelayMs(3, 30, () => 0.5), 120_000)
  t.equal(retryDelayMs(4, 30, () => 0), 120_000, 'half at the low end of the jitter')
  t.equal(retryDelayMs(4, 30, () => 1), 360_000, 'one and a half at the high end')
  t.equal(retryDelayMs(30, 30, () => 0.5), 3_600_000, 'capped at an hour')
})

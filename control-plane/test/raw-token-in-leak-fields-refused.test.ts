/**
 * Security regression: a leak created with its raw token value also written into `kind`, `source` or
 * a location field (even one that needs JSON escaping) was stored as sent, putting the raw secret on
 * disk in plain text, where the control plane keeps only hashes. Such a leak is now refused with a
 * 400 and nothing is stored. Real control plane, real SQLite file.
 */
import t from 'tap'
import { startPlane } from './harness.js'

t.test('a raw token echoed in kind, source or an escaped location field is refused', async (t) => {
  const plane = await startPlane(t)
  const cases: Array<[string, Record<string, unknown>]> = [
    ['kind', { kind: 'ghp_ABCDEFghijklmnop0123456789', tokens: [{ value: 'ghp_ABCDEFghijklmnop0123456789' }] }],
    ['source', { source: 'xoxb-12345678-abcdefgh', tokens: [{ value: 'xoxb-12345678-abcdefgh' }] }],
    ['location', { location: { path: 'abc"def\\ghi' }, tokens: [{ value: 'abc"def\\ghi' }] }],
  ]
  for (const [field, body] of cases) {
    const res = await plane.call('POST', '/v1/leaks', plane.keys.admin, body)
    t.equal(res.statusCode, 400, `${field}: ${res.body}`)
  }
  t.equal((await plane.call('GET', '/v1/leaks', plane.keys.admin)).json().total, 0, 'nothing stored')
})

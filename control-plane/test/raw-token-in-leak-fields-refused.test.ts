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

t.test('a raw token given away in another reading of the title, comment or location is refused', async (t) => {
  const plane = await startPlane(t)
  const token = 'Zq8vK2mP9xL4nR7tW1yB3cD5'
  const copies = {
    'cut by two': token.slice(1, -1),
    lowercased: token.toLowerCase(),
    'split by spaces': `${token.slice(0, 12)} ${token.slice(12)}`,
    reversed: [...token].reverse().join(''),
    base64: Buffer.from(token).toString('base64'),
    'percent-encoded twice': [...token].map((c) => `%25${c.charCodeAt(0).toString(16)}`).join(''),
  }
  for (const [name, copy] of Object.entries(copies)) {
    for (const body of [{ title: `leak ${copy}` }, { comment: `seen as ${copy}` }, { location: { url: `https://paste.example/raw?t=${copy}` } }]) {
      const res = await plane.call('POST', '/v1/leaks', plane.keys.admin, { ...body, tokens: [{ value: token }] })
      t.equal(res.statusCode, 400, `${name} in ${Object.keys(body)[0]}: ${res.body}`)
    }
  }
  const preview = await plane.call('POST', '/v1/leaks', plane.keys.admin, { title: 'leak Zq8v…cD5 in a paste', tokens: [{ value: token }] })
  t.equal(preview.statusCode, 201, 'a preview in the title is fine')
  t.equal((await plane.call('GET', '/v1/leaks', plane.keys.admin)).json().total, 1, 'only that one stored')
})

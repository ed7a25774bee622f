import t from 'tap'
import { Rng, ALPHA } from '../detect/corpus/random.js'
import { HASH_KEY_ID_HEADER, hashKeyId, keyedHash, sha256Hex } from '../../protocol/token-hash.js'
import { RANGE_BUCKET } from '../range.js'
import { generateKey } from '../store/keys.js'
import { startPlane, type TestPlane } from './harness.js'

const rng = new Rng(20261202)
const token = (): string => `lgtest_${rng.chars(36, ALPHA.base62)}`
/** A hash with `prefix` and a random rest (added to a leak by hash). */
const hashWith = (prefix: string): string => prefix + rng.chars(64 - prefix.length, ALPHA.lowerHex)

async function checkerKey(plane: TestPlane): Promise<string> {
  const key = generateKey()
  await plane.store.keys.add(key, 'checker')
  return key
}

async function addLeak(plane: TestPlane, tokens: Array<{ value: string } | { sha256: string }>): Promise<number> {
  const res = await plane.call('POST', '/v1/leaks', plane.keys.admin, { title: 'test leak', tokens })
  if (res.statusCode !== 201) throw new Error(`adding a leak answered ${res.statusCode}: ${res.body}`)
  return (res.json() as { id: number }).id
}

t.test('a leaked token is found through its prefix, a clean one is not; a false positive is not leaked, a closed leak still is', async (t) => {
  const plane = await startPlane(t)
  const checker = await checkerKey(plane)
  const [leaked, closed, falsePositive, clean] = [token(), token(), token(), token()]
  await addLeak(plane, [{ value: leaked }])
  const closedId = await addLeak(plane, [{ value: closed }])
  const fpId = await addLeak(plane, [{ value: falsePositive }])
  t.equal((await plane.call('PATCH', `/v1/leaks/${closedId}`, plane.keys.admin, { status: 'closed' })).statusCode, 200)
  t.equal((await plane.call('PATCH', `/v1/leaks/${fpId}`, plane.keys.admin, { status: 'false_positive' })).statusCode, 200)

  const found = async (value: string): Promise<boolean> => {
    const hash = sha256Hex(value)
    const res = await plane.call('GET', `/v1/range/${hash.slice(0, 5).toUpperCase()}`, checker)
    t.equal(res.statusCode, 200)
    const body = res.json() as { prefix: string; hashes: string[] }
    t.equal(body.prefix, hash.slice(0, 5), 'the prefix, lowercased')
    t.equal(body.hashes.length, RANGE_BUCKET)
    t.ok(body.hashes.every((h) => /^[0-9a-f]{64}$/.test(h) && h.startsWith(body.prefix)), 'every hash has the prefix and the shape of a SHA-256')
    return body.hashes.includes(hash)
  }
  t.equal(await found(leaked), true, 'an open leak\'s token is leaked')
  t.equal(await found(closed), true, 'a closed leak\'s token stays leaked')
  t.equal(await found(falsePositive), false, 'a false positive is not leaked')
  t.equal(await found(clean), false, 'a token in no leak is clean')
  // A token of a false positive that is also in an open leak is leaked.
  await addLeak(plane, [{ value: falsePositive }])
  t.equal(await found(falsePositive), true, 'also in an open leak: leaked')
})

t.test('the answer has the same size for 0, 1 and several leaked hashes; decoys are the same on every ask', async (t) => {
  const plane = await startPlane(t)
  const checker = await checkerKey(plane)
  const [empty, one, several, many] = ['0a1b2', '3c4d5', '6e7f8', '9abcd']
  const oneHash = hashWith(one)
  await addLeak(plane, [{ sha256: oneHash }])
  const severalHashes = Array.from({ length: 7 }, () => hashWith(several))
  await addLeak(plane, severalHashes.map((sha256) => ({ sha256 })))
  const manyHashes = Array.from({ length: RANGE_BUCKET + 1 }, () => hashWith(many))
  await addLeak(plane, manyHashes.map((sha256) => ({ sha256 })))

  const ask = async (prefix: string): Promise<{ size: number; hashes: string[] }> => {
    const res = await plane.call('GET', `/v1/range/${prefix}`, checker)
    t.equal(res.statusCode, 200)
    return { size: res.rawPayload.length, hashes: (res.json() as { hashes: string[] }).hashes }
  }
  const answers = [await ask(empty), await ask(one), await ask(several)]
  t.same(answers.map((a) => a.hashes.length), [RANGE_BUCKET, RANGE_BUCKET, RANGE_BUCKET], 'the same count of hashes')
  t.same(answers.map((a) => a.size), [answers[0]?.size, answers[0]?.size, answers[0]?.size], 'the same size in bytes')
  t.ok(answers[1]?.hashes.includes(oneHash))
  t.ok(severalHashes.every((h) => answers[2]?.hashes.includes(h)))
  for (const a of answers) t.same(a.hashes, [...a.hashes].sort(), 'sorted by value: the place marks nothing')
  t.same((await ask(several)).hashes, answers[2]?.hashes, 'asking again gives the same answer: nothing to subtract')
  const over = await ask(many)
  t.equal(over.hashes.length, 2 * RANGE_BUCKET, 'past one bucket: the next multiple')
  t.ok(manyHashes.every((h) => over.hashes.includes(h)))
})

t.test('a bad prefix is a clear 400 that does not repeat what was sent', async (t) => {
  const plane = await startPlane(t)
  const checker = await checkerKey(plane)
  const pasted = token()
  for (const bad of ['abcd', 'abcdef', 'abcdg', encodeURIComponent(pasted)]) {
    const res = await plane.call('GET', `/v1/range/${bad}`, checker)
    t.equal(res.statusCode, 400, bad)
    t.equal(res.json().code, 'LEAKGATE_ERR_BAD_REQUEST')
    t.match(res.json().detail, /exactly 5 hex characters/)
  }
  t.notOk((await plane.call('GET', `/v1/range/${encodeURIComponent(pasted)}`, checker)).body.includes(pasted), 'a token pasted as the prefix is not echoed')
})

t.test('a checker key can do nothing else', async (t) => {
  const plane = await startPlane(t)
  const checker = await checkerKey(plane)
  t.equal((await plane.call('GET', '/v1/range/abcde', checker)).statusCode, 200)
  t.equal((await plane.call('GET', '/v1/range', checker)).statusCode, 200)
  // Every other /v1 route the OpenAPI document lists, whatever it is (so a route added later is covered).
  const doc = (await plane.call('GET', '/docs/json')).json() as { paths: Record<string, Record<string, unknown>> }
  let tried = 0
  for (const [path, methods] of Object.entries(doc.paths)) {
    if (!path.startsWith('/v1/') || path.startsWith('/v1/range')) continue
    for (const method of Object.keys(methods)) {
      const url = path.replace(/\{[^}]+\}/g, '1')
      const res = await plane.call(method.toUpperCase(), url, checker, ['post', 'put', 'patch'].includes(method) ? {} : undefined)
      t.equal(res.statusCode, 403, `${method.toUpperCase()} ${url}`)
      t.equal(res.json().code, 'LEAKGATE_ERR_FORBIDDEN')
      tried++
    }
  }
  t.ok(tried >= 15, `${tried} other routes refused`)
  // Analysts and admins may check too; nodes may not.
  t.equal((await plane.call('GET', '/v1/range/abcde', plane.keys.analyst)).statusCode, 200)
  t.equal((await plane.call('GET', '/v1/range/abcde', plane.keys.admin)).statusCode, 200)
  t.equal((await plane.call('GET', '/v1/range/abcde', plane.keys.node)).statusCode, 403)
})

t.test('anonymous checks: 401 by default, answered when rangeAnonymous is on (a wrong key is still refused)', async (t) => {
  const closed = await startPlane(t)
  const res = await closed.call('GET', '/v1/range/abcde')
  t.equal(res.statusCode, 401)
  t.equal(res.json().code, 'LEAKGATE_ERR_UNAUTHORIZED')
  t.equal((await closed.call('GET', '/v1/range')).statusCode, 401)
  t.equal(res.headers['cache-control'], 'no-store')
  const keyed = await closed.call('GET', '/v1/range/abcde', closed.keys.analyst)
  t.equal(keyed.headers['cache-control'], 'no-store', 'behind a key, answers are not cached')

  const open = await startPlane(t, { rangeAnonymous: true })
  const leakedToken = token()
  await addLeak(open, [{ value: leakedToken }])
  const hash = sha256Hex(leakedToken)
  const anon = await open.call('GET', `/v1/range/${hash.slice(0, 5)}`)
  t.equal(anon.statusCode, 200)
  t.ok((anon.json() as { hashes: string[] }).hashes.includes(hash))
  t.equal(anon.headers['cache-control'], 'public, max-age=60', 'anyone may ask: a cache may keep it a minute')
  t.same((await open.call('GET', '/v1/range')).json(), { prefixLength: 5, bucket: RANGE_BUCKET, anonymous: true, hashKeyId: null })
  t.equal((await open.call('GET', '/v1/range/abcde', generateKey())).statusCode, 401, 'a key that is sent is checked')
  t.equal((await open.call('GET', '/v1/leaks')).statusCode, 401, 'nothing else opens')
})

t.test('range checks are rate-limited per key and per address: 429 with Retry-After', async (t) => {
  const plane = await startPlane(t, { rangeAnonymous: true, rangeQueriesPerMinute: 3 })
  const checker = await checkerKey(plane)
  for (let i = 0; i < 3; i++) t.equal((await plane.call('GET', '/v1/range/abcde', checker)).statusCode, 200)
  const limited = await plane.call('GET', '/v1/range/abcde', checker)
  t.equal(limited.statusCode, 429)
  t.equal(limited.json().code, 'LEAKGATE_ERR_RATE_LIMITED')
  t.match(limited.headers['retry-after'], /^\d+$/)
  t.ok(Number(limited.headers['retry-after']) >= 1 && Number(limited.headers['retry-after']) <= 60)
  t.equal((await plane.call('GET', '/v1/range/abcde', plane.keys.analyst)).statusCode, 200, 'another key has its own budget')
  const anon = (address: string) => plane.app.inject({ method: 'GET', url: '/v1/range/abcde', remoteAddress: address })
  for (let i = 0; i < 3; i++) t.equal((await anon('203.0.113.5')).statusCode, 200)
  t.equal((await anon('203.0.113.5')).statusCode, 429, 'an address without a key')
  t.equal((await anon('203.0.113.6')).statusCode, 200, 'another address')
  const metrics = (await plane.call('GET', '/metrics')).body
  t.match(metrics, /leakgate_cp_range_queries_total\{outcome="limited"\} 2/)
  t.match(metrics, /leakgate_cp_range_queries_total\{outcome="answered"\} 8/)
  t.notMatch(metrics, /abcde/, 'no prefix in any metric')
})

t.test('a store with a hash key: a plain SHA-256 prefix is a clear 409; the keyed prefix with the key id is answered', async (t) => {
  const hashKey = rng.chars(64, ALPHA.lowerHex)
  const plane = await startPlane(t, { hashKey })
  const checker = await checkerKey(plane)
  const leakedToken = token()
  await addLeak(plane, [{ value: leakedToken }])
  const sha = sha256Hex(leakedToken)
  const plain = await plane.call('GET', `/v1/range/${sha.slice(0, 5)}`, checker)
  t.equal(plain.statusCode, 409)
  t.equal(plain.json().code, 'LEAKGATE_ERR_RANGE_KEYED')
  t.match(plain.json().detail, /keyed token hashes/)
  const key = Buffer.from(hashKey, 'hex')
  const wrong = await plane.call('GET', `/v1/range/${sha.slice(0, 5)}`, checker, undefined, { [HASH_KEY_ID_HEADER]: 'ffffffffffffffff' })
  t.equal(wrong.statusCode, 409, 'another key id')
  const keyed = keyedHash(key, sha)
  const res = await plane.call('GET', `/v1/range/${keyed.slice(0, 5)}`, checker, undefined, { [HASH_KEY_ID_HEADER]: hashKeyId(key) })
  t.equal(res.statusCode, 200)
  t.ok((res.json() as { hashes: string[] }).hashes.includes(keyed), 'found under its keyed hash')
  t.equal(res.headers[HASH_KEY_ID_HEADER], hashKeyId(key))

  const unkeyed = await startPlane(t)
  const sent = await unkeyed.call('GET', '/v1/range/abcde', unkeyed.keys.analyst, undefined, { [HASH_KEY_ID_HEADER]: hashKeyId(key) })
  t.equal(sent.statusCode, 409, 'a key id sent to a store without a key')
  t.equal(sent.json().code, 'LEAKGATE_ERR_RANGE_KEYED')
})

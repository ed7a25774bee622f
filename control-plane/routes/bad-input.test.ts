import t from 'tap'
import type { Sql } from '../store/sql.js'
import { startPlane, storeSql, type TestPlane } from '../test/harness.js'

const GOOD_HASH = 'a'.repeat(64)

/** Row counts of every table plus the revision: what "nothing changed" means. */
async function storeState(plane: TestPlane, db: Sql): Promise<Record<string, number>> {
  const state: Record<string, number> = {}
  for (const table of ['leaks', 'tokens', 'leak_tokens', 'decisions', 'changes', 'index_entries', 'sightings', 'nodes', 'api_keys']) {
    state[table] = (await db.get<{ n: number }>(`SELECT count(*) AS n FROM ${table}`))?.n ?? -1
  }
  state.revision = await plane.store.index.revision()
  state.updated = (await db.get<{ n: number }>('SELECT count(*) AS n FROM leaks WHERE updated_at != created_at'))?.n ?? -1
  return state
}

t.test('bad inputs get a 4xx problem+json and change nothing', async (t) => {
  const plane = await startPlane(t, { bodyLimit: 16 * 1024, limits: { tokensPerLeak: 5 } })
  const seeded = await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: 'seed-token-abcdefgh-123' }] })
  t.equal(seeded.statusCode, 201)
  const db = storeSql(t, plane.store)
  const before = await storeState(plane, db)

  const tok = (n: number): { value: string }[] => Array.from({ length: n }, (_, i) => ({ value: `token-number-${i}-abcdefgh` }))
  // [label, method, url, body (string = raw), expected status, expected code]
  const table: [string, string, string, unknown, number, string][] = [
    ['no body', 'POST', '/v1/leaks', undefined, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['not JSON', 'POST', '/v1/leaks', '{"tokens": [', 400, 'LEAKGATE_ERR_BAD_REQUEST'],
    ['an array body', 'POST', '/v1/leaks', [], 400, 'LEAKGATE_ERR_VALIDATION'],
    ['tokens missing', 'POST', '/v1/leaks', { title: 'x' }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['tokens empty', 'POST', '/v1/leaks', { tokens: [] }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['tokens not an array', 'POST', '/v1/leaks', { tokens: 'abc' }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['token value a number', 'POST', '/v1/leaks', { tokens: [{ value: 12345 }] }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['token value empty', 'POST', '/v1/leaks', { tokens: [{ value: '' }] }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['token with neither', 'POST', '/v1/leaks', { tokens: [{}] }, 400, 'LEAKGATE_ERR_BAD_REQUEST'],
    ['token with both', 'POST', '/v1/leaks', { tokens: [{ value: 'abcdefghijkl', sha256: GOOD_HASH }] }, 400, 'LEAKGATE_ERR_BAD_REQUEST'],
    ['unknown top-level field', 'POST', '/v1/leaks', { tokens: [{ sha256: GOOD_HASH }], secret: 'x' }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['unknown token field', 'POST', '/v1/leaks', { tokens: [{ sha256: GOOD_HASH, token: 'x' }] }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['unknown location field', 'POST', '/v1/leaks', { tokens: [{ sha256: GOOD_HASH }], location: { file: 'a' } }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['sha256 too short', 'POST', '/v1/leaks', { tokens: [{ sha256: 'abc' }] }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['sha256 not hex', 'POST', '/v1/leaks', { tokens: [{ sha256: 'g'.repeat(64) }] }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['sha256 too long', 'POST', '/v1/leaks', { tokens: [{ sha256: 'a'.repeat(65) }] }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['a whole token as preview', 'POST', '/v1/leaks', { tokens: [{ sha256: GOOD_HASH, preview: 'ghp_abcdefgh' }] }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['too many tokens', 'POST', '/v1/leaks', { tokens: tok(6) }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['bad risk', 'POST', '/v1/leaks', { tokens: [{ sha256: GOOD_HASH }], risk: 'extreme' }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['bad action', 'POST', '/v1/leaks', { tokens: [{ sha256: GOOD_HASH }], action: 'allow' }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['bad source', 'POST', '/v1/leaks', { tokens: [{ sha256: GOOD_HASH }], source: 'Git Hub!' }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['title too long', 'POST', '/v1/leaks', { tokens: [{ sha256: GOOD_HASH }], title: 'x'.repeat(201) }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['title with a NUL', 'POST', '/v1/leaks', { tokens: [{ sha256: GOOD_HASH }], title: 'a\u0000b' }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['title with a newline', 'POST', '/v1/leaks', { tokens: [{ sha256: GOOD_HASH }], title: 'a\nb' }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['title with a bidi override', 'POST', '/v1/leaks', { tokens: [{ sha256: GOOD_HASH }], title: 'admin\u202Etxt.exe' }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['title with a lone surrogate', 'POST', '/v1/leaks', '{"tokens":[{"sha256":"' + GOOD_HASH + '"}],"title":"a\\ud800b"}', 400, 'LEAKGATE_ERR_VALIDATION'],
    ['token value with a lone surrogate', 'POST', '/v1/leaks', '{"tokens":[{"value":"abcdef\\udc00ghijkl"}]}', 400, 'LEAKGATE_ERR_VALIDATION'],
    ['comment with a BOM', 'POST', '/v1/leaks', { tokens: [{ sha256: GOOD_HASH }], comment: '\uFEFFhello' }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['line not an integer', 'POST', '/v1/leaks', { tokens: [{ sha256: GOOD_HASH }], location: { line: '3' } }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['title repeating the raw token', 'POST', '/v1/leaks', { tokens: [{ value: 'ghp_secretsecretsecret' }], title: 'found ghp_secretsecretsecret' }, 400, 'LEAKGATE_ERR_BAD_REQUEST'],
    ['oversized body', 'POST', '/v1/leaks', { tokens: [{ sha256: GOOD_HASH }], comment: 'x'.repeat(20_000) }, 413, 'LEAKGATE_ERR_BODY_TOO_LARGE'],
    ['PATCH with nothing to decide', 'PATCH', '/v1/leaks/1', {}, 400, 'LEAKGATE_ERR_BAD_REQUEST'],
    ['PATCH unknown field', 'PATCH', '/v1/leaks/1', { action: 'block', owner: 'me' }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['PATCH bad status', 'PATCH', '/v1/leaks/1', { status: 'deleted' }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['PATCH action as a number', 'PATCH', '/v1/leaks/1', { action: 1 }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['PATCH id not a number', 'PATCH', '/v1/leaks/abc', { action: 'block' }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['PATCH id zero', 'PATCH', '/v1/leaks/0', { action: 'block' }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['PATCH id too large', 'PATCH', '/v1/leaks/99999999999', { action: 'block' }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['PATCH missing leak', 'PATCH', '/v1/leaks/42', { action: 'block' }, 404, 'LEAKGATE_ERR_NOT_FOUND'],
    ['list: unknown query field', 'GET', '/v1/leaks?colour=red', undefined, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['list: limit too large', 'GET', '/v1/leaks?limit=201', undefined, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['list: bad cursor', 'GET', '/v1/leaks?cursor=bm9wZQ', undefined, 400, 'LEAKGATE_ERR_BAD_REQUEST'],
    ['changes: since missing', 'GET', '/v1/sync/changes', undefined, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['changes: since negative', 'GET', '/v1/sync/changes?since=-1', undefined, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['changes: wait too long', 'GET', '/v1/sync/changes?since=0&wait=31', undefined, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['sightings: bad time', 'POST', '/v1/sightings', { nodeId: 'edge-1', sightings: [{ leakId: 1, at: 'yesterday' }] }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['sightings: unknown field', 'POST', '/v1/sightings', { nodeId: 'edge-1', sightings: [{ leakId: 1, at: '2026-11-28T10:00:00Z', token: 'x' }] }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['sightings: bad node id', 'POST', '/v1/sightings', { nodeId: '../etc', sightings: [] }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['heartbeat: revision a string', 'POST', '/v1/nodes/heartbeat', { nodeId: 'edge-1', revision: '4' }, 400, 'LEAKGATE_ERR_VALIDATION'],
    ['heartbeat: unknown field', 'POST', '/v1/nodes/heartbeat', { nodeId: 'edge-1', cpu: 3 }, 400, 'LEAKGATE_ERR_VALIDATION'],
  ]
  for (const [label, method, url, body, status, code] of table) {
    const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' }
    const res = await plane.app.inject({
      method: method as 'POST',
      url,
      headers: { authorization: `Bearer ${plane.keys.admin}`, ...headers },
      ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) }),
    })
    t.equal(res.statusCode, status, `${label}: status (${res.body.slice(0, 200)})`)
    t.match(res.headers['content-type'], /^application\/problem\+json/, `${label}: problem+json`)
    const problem = res.json()
    t.equal(problem.code, code, `${label}: code`)
    t.equal(problem.status, status)
    t.match(problem.type, /^https:\/\/leakgate\.dev\/problems\//)
    t.ok(typeof problem.detail === 'string' && problem.detail.length > 10, `${label}: a detail (${problem.detail})`)
    t.notOk(problem.detail.includes('ghp_secretsecretsecret'), `${label}: the detail does not echo a token`)
    t.same(await storeState(plane, db), before, `${label}: nothing changed`)
  }

  const form = await plane.app.inject({
    method: 'POST', url: '/v1/leaks', headers: { authorization: `Bearer ${plane.keys.admin}`, 'content-type': 'text/plain' }, payload: 'tokens=x',
  })
  t.equal(form.statusCode, 415, form.body)
  t.equal(form.json().code, 'LEAKGATE_ERR_UNSUPPORTED_MEDIA_TYPE')
  t.same(await storeState(plane, db), before)

})

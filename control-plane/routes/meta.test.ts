import t from 'tap'
import { startPlane } from '../test/harness.js'

interface Meta { risks: string[]; statuses: string[]; actions: string[]; sorts: string[] }

t.test('/v1/meta lists the values the API accepts, to every role', async (t) => {
  const plane = await startPlane(t)
  t.equal((await plane.call('GET', '/v1/meta')).statusCode, 401, 'a key is needed')
  const answers = await Promise.all([plane.keys.admin, plane.keys.analyst, plane.keys.node].map((key) => plane.call('GET', '/v1/meta', key)))
  t.same(answers.map((a) => a.statusCode), [200, 200, 200])
  const meta = answers[0]!.json<Meta>()
  t.same(meta, { risks: ['low', 'medium', 'high', 'critical'], statuses: ['open', 'closed', 'false_positive'], actions: ['block', 'monitor'], sorts: ['createdAt', 'updatedAt', 'risk', 'hits', 'lastSeenAt', 'title'] })
  for (const a of answers) t.same(a.json(), meta)

  // Each listed value is one the list accepts as a filter or sort, and an unlisted one is refused.
  const filter = (query: string): Promise<number> => plane.call('GET', `/v1/leaks?${query}`, plane.keys.analyst).then((r) => r.statusCode)
  for (const risk of meta.risks) t.equal(await filter(`risk=${risk}`), 200, `risk ${risk}`)
  for (const status of meta.statuses) t.equal(await filter(`status=${status}`), 200, `status ${status}`)
  for (const action of meta.actions) t.equal(await filter(`action=${action}`), 200, `action ${action}`)
  for (const sort of meta.sorts) t.equal(await filter(`sort=${sort}`), 200, `sort ${sort}`)
  t.equal(await filter('risk=severe'), 400)
  t.equal(await filter('status=archived'), 400)
  t.equal(await filter('action=allow'), 400)
  t.equal(await filter('sort=size'), 400)

  // And a leak can be given each listed risk and action, and moved to each listed status.
  const created = await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ sha256: 'ab'.repeat(32) }] })
  t.equal(created.statusCode, 201)
  const id = created.json<{ id: number }>().id
  const patch = (body: object): Promise<number> => plane.call('PATCH', `/v1/leaks/${id}`, plane.keys.admin, body).then((r) => r.statusCode)
  for (const risk of meta.risks) t.equal(await patch({ risk }), 200, `patch risk ${risk}`)
  for (const action of meta.actions) t.equal(await patch({ action }), 200, `patch action ${action}`)
  for (const status of meta.statuses) t.equal(await patch({ status }), 200, `patch status ${status}`)
})

t.test('/v1/meta is in the OpenAPI document with its answer shape', async (t) => {
  const plane = await startPlane(t)
  const doc = (await plane.call('GET', '/docs/json')).json<{ paths: Record<string, { get?: { responses?: Record<string, { content?: Record<string, { schema?: { required?: string[] } }> }> } }> }>()
  const schema = doc.paths['/v1/meta']?.get?.responses?.['200']?.content?.['application/json']?.schema
  t.same(schema?.required, ['risks', 'statuses', 'actions', 'sorts'])
})

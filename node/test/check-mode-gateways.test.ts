/**
 * Envoy's ext_authz (HTTP service), Traefik's ForwardAuth and a Kong pre-function cannot run here: each
 * is tested by the request shape its documentation gives, built from the shipped deploy/ file (which
 * headers Envoy's `allowed_headers` lets through, Traefik's address and X-Forwarded-* set, the headers
 * Kong's Lua sets), sent to a real node in check mode. The answer is then read as the gateway reads it:
 * 2xx allows (with the headers the file copies upstream), anything else is what the client gets.
 */
import { readFileSync } from 'node:fs'
import t from 'tap'
import { Agent, request } from 'undici'
import { parse } from 'yaml'
import { indexOf, type Answer, type Teardown } from './helpers.js'
import { startCheckNode, tokenMaker } from './check-mode-helpers.js'

const token = tokenMaker(0x6761)
const BLOCKED = token('sk_live_')
const MONITORED = token('sk_live_')
const CLEAN = token('sk_live_')
const planted = [{ token: BLOCKED, action: 'block' as const, leakId: 21 }, { token: MONITORED, action: 'monitor' as const, leakId: 22 }]

const deploy = (path: string): string => readFileSync(new URL(`../../deploy/${path}`, import.meta.url), 'utf8')

/** What the client sent the gateway. */
interface ClientRequest {
  method: string
  path: string
  headers: Record<string, string>
  body?: string
}

/** What the check request asked the node, and what the gateway does with the answer. */
interface Outcome extends Answer {
  /** The headers the gateway copies onto the upstream request (allowed only). */
  upstream: Record<string, string>
}

function sender(t: Teardown): (url: string, method: string, headers: Record<string, string>, body?: string) => Promise<Answer> {
  const agent = new Agent({ connections: 2 })
  t.teardown(() => agent.close())
  return async (url, method, headers, body) => {
    const res = await request(url, { dispatcher: agent, method: method as 'GET', headers, body: body ?? null })
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
  }
}

// ---- Envoy ---------------------------------------------------------------------------------------

interface StringMatcher { exact?: string; prefix?: string; suffix?: string; contains?: string; safe_regex?: { regex: string }; ignore_case?: boolean }

function matches(m: StringMatcher, name: string): boolean {
  const v = m.ignore_case === true ? name.toLowerCase() : name
  const low = (s: string): string => (m.ignore_case === true ? s.toLowerCase() : s)
  if (m.exact !== undefined) return v === low(m.exact)
  if (m.prefix !== undefined) return v.startsWith(low(m.prefix))
  if (m.suffix !== undefined) return v.endsWith(low(m.suffix))
  if (m.contains !== undefined) return v.includes(low(m.contains))
  if (m.safe_regex !== undefined) return new RegExp(`^(?:${m.safe_regex.regex})$`).test(name)
  return false
}

/** The parts of the ext_authz filter's config the check request depends on. */
interface EnvoyAuthz {
  failure_mode_allow?: boolean
  allowed_headers: { patterns: StringMatcher[] }
  with_request_body: { max_request_bytes: number }
  http_service: { path_prefix?: string; authorization_response: { allowed_upstream_headers: { patterns: StringMatcher[] } } }
}

interface EnvoyFilter {
  name: string
  typed_config: EnvoyAuthz & { mutations?: { request_mutations?: Array<{ remove: string }> } }
}

/** The ext_authz filter of the shipped Envoy config, and the headers the header_mutation before it removes. */
function envoyConfig(): { authz: EnvoyAuthz; removed: string[] } {
  const doc = parse(deploy('envoy/ext-authz.yaml')) as { static_resources: { listeners: Array<{ filter_chains: Array<{ filters: Array<{ typed_config: { http_filters: EnvoyFilter[] } }> }> }> } }
  const filters = doc.static_resources.listeners[0]?.filter_chains[0]?.filters[0]?.typed_config.http_filters ?? []
  const authz = filters.find((f) => f.name === 'envoy.filters.http.ext_authz')?.typed_config
  if (authz === undefined) throw new Error('no ext_authz filter in deploy/envoy/ext-authz.yaml')
  const mutation = filters.find((f) => f.name === 'envoy.filters.http.header_mutation')?.typed_config
  const removed = (mutation?.mutations?.request_mutations ?? []).map((m) => m.remove)
  return { authz, removed }
}

t.test('Envoy ext_authz HTTP service: the check request its config makes', async (t) => {
  const { node, url } = await startCheckNode(t, { deps: { index: indexOf(planted) } })
  const send = sender(t)
  const { authz, removed } = envoyConfig()
  t.equal(authz.failure_mode_allow, false, 'fails closed')
  t.notOk(authz.http_service.path_prefix, 'no path prefix: sightings name the API\'s own routes')
  const allowed = authz.allowed_headers.patterns
  const upstreamAllowed = authz.http_service.authorization_response.allowed_upstream_headers.patterns
  const maxBody = authz.with_request_body.max_request_bytes

  async function viaEnvoy(c: ClientRequest, pathPrefix = ''): Promise<Outcome> {
    // Envoy's check request: the original method and :path (query included, after path_prefix), Host,
    // Authorization, Content-Length and the allowed headers, the body up to max_request_bytes.
    const headers: Record<string, string> = { host: 'api.test' }
    for (const [name, value] of Object.entries(c.headers)) {
      const n = name.toLowerCase()
      if (removed.includes(n)) continue
      if (n === 'authorization' || allowed.some((m) => matches(m, n))) headers[n] = value
    }
    const body = c.body !== undefined && Buffer.byteLength(c.body) <= maxBody ? c.body : undefined
    const answer = await send(`${url}${pathPrefix}${c.path}`, c.method, headers, body)
    const upstream: Record<string, string> = {}
    if (answer.status === 200) {
      for (const [name, value] of Object.entries(answer.headers)) if (upstreamAllowed.some((m) => matches(m, name)) && typeof value === 'string') upstream[name] = value
    }
    return { ...answer, upstream }
  }

  for (const [where, c] of [
    ['Authorization', { method: 'GET', path: '/v1/charges', headers: { authorization: `Bearer ${BLOCKED}` } }],
    ['X-API-Key', { method: 'GET', path: '/v1/charges', headers: { 'x-api-key': BLOCKED } }],
    ['query', { method: 'GET', path: `/v1/charges?limit=3&api_key=${BLOCKED}`, headers: {} }],
    ['JSON body (with_request_body)', { method: 'POST', path: '/v1/charges', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ amount: 5, api_key: BLOCKED }) }],
    ['form body (with_request_body)', { method: 'POST', path: '/v1/charges', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `amount=5&access_token=${BLOCKED}` }],
  ] as const) {
    const r = await viaEnvoy(c)
    t.equal(r.status, 403, `${where}: denied`)
    t.equal(r.headers['content-type'], 'application/problem+json', `${where}: the client gets the node's problem+json`)
    t.equal(JSON.parse(r.text).leakId, 21)
  }
  const prefixed = await viaEnvoy({ method: 'GET', path: `/v1/charges?api_key=${BLOCKED}`, headers: {} }, '/leakgate')
  t.equal(prefixed.status, 403, 'with a path_prefix set anyway, the query is still checked')

  const monitored = await viaEnvoy({ method: 'PUT', path: '/v1/charges/7', headers: { authorization: `Bearer ${MONITORED}`, 'leakgate-verdict': 'spoofed' } })
  t.equal(monitored.status, 200)
  t.same(monitored.upstream, { 'leakgate-verdict': 'monitor', 'leakgate-leak-id': '22' }, 'allowed_upstream_headers copies the node\'s two headers')

  const clean = await viaEnvoy({ method: 'GET', path: `/v1/charges?api_key=${CLEAN}`, headers: { authorization: `Bearer ${CLEAN}`, 'leakgate-verdict': 'monitor' } })
  t.equal(clean.status, 200)
  t.same(clean.upstream, {}, 'nothing copied for a clean request')
  t.equal(clean.text, '', 'an allow has no body')

  const sightings = node.sightings.take(100)
  t.same(sightings.at(-1) && [sightings.at(-1)?.method, sightings.at(-1)?.route, sightings.at(-1)?.host], ['PUT', '/v1/charges/:id', 'api.test'], 'the original method, route and host')
})

// ---- Traefik -------------------------------------------------------------------------------------

t.test('Traefik ForwardAuth: the check request its config makes', async (t) => {
  const { url } = await startCheckNode(t, { deps: { index: indexOf(planted) } })
  const send = sender(t)
  const fa = parse(deploy('traefik/forward-auth.yaml')).http.middlewares.leakgate.forwardAuth
  t.equal(fa.trustForwardHeader, false, 'Traefik writes X-Forwarded-* itself')
  const address = new URL(fa.address as string)
  const goRegex = String(fa.authResponseHeadersRegex)
  const copied = new RegExp(goRegex.replace('(?i)', ''), goRegex.startsWith('(?i)') ? 'i' : '')

  async function viaTraefik(c: ClientRequest): Promise<Outcome> {
    // Traefik: GET to the address, the client's headers as sent, its own X-Forwarded-* over them,
    // the body with forwardBody up to maxBodySize.
    const headers: Record<string, string> = { ...c.headers, host: address.host, 'x-forwarded-method': c.method, 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.test', 'x-forwarded-uri': c.path, 'x-forwarded-for': '203.0.113.9' }
    const body = fa.forwardBody === true && c.body !== undefined && Buffer.byteLength(c.body) <= fa.maxBodySize ? c.body : undefined
    const answer = await send(`${url}${address.pathname}`, 'GET', headers, body)
    const upstream: Record<string, string> = {}
    if (answer.status >= 200 && answer.status < 300) {
      for (const [name, value] of Object.entries(answer.headers)) if (copied.test(name) && typeof value === 'string') upstream[name] = value
    }
    return { ...answer, upstream }
  }

  for (const [where, c] of [
    ['Authorization', { method: 'GET', path: '/v1/charges', headers: { authorization: `Bearer ${BLOCKED}` } }],
    ['query, from X-Forwarded-Uri', { method: 'GET', path: `/v1/charges?token=${BLOCKED}`, headers: {} }],
    ['JSON body (forwardBody), method from X-Forwarded-Method', { method: 'POST', path: '/v1/charges', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: { api_key: BLOCKED } }) }],
    ['a client\'s own X-Original-URI naming a clean target', { method: 'GET', path: `/v1/charges?api_key=${BLOCKED}`, headers: { 'x-original-uri': '/v1/clean' } }],
  ] as const) {
    const r = await viaTraefik(c)
    t.equal(r.status, 403, `${where}: denied`)
    t.equal(r.headers['content-type'], 'application/problem+json')
  }

  const monitored = await viaTraefik({ method: 'GET', path: '/v1/charges', headers: { 'x-api-key': MONITORED } })
  t.equal(monitored.status, 200)
  t.same(monitored.upstream, { 'leakgate-verdict': 'monitor', 'leakgate-leak-id': '22' }, 'authResponseHeadersRegex copies the node\'s two headers')
  t.ok(copied.test('Leakgate_Verdict'), 'and strips a client\'s own in any spelling first')

  const clean = await viaTraefik({ method: 'GET', path: `/v1/charges?api_key=${CLEAN}`, headers: { authorization: `Bearer ${CLEAN}` } })
  t.equal(clean.status, 200)
  t.same(clean.upstream, {})
})

// ---- Kong ----------------------------------------------------------------------------------------

t.test('Kong pre-function: the check request its Lua sends', async (t) => {
  const { url } = await startCheckNode(t, { deps: { index: indexOf(planted) } })
  const send = sender(t)
  const plugin = parse(deploy('kong/kong.yaml')).services[0].plugins.find((p: { name: string }) => p.name === 'pre-function')
  const lua = String(plugin.config.access[0])
  // The shape below is the one the Lua writes: keep the two in step.
  for (const line of ['headers["x-original-uri"] = kong.request.get_raw_path()', 'headers["x-original-method"] = kong.request.get_method()', 'kong.service.request.clear_header(name)', 'kong.service.request.set_header("Leakgate-Verdict", verdict)']) {
    t.ok(lua.includes(line), `the recipe's Lua has: ${line}`)
  }
  const node = new URL(/local NODE = "([^"]+)"/.exec(lua)?.[1] ?? '')

  async function viaKong(c: ClientRequest): Promise<Answer> {
    const headers: Record<string, string> = { ...c.headers, 'x-original-uri': c.path, 'x-original-method': c.method, 'x-original-host': 'api.test', 'x-forwarded-for': '203.0.113.9' }
    return send(`${url}${node.pathname}`, c.body === undefined ? 'GET' : 'POST', headers, c.body)
  }

  t.equal((await viaKong({ method: 'GET', path: '/v1/x', headers: { authorization: `Basic ${Buffer.from(`user:${BLOCKED}`).toString('base64')}` } })).status, 403, 'Basic password denied')
  t.equal((await viaKong({ method: 'DELETE', path: `/v1/x?access_token=${BLOCKED}`, headers: {} })).status, 403, 'query denied')
  t.equal((await viaKong({ method: 'PATCH', path: '/v1/x', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `key=${BLOCKED}` })).status, 403, 'form body denied')
  const monitored = await viaKong({ method: 'GET', path: '/v1/x', headers: { 'api-key': MONITORED } })
  t.equal(monitored.status, 200)
  t.equal(monitored.headers['leakgate-verdict'], 'monitor')
  t.equal(monitored.headers['leakgate-leak-id'], '22')
  const clean = await viaKong({ method: 'GET', path: '/v1/x', headers: { authorization: `Bearer ${CLEAN}` } })
  t.equal(clean.status, 200)
  t.equal(clean.headers['leakgate-verdict'], undefined)
})

/**
 * A raw token sent in a request body never appears in the node's log, at any log level, whatever
 * becomes of the request: blocked, monitored, refused past the check limit, refused for too many
 * credentials, malformed, or forwarded to an upstream that fails.
 */
import t from 'tap'
import { indexOf, pooledSend, startNode, startUpstream } from './helpers.js'

const BLOCKED = 'ghp_LoggedBodyBlocked00000000000000000001'
const MONITORED = 'ghp_LoggedBodyMonitored000000000000000001'
const CLEAN = 'ghp_LoggedBodyCleanToken0000000000000001'
const planted = [{ token: BLOCKED, action: 'block' as const, leakId: 1 }, { token: MONITORED, action: 'monitor' as const, leakId: 2 }]
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }
const JSON_TYPE = { 'content-type': 'application/json' }

for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal']) {
  t.test(`log level ${level}: no body token in the log`, async (t) => {
    const upstream = await startUpstream(t)
    const { url, logs } = await startNode(t, { upstream: upstream.url, env: { LEAKGATE_LOG_LEVEL: level, LEAKGATE_BODY_CHECK_LIMIT: '16384' }, deps: { index: indexOf(planted) } })
    const send = pooledSend(t)
    const statuses = [
      await send(`${url}/a`, { headers: FORM, body: `access_token=${BLOCKED}` }),
      await send(`${url}/b`, { headers: JSON_TYPE, body: JSON.stringify({ api_key: MONITORED, other: CLEAN }) }),
      await send(`${url}/c`, { headers: FORM, body: `token=${CLEAN}&pad=${'p'.repeat(20_000)}` }),
      await send(`${url}/d`, { headers: JSON_TYPE, body: JSON.stringify({ key: [CLEAN, ...Array.from({ length: 1100 }, (_, i) => `k${i}`)] }) }),
      await send(`${url}/e`, { headers: JSON_TYPE, body: `{"token":"${CLEAN}\\q", broken` }),
      await send(`${url}/f`, { headers: { ...JSON_TYPE, 'content-encoding': 'gzip' }, body: `{"token":"${CLEAN}"}` }),
    ].map((r) => r.status)
    t.same(statuses, [403, 200, 413, 400, 200, 200])
    await upstream.close()
    t.equal((await send(`${url}/g`, { headers: FORM, body: `access_token=${CLEAN}` })).status, 502, 'the upstream is gone')
    if (level === 'debug' || level === 'trace') t.match(logs.text, /request completed/, 'the log has lines to look at')
    if (level === 'info') t.match(logs.text, /blocked a request/)
    for (const token of [BLOCKED, MONITORED, CLEAN]) t.notOk(logs.text.includes(token), `${token} is not in the log`)
    // Not even in part: the longest piece a preview could hold is 4 characters at each end.
    for (const token of [BLOCKED, MONITORED, CLEAN]) t.notOk(logs.text.includes(token.slice(4, -4)), 'nor its middle')
  })
}

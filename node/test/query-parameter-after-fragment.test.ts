/**
 * Security regression: in a request target such as `/x?a=1#&api_key=TOKEN`, the node stopped reading
 * the query at `#` (a fragment, which a client never sends), while upstreams that take the raw target
 * read `api_key` as a parameter: the leaked token reached them unchecked. Raw socket, so the request
 * line is exactly this; the real node in front of a small upstream, on port 0.
 */
import t from 'tap'
import { rawRequestsBlocked } from './helpers.js'

const TOKEN = 'ghp_ReviewBypassToken00000000000000000001'

t.test('a leaked token in a query parameter after # is blocked, and the upstream sees none', async (t) => {
  await rawRequestsBlocked(t, [{ token: TOKEN, action: 'block', leakId: 7 }], [['a parameter after #', `GET /x?a=1#&api_key=${TOKEN} HTTP/1.1`]])
})

/**
 * Security regression: a leaked token in `X_API_KEY` (underscores where the node looked for
 * `X-API-Key`) was not checked, yet CGI, WSGI and Rack stacks read both spellings as HTTP_X_API_KEY,
 * so the API took it as its key. Raw socket, so the header name is exactly this; the real node in
 * front of a small upstream, on port 0.
 */
import t from 'tap'
import { rawRequestsBlocked } from './helpers.js'

const TOKEN = 'ghp_ReviewBypassToken00000000000000000001'

t.test('a leaked token in X_API_KEY is blocked, and the upstream sees none', async (t) => {
  await rawRequestsBlocked(t, [{ token: TOKEN, action: 'block', leakId: 7 }], [['X_API_KEY', `GET /x HTTP/1.1\r\nX_API_KEY: ${TOKEN}`]])
})

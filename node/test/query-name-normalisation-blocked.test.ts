/**
 * Security regression: query names as frameworks normalise them got past the node, which matched names
 * exactly: PHP turns `.`, space, `+`, `%20` and an unclosed `[` into `_` and drops leading spaces; Rails,
 * qs and PHP read `api_key[]`, `api_key[0]`, `api_key%5B%5D` as arrays of `api_key`; ASP.NET Core ignores
 * case; Rack 2 splits on `;`; Laravel trims values.
 */
import t from 'tap'
import { spellingsCaught, type Spelling } from './spellings.js'

const query = (q: string): Spelling => [q.replace('%s', 'T'), (T) => `GET /x?${q.replace('%s', T)} HTTP/1.1`]
const cases: Spelling[] = [
  'api.key=%s', 'api+key=%s', 'api%20key=%s', '+api_key=%s', 'api[key=%s', 'api_key[]=%s', 'api_key[0]=%s', 'api_key%5B%5D=%s',
  'API_KEY=%s', 'Access_Token=%s', 'a=1;api_key=%s', 'api_key=%20%s%20', 'api_key=+%s+', 'key=x&token[x]=%s',
].map(query)

t.test('a leaked token under a query name frameworks normalise is blocked, a monitored one flagged', async (t) => {
  await spellingsCaught(t, cases)
})

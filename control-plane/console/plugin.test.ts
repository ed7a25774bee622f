import t from 'tap'
import Fastify from 'fastify'
import consolePlugin, { CONSOLE_CSP } from './plugin.js'

async function build(t: Tap) {
  const app = Fastify()
  await app.register(consolePlugin)
  app.get('/v1/thing', async () => ({ ok: true }))
  t.teardown(() => app.close())
  return app
}
type Tap = { teardown: (fn: () => unknown) => void }

t.test('serves the page and its assets with a strict CSP', async (t) => {
  const app = await build(t)
  const page = await app.inject('/')
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /text\/html/)
  t.equal(page.headers['content-security-policy'], CONSOLE_CSP)
  t.equal(page.headers['x-content-type-options'], 'nosniff')
  t.match(page.body, /<script type="module" src="\/assets\/app\.js">/)
  t.notMatch(page.body, /https?:\/\/(?!www\.w3\.org)/, 'the page names no remote origin')

  const app2 = await app.inject('/assets/app.js')
  t.equal(app2.statusCode, 200)
  t.match(app2.headers['content-type'], /text\/javascript/)

  const chart = await app.inject('/assets/vendor/chart.umd.js')
  t.equal(chart.statusCode, 200)
  t.match(chart.body, /Chart/)
})

t.test('answers 304 to a matching If-None-Match', async (t) => {
  const app = await build(t)
  const first = await app.inject('/assets/style.css')
  const etag = String(first.headers.etag)
  const again = await app.inject({ url: '/assets/style.css', headers: { 'if-none-match': etag } })
  t.equal(again.statusCode, 304)
  t.equal(again.body, '')
})

t.test('serves nothing outside its files and leaves other routes alone', async (t) => {
  const app = await build(t)
  for (const url of ['/assets/../plugin.ts', '/assets/%2e%2e/plugin.ts', '/plugin.ts', '/assets/nope.js', '/package.json']) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 404, url)
  }
  t.same((await app.inject('/v1/thing')).json(), { ok: true })
})

t.test('every module the page imports is one of the console\'s own files, served by the plugin', async (t) => {
  const app = await build(t)
  const seen = new Set<string>()
  const queue = ['/assets/app.js']
  while (queue.length > 0) {
    const url = queue.shift()!
    if (seen.has(url)) continue
    seen.add(url)
    const res = await app.inject(url)
    t.equal(res.statusCode, 200, `${url} is served`)
    // Runtime imports only: JSDoc `@import` lines are type annotations the browser never reads.
    for (const m of res.body.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm)) {
      const spec = m[1]!
      t.match(spec, /^\.\/[a-z0-9-]+\.js$/, `${url} imports ${spec} from beside itself (no server code, no package)`)
      queue.push(new URL(spec, `http://console${url}`).pathname)
    }
  }
  t.ok(seen.has('/assets/meta.js') && seen.has('/assets/charts.js'), `followed the imports (${[...seen].join(', ')})`)
})

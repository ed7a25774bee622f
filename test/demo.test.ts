/**
 * The README's run command: `leakgate demo` starts a control plane, a node and a demo upstream, and the
 * curl lines it prints do what it says they do. Ports are 0 here; the demo prints the ones it got.
 */
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { DEMO_TOKENS } from '../demo.js'
import { tempDir } from './support.js'

const cli = fileURLToPath(new URL('../cli.ts', import.meta.url))

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name)
    return statSync(p).isDirectory() ? filesUnder(p) : [p]
  })
}

t.test('leakgate demo: console URL, admin key, and curl lines that block, flag and pass', async (t) => {
  const dataDir = tempDir(t)
  const child = spawn(process.execPath, ['--import', new URL('../scripts/register-ts.js', import.meta.url).href, cli, 'demo'], {
    env: { ...process.env, LEAKGATE_DATA_DIR: dataDir, LEAKGATE_CP_PORT: '0', LEAKGATE_PORT: '0', LEAKGATE_ADMIN_PORT: '0', LEAKGATE_DEMO_UPSTREAM_PORT: '0', LEAKGATE_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (c: Buffer) => (out += c.toString()))
  child.stderr.on('data', (c: Buffer) => (out += c.toString()))
  const exited = new Promise((ok) => child.once('exit', ok))
  t.teardown(async () => {
    child.kill('SIGTERM')
    await exited
  })
  const deadline = Date.now() + 60_000
  while (!out.includes('Ctrl-C stops everything') && Date.now() < deadline && child.exitCode === null) await new Promise((ok) => setTimeout(ok, 100))
  t.match(out, /Console\s+http:\/\/127\.0\.0\.1:\d+\//, out)
  const consoleUrl = /Console\s+(http:\/\/\S+)/.exec(out)![1]!
  const nodeUrl = /Node \(proxy\)\s+(http:\/\/\S+)/.exec(out)![1]!
  const adminKey = /Admin API key\s+(lgk_\w+)/.exec(out)![1]!

  const blocked = await fetch(`${nodeUrl}/v1/orders`, { headers: { authorization: `Bearer ${DEMO_TOKENS.block}` } })
  t.equal(blocked.status, 403)
  t.equal(blocked.headers.get('content-type')?.split(';')[0], 'application/problem+json')
  const flagged = await fetch(`${nodeUrl}/v1/orders`, { headers: { 'x-api-key': DEMO_TOKENS.monitor } })
  t.equal(flagged.status, 200)
  t.equal(((await flagged.json()) as { headersFromLeakgate: Record<string, string> }).headersFromLeakgate['leakgate-verdict'], 'monitor')
  const clean = await fetch(`${nodeUrl}/v1/orders`, { headers: { authorization: 'Bearer a-token-nobody-leaked' } })
  t.equal(clean.status, 200)
  const page = await fetch(consoleUrl)
  t.equal(page.status, 200)
  t.match(await page.text(), /<html/i)
  const leaks = (await (await fetch(`${consoleUrl}v1/leaks`, { headers: { authorization: `Bearer ${adminKey}` } })).json()) as { items: unknown[] }
  t.equal(leaks.items.length, 12, 'a dozen demo leaks')
  const items = leaks.items as Array<{ kind: string | null; source: string; risk: string; status: string; hits: number }>
  t.ok(items.every((l) => l.kind !== null), 'every demo leak has a kind')
  t.ok(new Set(items.map((l) => l.source)).size >= 5, 'from several sources')
  t.same([...new Set(items.map((l) => l.risk))].sort(), ['critical', 'high', 'low', 'medium'], 'at every risk level')
  t.same([...new Set(items.map((l) => l.status))].sort(), ['closed', 'false_positive', 'open'], 'in several states')
  t.ok(items.filter((l) => l.hits > 0).length >= 3, 'some already seen by the node')
  // The requests above logged (at info): the banner comes again once they settle, so it is not lost.
  const printedOnce = out.split('Ctrl-C stops everything').length - 1
  t.equal(printedOnce, 1, 'the banner, once so far')
  const again = Date.now() + 15_000
  while (out.split('Ctrl-C stops everything').length - 1 < 2 && Date.now() < again) await new Promise((ok) => setTimeout(ok, 100))
  t.equal(out.split('Ctrl-C stops everything').length - 1, 2, 'the banner again after the first requests')

  // The demo's tokens are printed on purpose, but must reach no file and no log line.
  for (const file of filesUnder(dataDir)) {
    const bytes = readFileSync(file)
    for (const token of Object.values(DEMO_TOKENS)) t.notOk(bytes.includes(token), `${file} holds no raw token`)
  }
  const logLines = out.split('\n').filter((l) => l.startsWith('{'))
  t.ok(logLines.length > 0, 'the demo logged')
  for (const token of Object.values(DEMO_TOKENS)) t.notOk(logLines.some((l) => l.includes(token)), 'no log line holds a raw token')
})

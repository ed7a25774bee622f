/**
 * The node's and the control plane's /metrics, scraped from the real servers, follow Prometheus's
 * naming rules: `promtool check metrics` accepts them, and no gauge ends in `_total` (a suffix
 * Prometheus keeps for counters; prom-client's defaults had three such gauges).
 */
import { spawnSync } from 'node:child_process'
import t from 'tap'
import { Stack, startDeployment } from '../control-plane/test/console-harness.js'
import { waitFor } from './support.js'

const PROMTOOL = process.env.LEAKGATE_PROMTOOL ?? 'promtool'

const stack = new Stack()
t.teardown(stack.close)

const { node, cp } = await startDeployment(stack)
// One request through the node and one synced index, so histograms and sync gauges have values.
await waitFor('the node to be ready', async () => (await fetch(`${node.adminUrl}/readyz`)).ok)
await (await fetch(`${node.url}/anything`)).arrayBuffer()

async function scrape(url: string): Promise<string> {
  const res = await fetch(url)
  if (!res.ok) throw new Error(`${url} answered ${res.status}`)
  return res.text()
}

/** `name → type` from the `# TYPE` lines of Prometheus text. */
function types(text: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(m[1]!, m[2]!)
  return out
}

/** Why promtool cannot run here, or '' when it can. */
const promtoolMissing = spawnSync(PROMTOOL, ['--version'], { stdio: 'ignore' }).status === 0
  ? ''
  : `${PROMTOOL} not found: install Debian's prometheus package (apt-get install prometheus) or set LEAKGATE_PROMTOOL`

// Besides each part's first metric, those whose shape promtool should see: labelled histograms, build info.
const parts = [
  { name: 'node', url: `${node.adminUrl}/metrics`, own: ['leakgate_node_requests_total', 'leakgate_node_request_duration_seconds', 'leakgate_node_upstream_duration_seconds', 'leakgate_node_requests_in_flight', 'leakgate_node_request_body_bytes_total', 'leakgate_node_response_body_bytes_total', 'leakgate_build_info'] },
  { name: 'control plane', url: `${cp.url}/metrics`, own: ['leakgate_cp_leaks', 'leakgate_cp_http_requests_total', 'leakgate_cp_http_request_duration_seconds', 'leakgate_build_info'] },
]

for (const part of parts) {
  t.test(`${part.name} /metrics: no gauge ends in _total`, async (tt) => {
    const text = await scrape(part.url)
    const seen = types(text)
    for (const name of part.own) tt.ok(seen.has(name), `scraped the ${part.name}'s own metrics (${name})`)
    tt.ok(seen.has('nodejs_active_handles'), 'the per-type handle gauge is kept')
    const bad = [...seen].filter(([name, type]) => type === 'gauge' && name.endsWith('_total')).map(([name]) => name)
    tt.same(bad, [], 'gauges named like counters')
  })

  // Without promtool the check may be skipped on a workstation, never in CI.
  t.test(`${part.name} /metrics passes promtool check metrics`, { skip: process.env.CI ? false : promtoolMissing }, async (tt) => {
    if (promtoolMissing) {
      tt.fail(promtoolMissing)
      return
    }
    const text = await scrape(part.url)
    const run = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' })
    tt.equal(run.status, 0, `promtool check metrics: ${run.stdout}${run.stderr}`.trim())
  })
}

import t from 'tap'
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PROVIDER_TOKENS } from '../corpus/tokens.js'
import { Rng } from '../corpus/random.js'
import { tempDir } from './helpers.js'

const cli = fileURLToPath(new URL('../../../cli.ts', import.meta.url))

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', new URL('../../../scripts/register-ts.js', import.meta.url).href, cli, 'scan', ...args], {
    encoding: 'utf8',
    env: { ...process.env, LEAKGATE_API_KEY: '', LEAKGATE_ADMIN_KEY: '', GITHUB_TOKEN: '' },
    timeout: 120_000,
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

t.test('--list-kinds prints every kind with its severity and rules, as a table or JSON', async (t) => {
  const json = run(['--list-kinds', '--format', 'json'])
  t.equal(json.code, 0, json.stderr)
  const kinds = JSON.parse(json.stdout) as Array<{ kind: string; severity: string; rules: string[] }>
  const pat = kinds.find((k) => k.kind === 'github_pat')
  t.equal(pat?.severity, 'critical')
  t.ok(pat?.rules.includes('github-pat'))
  const table = run(['--list-kinds'])
  t.equal(table.code, 0)
  t.match(table.stdout, /^KIND\s+SEVERITY\s+RULES\s+DESCRIPTION/)
  t.match(table.stdout, /\nstripe_secret_test\s+low\s+stripe-test-key\s/)
})

t.test('findings carry their severity: in JSON, and as SARIF level and security-severity', async (t) => {
  const dir = tempDir(t, 'leakgate-severity-')
  const rng = new Rng(9)
  writeFileSync(join(dir, 'a.env'), `GITHUB_TOKEN=${PROVIDER_TOKENS.githubClassic!(rng).value}\n`)
  const json = run([dir, '--format', 'json', '--quiet', '--jobs', '2'])
  t.equal(json.code, 1, json.stderr)
  const [finding] = JSON.parse(json.stdout) as Array<{ ruleId: string; severity: string }>
  t.equal(finding?.ruleId, 'github-pat')
  t.equal(finding?.severity, 'critical')
  const sarif = JSON.parse(run([dir, '--format', 'sarif', '--quiet']).stdout) as {
    runs: Array<{ tool: { driver: { rules: Array<{ properties: Record<string, string> }> } }; results: Array<{ level: string }> }>
  }
  t.equal(sarif.runs[0]?.results[0]?.level, 'error')
  t.equal(sarif.runs[0]?.tool.driver.rules[0]?.properties['security-severity'], '9.5')
})

t.test('--jobs must be a whole number of 1 or more', async (t) => {
  const r = run(['.', '--jobs', '0'])
  t.equal(r.code, 2)
  t.match(r.stderr, /--jobs must be/)
})

/**
 * `leakgate scan` as a user runs it: the real binary in a child process, exit codes, formats,
 * and no raw secret in any output unless --show-secrets.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PROVIDER_TOKENS } from '../corpus/tokens.js'
import { Rng } from '../corpus/random.js'
import { sha256Hex } from '../findings.js'
import { gitRepo, tempDir, type Teardown } from './helpers.js'

const cli = fileURLToPath(new URL('../../../cli.ts', import.meta.url))

function run(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', new URL('../../../scripts/register-ts.js', import.meta.url).href, cli, 'scan', ...args], {
    encoding: 'utf8',
    env: { ...process.env, LEAKGATE_API_KEY: '', LEAKGATE_ADMIN_KEY: '', GITHUB_TOKEN: '', ...env },
    timeout: 60_000,
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

const rng = new Rng(2026)
const token = PROVIDER_TOKENS.githubClassic!(rng).value
const password = 'Vq7!xR2#pLm9'

function project(t: Teardown): string {
  const dir = tempDir(t, 'leakgate-cli-')
  mkdirSync(join(dir, 'src'))
  writeFileSync(join(dir, 'src/app.py'), `import os\n\nGITHUB_TOKEN = "${token}"\n`)
  writeFileSync(join(dir, '.env'), `DATABASE_URL=postgres://app:${password}@db:5432/app\n`)
  return dir
}

t.test('json: exit 1, findings with hashes and previews, no raw secret anywhere', async (t) => {
  const dir = project(t)
  const r = run([dir, '--format', 'json'])
  t.equal(r.code, 1)
  const findings = JSON.parse(r.stdout) as Array<Record<string, unknown>>
  t.same(findings.map((f) => [f.ruleId, f.file, f.line, f.sha256]).sort(), [
    ['github-pat', 'src/app.py', 3, sha256Hex(token)],
    ['url-password', '.env', 1, sha256Hex(password)],
  ].sort())
  t.notMatch(r.stdout + r.stderr, token)
  t.notMatch(r.stdout + r.stderr, password)
  t.match(r.stderr, /2 findings in 2 files/)
})

t.test('--show-secrets puts the raw value in json and table output', async (t) => {
  const dir = project(t)
  const json = run([dir, '--format', 'json', '--show-secrets'])
  t.ok((JSON.parse(json.stdout) as Array<{ secret?: string }>).some((f) => f.secret === token))
  const table = run([dir, '--format', 'table', '--show-secrets'])
  t.match(table.stdout, token)
  t.match(table.stdout, /^RULE\s+WHERE\s+COMMIT\s+SECRET/)
})

t.test('sarif 2.1.0, never with raw secrets', async (t) => {
  const dir = project(t)
  const r = run([dir, '--format', 'sarif', '--show-secrets'])
  t.equal(r.code, 1)
  const log = JSON.parse(r.stdout) as { version: string; runs: Array<{ tool: { driver: { name: string; rules: Array<{ id: string }> } }; results: Array<{ ruleId: string; locations: Array<{ physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }>; partialFingerprints: Record<string, string> }> }> }
  t.equal(log.version, '2.1.0')
  const run0 = log.runs[0]!
  t.equal(run0.tool.driver.name, 'leakgate')
  t.same(run0.tool.driver.rules.map((x) => x.id).sort(), ['github-pat', 'url-password'])
  const gh = run0.results.find((x) => x.ruleId === 'github-pat')
  t.same(gh?.locations[0]?.physicalLocation.artifactLocation.uri, 'src/app.py')
  t.same(gh?.locations[0]?.physicalLocation.region.startLine, 3)
  t.match(gh?.partialFingerprints['leakgate/v1'], /^[0-9a-f]{32}$/)
  t.notMatch(r.stdout, token)
})

t.test('nothing found: exit 0; .leakgateignore silences a reviewed finding', async (t) => {
  const dir = project(t)
  const first = JSON.parse(run([dir, '--format', 'json']).stdout) as Array<{ fingerprint: string }>
  writeFileSync(join(dir, '.leakgateignore'), first.map((f) => `${f.fingerprint}  # reviewed: test data`).join('\n') + '\n')
  const r = run([dir, '--format', 'json'])
  t.equal(r.code, 0)
  t.same(JSON.parse(r.stdout), [])
})

t.test('.leakgateignore takes the short fingerprint the table shows, in any case; an entry that is not one is warned about', async (t) => {
  const dir = project(t)
  const table = run([dir, '--format', 'table']).stdout
  const shown = [...table.matchAll(/\b([0-9a-f]{12})\s*$/gm)].map((m) => m[1]!)
  t.equal(shown.length, 2, 'the table shows two fingerprints')
  writeFileSync(join(dir, '.leakgateignore'), `${shown[0]!.toUpperCase()}  # reviewed\n${shown[1]}\nnot-a-fingerprint\n`)
  const r = run([dir, '--format', 'json'])
  t.equal(r.code, 0, 'both left out')
  t.same(JSON.parse(r.stdout), [])
  t.match(r.stderr, /warning: .*\.leakgateignore: line 3: "not-a-fingerprint" is not a fingerprint \(12 to 32 hex characters, as a scan prints them\): it leaves nothing out/)
})

t.test('errors exit 2: missing path, bad format, bad rules file (rule id named), --push without a key', async (t) => {
  const dir = project(t)
  t.equal(run([join(dir, 'missing')]).code, 2)
  const fmt = run([dir, '--format', 'xml'])
  t.equal(fmt.code, 2)
  t.match(fmt.stderr, /--format must be table, json or sarif/)
  writeFileSync(join(dir, 'bad.toml'), '[[rules]]\nid = "team-token"\nregex = "tt_(["\n')
  const rules = run([dir, '--rules', join(dir, 'bad.toml')])
  t.equal(rules.code, 2)
  t.match(rules.stderr, /rule team-token: regex: bad regex/)
  const push = run([dir, '--push'])
  t.equal(push.code, 2)
  t.match(push.stderr, /LEAKGATE_API_KEY/)
  t.equal(run(['--unknown-flag', dir]).code, 2)
})

t.test('--history reads a repository\'s past; a URL without --history reads HEAD', async (t) => {
  const root = tempDir(t, 'leakgate-cli-git-')
  const { dir: repo, commit } = gitRepo(root)
  commit('add', { 'app.env': `TOKEN=${token}\n` })
  commit('remove', { 'app.env': 'TOKEN=${TOKEN}\n' })
  t.equal(run([repo, '--format', 'json']).code, 0, 'the working tree is clean')
  const r = run([repo, '--history', '--format', 'json', '--cache-dir', join(root, 'cache')])
  t.equal(r.code, 1)
  const [f] = JSON.parse(r.stdout) as Array<{ sha256: string; inHistoryOnly: boolean; commit: string; branch: string }>
  t.equal(f?.sha256, sha256Hex(token))
  t.equal(f?.inHistoryOnly, true)
  t.equal(f?.branch, 'main')
  t.match(f?.commit, /^[0-9a-f]{40}$/)
  t.equal(run([`file://${repo}`, '--format', 'json', '--cache-dir', join(root, 'cache')]).code, 0)
})

t.test("a repository's own .leakgateignore is honoured in history scans", async (t) => {
  const root = tempDir(t, 'leakgate-cli-ignore-')
  const { dir: repo, commit } = gitRepo(root)
  commit('fixture', { 'fixture.env': `TOKEN=${token}\n` })
  const [f] = JSON.parse(run([repo, '--history', '--format', 'json', '--cache-dir', join(root, 'cache')]).stdout) as Array<{ fingerprint: string }>
  commit('ignore the fixture', { '.leakgateignore': `${f?.fingerprint}  # reviewed: a revoked token kept as a fixture\n` })
  const r = run([repo, '--history', '--format', 'json', '--cache-dir', join(root, 'cache')])
  t.equal(r.code, 0)
  t.same(JSON.parse(r.stdout), [])
})

t.test('options from --config (YAML) and the environment; flags win', async (t) => {
  const dir = project(t)
  const acme = `acme_live_${new Rng(5).chars(32, '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz')}`
  writeFileSync(join(dir, 'acme.env'), `ACME_KEY=${acme}\n`)
  const rules = fileURLToPath(new URL('../../../config/rules.toml', import.meta.url))
  const config = join(dir, 'scan.yaml')
  writeFileSync(config, `rules: ${rules}\nmaxFileSize: 1000000\n`)
  const ids = (r: { stdout: string }): string[] => (JSON.parse(r.stdout) as Array<{ ruleId: string }>).map((f) => f.ruleId).sort()
  t.ok(ids(run([dir, '--format', 'json', '--config', config])).includes('acme-live-key'), 'rules from the config file')
  t.ok(ids(run([dir, '--format', 'json'], { LEAKGATE_RULES: rules })).includes('acme-live-key'), 'rules from LEAKGATE_RULES')
  t.notOk(ids(run([dir, '--format', 'json', '--config', config, '--max-file-size', '10'])).length > 0, '--max-file-size 10 wins over the file: every file skipped')
  writeFileSync(config, 'nope: 1\n')
  const bad = run([dir, '--config', config])
  t.equal(bad.code, 2)
  t.match(bad.stderr, /unknown option "nope"/)
})

t.test('--rules with a gitleaks configuration: its rules added to the built-in ones, disabledRules, a skipped path-only rule on stderr', async (t) => {
  const dir = project(t)
  const corp = `corp_${new Rng(5).chars(24, '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz')}`
  writeFileSync(join(dir, 'src/corp.py'), `CORP_KEY = "${corp}"\n`)
  const rulesFile = join(dir, 'gitleaks.toml')
  writeFileSync(rulesFile, `title = "team"\n\n[[rules]]\nid = "corp-key"\nregex = '''\\b(corp_[0-9A-Za-z]{24})\\b'''\nkeywords = ["corp_"]\n\n[[rules]]\nid = "p12-file"\npath = '''\\.p12$'''\n`)
  const ids = (r: { stdout: string }): string[] => (JSON.parse(r.stdout) as Array<{ ruleId: string }>).map((f) => f.ruleId).sort()
  const added = run([dir, '--format', 'json', '--rules', rulesFile])
  t.same(ids(added), ['corp-key', 'github-pat', 'url-password'])
  t.match(added.stderr, /warning: rule p12-file: "path"-only rules report files, not tokens; not supported, skipped/)
  t.notMatch(added.stdout + added.stderr, corp)
  writeFileSync(rulesFile, `[extend]\ndisabledRules = ["github-pat"]\n\n[[rules]]\nid = "corp-key"\nregex = '''\\b(corp_[0-9A-Za-z]{24})\\b'''\n`)
  t.same(ids(run([dir, '--format', 'json', '--rules', rulesFile])), ['corp-key', 'url-password'])
  writeFileSync(rulesFile, `[[rules]]\nid = "slow"\nregex = '''(?<=a)b'''\n[[rules.required]]\nid = "x"\n`)
  const refused = run([dir, '--rules', rulesFile])
  t.equal(refused.code, 2)
  t.match(refused.stderr, /rule slow: \[\[rules\.required\]\] \(composite rules\) is not supported/)
  t.match(refused.stderr, /rule slow: regex: bad regex/)
})

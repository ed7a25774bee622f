import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { ALPHA, Rng } from '../detect/corpus/random.js'
import { sha256Hex } from '../../protocol/token-hash.js'
import { generateKey } from '../store/keys.js'
import { main } from '../check-cli.js'
import { runMain, startPlane, type TestPlane } from './harness.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const rng = new Rng(4151)
const token = (): string => `lgtest_${rng.chars(40, ALPHA.base62)}`

interface Run { code: number | null; out: string; err: string }

/** Runs the real `leakgate check` with `args`, `env` (nothing else of this process's LEAKGATE_ variables) and `stdin`. */
async function check(args: string[], env: Record<string, string>, stdin = ''): Promise<Run> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LEAKGATE_')))
  const child = spawn(process.execPath, ['--import', './scripts/register-ts.js', 'cli.ts', 'check', ...args], {
    cwd: ROOT, env: { ...base, ...env }, stdio: ['pipe', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')))
  child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')))
  child.stdin.end(stdin)
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)))
  return { code, out, err }
}

async function listening(t: Test, overrides: Record<string, unknown> = {}): Promise<{ plane: TestPlane; url: string; checker: string }> {
  const plane = await startPlane(t, overrides)
  const url = await plane.app.listen({ port: 0, host: '127.0.0.1' })
  const checker = generateKey()
  await plane.store.keys.add(checker, 'checker')
  return { plane, url, checker }
}

async function addLeak(plane: TestPlane, value: string): Promise<void> {
  const res = await plane.call('POST', '/v1/leaks', plane.keys.admin, { title: 'test leak', tokens: [{ value }] })
  if (res.statusCode !== 201) throw new Error(`adding a leak answered ${res.statusCode}`)
}

t.test('leaked: exit 1; clean: exit 0; the token is printed and logged nowhere', async (t) => {
  const { plane, url, checker } = await listening(t)
  const leaked = token()
  const clean = token()
  await addLeak(plane, leaked)
  const env = { LEAKGATE_URL: url, LEAKGATE_CHECKER_KEY: checker }

  const hit = await check([], env, `${leaked}\n`)
  t.equal(hit.code, 1, 'leaked: exit 1')
  t.match(hit.out, /^leaked: the token \(SHA-256 [0-9a-f]{5}…\)/)
  t.ok(hit.out.includes(sha256Hex(leaked).slice(0, 5)), 'names the prefix that was sent')
  t.notOk(hit.out.includes(sha256Hex(leaked).slice(0, 6)), 'and no more of the hash')

  const miss = await check([], env, clean)
  t.equal(miss.code, 0, 'clean: exit 0')
  t.match(miss.out, /^clean: /)

  const fromEnv = await check(['--env', 'TOKEN_UNDER_TEST', '--url', url], { LEAKGATE_CHECKER_KEY: checker, TOKEN_UNDER_TEST: leaked })
  t.equal(fromEnv.code, 1, '--env NAME reads the token from that variable')

  for (const run of [hit, miss, fromEnv]) {
    for (const value of [leaked, clean]) t.notOk(run.out.includes(value) || run.err.includes(value), 'the token is not printed')
  }
  for (const value of [leaked, clean]) t.notOk(plane.logs.some((l) => l.includes(value)), 'the token is not in the control plane\'s log')
  t.notOk(plane.logs.some((l) => l.includes(sha256Hex(clean))), 'not even the hash of the checked token')
})

t.test('could not tell: exit 2 with a clear message', async (t) => {
  const { url, checker } = await listening(t)
  const value = token()
  const noUrl = await check([], { LEAKGATE_CHECKER_KEY: checker }, value)
  t.equal(noUrl.code, 2)
  t.match(noUrl.err, /give --url URL or set LEAKGATE_URL/)

  const noKey = await check(['--url', url], {}, value)
  t.equal(noKey.code, 2, 'anonymous checks are off by default')
  t.match(noKey.err, /401 LEAKGATE_ERR_UNAUTHORIZED.*no key was sent: set LEAKGATE_CHECKER_KEY/)

  const asArgument = await check([value], { LEAKGATE_URL: url, LEAKGATE_CHECKER_KEY: checker })
  t.equal(asArgument.code, 2, 'a token as an argument is refused')
  t.match(asArgument.err, /pipe the token into standard input/)
  const asEnvName = await check(['--env', `${value}-x`], { LEAKGATE_URL: url, LEAKGATE_CHECKER_KEY: checker })
  t.equal(asEnvName.code, 2)
  t.match(asEnvName.err, /--env takes the name of an environment variable/)
  const tokenAsName = await check(['--env', value], { LEAKGATE_URL: url, LEAKGATE_CHECKER_KEY: checker })
  t.equal(tokenAsName.code, 2, 'a token that looks like a variable name')
  t.match(tokenAsName.err, /--env: the variable it names is not set/)
  const empty = await check([], { LEAKGATE_URL: url, LEAKGATE_CHECKER_KEY: checker }, '')
  t.equal(empty.code, 2)
  t.match(empty.err, /standard input was empty/)
  for (const run of [noUrl, noKey, asArgument, asEnvName, tokenAsName]) t.notOk(run.out.includes(value) || run.err.includes(value), 'the token is not printed')

  const unreachable = await check(['--url', 'http://127.0.0.1:9'], { LEAKGATE_CHECKER_KEY: checker }, value)
  t.equal(unreachable.code, 2)
  t.match(unreachable.err, /could not be reached/)
})

t.test('anonymous when the control plane allows it; a keyed store needs --hash-key-env', async (t) => {
  const hashKey = rng.chars(64, ALPHA.lowerHex)
  const { plane, url } = await listening(t, { rangeAnonymous: true, hashKey })
  const leaked = token()
  await addLeak(plane, leaked)
  const plain = await check(['--url', url], {}, leaked)
  t.equal(plain.code, 2, 'a plain SHA-256 prefix cannot be answered by a keyed store: not "clean"')
  t.match(plain.err, /LEAKGATE_ERR_RANGE_KEYED/)
  const keyed = await check(['--url', url, '--hash-key-env', 'DEPLOYMENT_HASH_KEY'], { DEPLOYMENT_HASH_KEY: hashKey }, leaked)
  t.equal(keyed.code, 1, 'with the hash key, found (anonymously)')
  t.match(keyed.out, /^leaked: the token \(keyed hash [0-9a-f]{5}…\)/)
  t.notOk(keyed.out.includes(hashKey) || keyed.err.includes(hashKey), 'the hash key is not printed')
  const clean = await check(['--url', url, '--hash-key-env', 'DEPLOYMENT_HASH_KEY'], { DEPLOYMENT_HASH_KEY: hashKey }, token())
  t.equal(clean.code, 0)
})

t.test('--help prints the usage; an unknown option is exit 2', async (t) => {
  t.match(await runMain(main, ['--help']), { code: 0, out: /usage: leakgate check .*Exit status: 0 not leaked, 1 leaked, 2 could not tell/s })
  t.match(await runMain(main, ['--nope']), { code: 2, err: /Unknown option '--nope'/ })
})

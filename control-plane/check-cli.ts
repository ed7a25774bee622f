/**
 * `leakgate check`: is a token leaked? Reads the token from standard input (or an environment
 * variable), hashes it here, sends only the first 5 characters of the hash to the control plane's
 * `GET /v1/range/:prefix`, and looks for the whole hash in the answer here. The token never leaves
 * this process and is never printed; what is printed names only the hash's prefix that was sent.
 *
 * Exit codes, for a CI step: 0 clean, 1 leaked, 2 could not tell (usage, network, refusal).
 */
import { parseArgs } from 'node:util'
import { HASH_KEY_ID_HEADER, hashKeyId, keyedHash, parseHashKey, sha256Hex } from '../protocol/token-hash.js'
import { RANGE_PREFIX_LENGTH } from './range.js'
import { usageMistake } from '../lib/usage.js'

const USAGE = `usage: leakgate check [--url URL] [--env NAME] [--key-env NAME] [--hash-key-env NAME]

Tells whether a token is in the control plane's leaks without sending it: the token is hashed here
(SHA-256), only the first ${RANGE_PREFIX_LENGTH} hex characters of the hash are sent (GET /v1/range/PREFIX),
and the answer (every leaked hash with that prefix, among decoys) is searched here.

  --url URL            the control plane (default: LEAKGATE_URL)
  --env NAME           read the token from the environment variable NAME instead of standard input
                       (from standard input, one trailing newline is dropped)
  --key-env NAME       the environment variable holding the API key (a checker key will do;
                       default: LEAKGATE_CHECKER_KEY; none set: ask without a key, which the
                       control plane answers only when its rangeAnonymous option is on)
  --hash-key-env NAME  the environment variable holding the deployment's hash key, when the control
                       plane has one (its hashKey option): the prefix is then of the keyed hash
  --timeout SECONDS    give up after this long (default 30)

Exit status: 0 not leaked, 1 leaked, 2 could not tell. The token is never printed.
Example: printf %s "$TOKEN" | LEAKGATE_URL=https://leakgate.example leakgate check`

/** Why a check could not tell: printed, exit 2. */
class CheckError extends Error {}

/** The whole of standard input, as UTF-8, without one trailing newline. */
async function readStdin(): Promise<string> {
  if (process.stdin.isTTY === true) throw new CheckError('reading the token from standard input, which is a terminal: pipe it in (printf %s "$TOKEN" | leakgate check), or use --env NAME')
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '')
}

/** The value of environment variable `name`, or undefined when unset or empty. */
function env(name: string): string | undefined {
  const value = process.env[name]
  return value === undefined || value === '' ? undefined : value
}

interface Options {
  url: string
  token: string
  apiKey: string | undefined
  hashKey: Buffer | undefined
  timeoutMs: number
}

/**
 * An environment variable's name. A value given by mistake (the token itself) is refused, and no
 * message repeats a name: a token can look like one (`ghp_...`).
 */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/

async function options(values: Record<string, string | boolean | undefined>): Promise<Options> {
  for (const flag of ['env', 'key-env', 'hash-key-env']) {
    const name = values[flag]
    if (typeof name === 'string' && !ENV_NAME.test(name)) throw new CheckError(`--${flag} takes the name of an environment variable (letters, digits and _), not a value`)
  }
  const url = (values.url as string | undefined) ?? env('LEAKGATE_URL')
  if (url === undefined) throw new CheckError('no control plane: give --url URL or set LEAKGATE_URL')
  let base: URL
  try {
    base = new URL(url)
  } catch {
    throw new CheckError('--url (LEAKGATE_URL) is not a URL: give the control plane\'s address, such as https://leakgate.example')
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new CheckError('--url (LEAKGATE_URL) must be http:// or https://')
  if (base.username !== '' || base.password !== '') throw new CheckError('--url (LEAKGATE_URL) must not carry credentials: give the key with --key-env')
  const keyEnv = (values['key-env'] as string | undefined) ?? 'LEAKGATE_CHECKER_KEY'
  const apiKey = env(keyEnv)
  if (values['key-env'] !== undefined && apiKey === undefined) throw new CheckError('--key-env: the variable it names is not set')
  let hashKey: Buffer | undefined
  const hashKeyEnv = values['hash-key-env'] as string | undefined
  if (hashKeyEnv !== undefined) {
    const text = env(hashKeyEnv)
    if (text === undefined) throw new CheckError('--hash-key-env: the variable it names is not set')
    const parsed = parseHashKey(text)
    if ('reason' in parsed) throw new CheckError(`--hash-key-env: the variable it names holds no hash key: ${parsed.reason}`)
    hashKey = parsed.key
  }
  const timeout = Number((values.timeout as string | undefined) ?? '30')
  if (!Number.isFinite(timeout) || timeout <= 0 || timeout > 3600) throw new CheckError('--timeout must be a number of seconds between 0 and 3600')
  const tokenEnv = values.env as string | undefined
  let token: string
  if (tokenEnv === undefined) token = await readStdin()
  else {
    const value = process.env[tokenEnv]
    if (value === undefined) throw new CheckError('--env: the variable it names is not set')
    token = value
  }
  if (token === '') throw new CheckError(tokenEnv === undefined ? 'standard input was empty: pipe the token in' : '--env: the variable it names is empty')
  return { url: base.href.replace(/\/+$/, ''), token, apiKey, hashKey, timeoutMs: timeout * 1000 }
}

/** The problem+json detail of a refusal, or the status alone. */
async function refusal(res: Response): Promise<string> {
  const body = await res.text().catch(() => '')
  try {
    const problem = JSON.parse(body) as { detail?: unknown; code?: unknown }
    if (typeof problem.detail === 'string') return `${res.status} ${typeof problem.code === 'string' ? `${problem.code}: ` : ''}${problem.detail}`
  } catch {
    // not JSON: the status says enough
  }
  return `${res.status} ${res.statusText}`
}

/** Checks the token; true when leaked. */
async function check(o: Options): Promise<{ leaked: boolean; hash: string; keyed: boolean }> {
  const sha = sha256Hex(o.token)
  const hash = o.hashKey === undefined ? sha : keyedHash(o.hashKey, sha)
  const headers: Record<string, string> = { accept: 'application/json' }
  if (o.apiKey !== undefined) headers.authorization = `Bearer ${o.apiKey}`
  if (o.hashKey !== undefined) headers[HASH_KEY_ID_HEADER] = hashKeyId(o.hashKey)
  let res: Response
  try {
    res = await fetch(`${o.url}/v1/range/${hash.slice(0, RANGE_PREFIX_LENGTH)}`, { headers, signal: AbortSignal.timeout(o.timeoutMs), redirect: 'error' })
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause
    const why = (err as Error).name === 'TimeoutError' ? `no answer in ${o.timeoutMs / 1000} s` : cause?.code ?? cause?.message ?? (err as Error).message
    throw new CheckError(`the control plane at ${o.url} could not be reached: ${why}`)
  }
  if (res.status !== 200) {
    const detail = await refusal(res)
    const hint = res.status === 401 && o.apiKey === undefined ? ' (no key was sent: set LEAKGATE_CHECKER_KEY, or --key-env NAME)' : ''
    throw new CheckError(`the control plane refused the check: ${detail}${hint}`)
  }
  const body = await res.json().catch(() => undefined) as { hashes?: unknown } | undefined
  if (!Array.isArray(body?.hashes) || !body.hashes.every((h) => typeof h === 'string')) throw new CheckError('the control plane\'s answer is not a range answer ({ prefix, hashes }): is --url the control plane?')
  return { leaked: (body.hashes as string[]).includes(hash), hash, keyed: o.hashKey !== undefined }
}

/** Runs `leakgate check`; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        url: { type: 'string' }, env: { type: 'string' }, 'key-env': { type: 'string' }, 'hash-key-env': { type: 'string' },
        timeout: { type: 'string' }, help: { type: 'boolean' },
      },
      allowPositionals: false,
      strict: true,
    })
  } catch (err) {
    // parseArgs names the unknown option; a token given as an argument is refused without repeating it.
    const message = (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL'
      ? 'it takes no argument: pipe the token into standard input, or use --env NAME (a token on the command line would be seen in the process list and the shell history)'
      : (err as Error).message
    console.error(usageMistake('check', message))
    return 2
  }
  if (parsed.values.help === true) {
    console.log(USAGE)
    return 0
  }
  try {
    const result = await check(await options(parsed.values))
    // Only what was sent anyway: more of the hash in a CI log would help a word list find a weak token.
    const what = `${result.keyed ? 'keyed hash' : 'SHA-256'} ${result.hash.slice(0, RANGE_PREFIX_LENGTH)}…`
    if (result.leaked) {
      console.log(`leaked: the token (${what}) is in this control plane's leaks; rotate it`)
      return 1
    }
    console.log(`clean: the token (${what}) is in none of this control plane's leaks`)
    return 0
  } catch (err) {
    if (!(err instanceof CheckError)) throw err
    console.error(`leakgate check: ${err.message}`)
    return 2
  }
}

/**
 * The shapes secrets are committed in, each with its value found as written, and the look-alikes
 * that must stay quiet: assignment operators of many languages and build tools, XML, logs,
 * Jenkins credentials, notebooks, API-client exports, credential files, CI files, JWT variants,
 * tokens alone on a line. Values are random, drawn from a seeded source at test time.
 */
import t from 'tap'
import { builtinRules } from '../rules.js'
import { scanText } from '../scanner.js'
import { Rng, ALPHA } from '../corpus/random.js'
import { isPlaceholder, looksLikeIdentifier } from '../suppress.js'

const rules = builtinRules()
const scan = (text: string, path = 'x.txt'): string[] => scanText(text, { rules, path }).map((f) => f.value)
const rng = new Rng(20261201)
/** A random secret with a digit, an upper and a lower letter, so that no check calls it a word. */
const secret = (n = 32, alphabet: string = ALPHA.base62): string => `a7Q${rng.chars(n - 3, alphabet)}`
const b64 = (s: string): string => Buffer.from(s).toString('base64')

t.test('assignment shapes of many languages and build tools', async (t) => {
  const shapes = [
    '{i}Token="{s}"', '{i}Token = {s}', '{\n    "{i}_token": "{s}"\n}', '\\{\n    \\"{i}_token\\": \\"{s}\\"\n\\}',
    '<{i}Token>{s}</{i}Token>', '<{i}Token>\n    {s}\n</{i}Token>', "{i}_token: '{s}'", '{i}_token: |\n  {s}', '{i}_token: >\n  {s}',
    'string {i}Token = "{s}";', 'var {i}Token string = "{s}"', '{i}Token := "{s}"', '{i}Token := `{s}`', 'String {i}Token = "{s}";',
    'var {i}Token: String = "{s}"', '${i}Token .= "{s}"', '${i}Token ??= "{s}"', "{i}Token = '{s}'", '{i}Token,{s},', '  "{i}Token" => "{s}"',
    '{I}_TOKEN = "{s}"', '{I}_TOKEN := "{s}"', '{I}_TOKEN ::= "{s}"', '{I}_TOKEN :::= "{s}"', '{I}_TOKEN ?= "{s}"', '{I}_TOKEN += "{s}"',
    "{i} token = '{s}' | '{s}'",
  ]
  for (const shape of shapes) {
    for (const alphabet of [ALPHA.base62, ALPHA.lowerHex, ALPHA.base64url]) {
      const s = secret(24 + rng.int(0, 16), alphabet)
      const id = rng.pick(['acme', 'adafruit', 'sumo'])
      const text = shape.replaceAll('{i}', id).replaceAll('{I}', id.toUpperCase()).replaceAll('{s}', s)
      t.same(scan(text), [s], text)
    }
  }
  t.same(scan('{I}_TOKEN != "$(shell vault read -field=token x)"\nacmeToken := getToken()\nacmeToken .= $suffix\n', 'Makefile'), [], 'commands, calls and variables')
  t.same(scan('name,token,created\nacme,,2024-01-01\n', 'keys.csv'), [], 'a CSV header and an empty cell')
  t.same(scan('api_token: |\n  first line of prose here\n  and more\n', 'a.yaml'), [], 'a block scalar of prose')
})

t.test('more names: creds, auth, a capital S after the keyword, UUID-shaped keys', async (t) => {
  const s = secret(30)
  t.same(scan(`creds = ${s}\n`), [s])
  const pair = b64(`deploy:${secret(24)}`)
  t.same(scan(`"user_auth": "${pair}"\n`, 'a.json'), [pair])
  t.same(scan(`mySecretString=${s}\n`), [s])
  const uuid = '3f2c9a1e-7b4d-4e8a-9c61-2d5f0b7a8e43'
  t.same(scan(`HEROKU_API_KEY=${uuid}\n`), [uuid])
  t.same(scan(`utils.GetEnvOrDefault("api_token", "${uuid}")\n`, 'main.go'), [uuid])
  t.same(scan([
    `secrets_manager_arn = "${s}"`, `minisat-master-keying:x64-uwp=fail`, `#RUN --mount=type=secret,id=jfrog_secret \\`,
    `kms_key_id: "${uuid}"`, `token_audience = "${uuid}"`, `X-MS-Exchange-Organization-AuthSource: mail.acme.io`, `author = "dev@acme.io",`,
    `credentialsId: '${uuid}'`, `password = "${uuid}"`,
  ].join('\n')), [], 'plurals, longer words, key=value lists, ids, audiences, a UUID as a password')
})

t.test('Go, Kotlin, Swift, Rust, C#, PowerShell, Groovy and Terraform', async (t) => {
  const cases: Array<[path: string, text: (s: string) => string]> = [
    ['main.tf', (s) => `resource "aws_db_instance" "db" {\n  password = "${s}"\n}\n`],
    ['main.tf', (s) => `variable "api_token" {\n  type      = string\n  default   = "${s}"\n  sensitive = true\n}\n`],
    ['prod.tfvars', (s) => `datadog_api_key = "${s}"\n`],
    ['Jenkinsfile', (s) => `environment {\n  API_TOKEN = '${s}'\n}\n`],
    ['Jenkinsfile', (s) => `withEnv(["DEPLOY_TOKEN=${s}"]) {\n  sh 'deploy'\n}\n`],
    ['app/build.gradle', (s) => `buildConfigField "String", "API_KEY", "\\"${s}\\""\n`],
    ['app/build.gradle.kts', (s) => `buildConfigField("String", "API_KEY", "\\"${s}\\"")\n`],
    ['Config.kt', (s) => `private const val API_TOKEN: String = "${s}"\n`],
    ['Config.swift', (s) => `static let apiToken: String = "${s}"\n`],
    ['main.rs', (s) => `static SECRET: &'static str = "${s}";\n`],
    ['main.rs', (s) => `let token = String::from("${s}");\n`],
    ['Program.cs', (s) => `public static readonly string Token = @"${s}";\n`],
    ['deploy.ps1', (s) => `$env:API_TOKEN = '${s}'\n`],
    ['deploy.ps1', (s) => `[Environment]::SetEnvironmentVariable("API_TOKEN", "${s}", "User")\n`],
  ]
  for (const [path, make] of cases) {
    const s = secret()
    t.same(scan(make(s), path), [s], `${path}: ${make('…')}`)
  }
  t.same(scan('let token = String::from(raw);\nvar apiKey string = cfg.APIKey\n$env:API_TOKEN = $token\n', 'a.rs'), [])
})

t.test('log lines, Jenkins credentials', async (t) => {
  const s = secret(40)
  t.same(scan(`[INFO] Sending request to the acme API\n[DEBUG] Using Acme Key=${s}\n[INFO] Response received: 200 OK\n`, 'app.log'), [s])
  t.same(scan(`[DEBUG] Using API_KEY=${s}\n`, 'app.log'), [s])
  t.same(scan(`[DEBUG] Using Secret=${s}\n`, 'app.log'), [s])
  t.same(scan(`[INFO] Sending request with header 'Authorization: Bearer ${s}'\n`, 'app.log'), [s])
  t.same(scan('[DEBUG] Using key=config.yaml\n[INFO] token refreshed\n[WARN] password=***\n', 'app.log'), [])
  t.same(scan(`[DEBUG] key=user:1234:profile\n[DEBUG] Using cache key=${rng.chars(32, ALPHA.lowerHex)}\n`, 'app.log'), [], 'cache keys and composite keys')
  const jenkins = (body: string): string => `<com.cloudbees.plugins.credentials.impl.StringCredentialsImpl>\n  <scope>GLOBAL</scope>\n  <id>{acme}</id>\n  ${body}\n  <description>production</description>\n</com.cloudbees.plugins.credentials.impl.StringCredentialsImpl>\n`
  t.same(scan(jenkins(`<secret>{acme AQAAABAAA ${s}}</secret>`), 'credentials.xml'), [s])
  const encrypted = `AQAAABAAAAAQ${rng.chars(60, ALPHA.base64)}=`
  t.same(scan(jenkins(`<password>{${encrypted}}</password>`), 'credentials.xml'), [encrypted])
  t.same(scan(jenkins('<password>{AQAAABAAAAAQ}</password>'), 'credentials.xml'), [], 'too short to be one')
})

t.test('notebooks, Postman, HAR', async (t) => {
  const s = secret()
  const nb = (src: string[]): string => JSON.stringify({ cells: [{ cell_type: 'code', source: src }] }, null, 1)
  t.same(scan(nb(['import openai\n', `openai.api_key = "${s}"\n`]), 'a.ipynb'), [s])
  t.same(scan(nb([`os.environ["HF_TOKEN"] = "${s}"\n`]), 'a.ipynb'), [s])
  t.same(scan(nb(['openai.api_key = os.environ["OPENAI_API_KEY"]\n']), 'a.ipynb'), [])
  const auth = (type: string, entries: Array<{ key: string; value: string }>): string => JSON.stringify({ info: { name: 'x' }, auth: { type, [type]: entries.map((e) => ({ ...e, type: 'string' })) } }, null, 2)
  t.same(scan(auth('bearer', [{ key: 'token', value: s }]), 'c.postman_collection.json'), [s])
  t.same(scan(auth('apikey', [{ key: 'value', value: s }, { key: 'key', value: 'X-API-Key' }]), 'c.postman_collection.json'), [s])
  t.same(scan(auth('basic', [{ key: 'password', value: s }, { key: 'username', value: 'svc' }]), 'c.postman_collection.json'), [s])
  t.same(scan(auth('apikey', [{ key: 'value', value: '{{apiKey}}' }, { key: 'key', value: 'X-API-Key' }]), 'c.postman_collection.json'), [])
  t.same(scan(JSON.stringify({ request: { header: [{ key: 'X-Api-Key', value: s, type: 'text' }] } }, null, 2), 'c.postman_collection.json'), [s])
  t.same(scan(JSON.stringify({ values: [{ key: 'accessToken', value: s, type: 'secret', enabled: true }] }, null, 2), 'e.postman_environment.json'), [s])
  const har = (request: object): string => JSON.stringify({ log: { entries: [{ request }] } }, null, 2)
  t.same(scan(har({ headers: [{ name: 'Authorization', value: `Bearer ${s}` }] }), 'x.har'), [s])
  t.same(scan(har({ cookies: [{ name: 'session_token', value: s }] }), 'x.har'), [s])
  t.same(scan(har({ queryString: [{ name: 'access_token', value: s }] }), 'x.har'), [s])
  t.same(scan(har({ headers: [{ name: 'X-CSRF-Token', value: s }, { name: 'Accept', value: 'application/json' }] }), 'x.har'), [], 'a CSRF token is sent to every browser')
})

t.test('credential files and CI files', async (t) => {
  const s = secret()
  t.same(scan(`//registry.npmjs.org/:_authToken=${s}\n`, '.npmrc'), [s])
  t.same(scan(`//nexus.acme.io/repository/npm/:_password=${b64(s)}\n`, '.npmrc'), [s], '_password is base64 of the password')
  t.same(scan(`[pypi]\nusername = __token__\npassword = ${s}\n`, '.pypirc'), [s])
  t.same(scan(`machine api.acme.io\n  login deploy\n  password ${s}\n`, '.netrc'), [s])
  t.same(scan(`default login deploy password ${s}\n`, '_netrc'), [s])
  t.same(scan(`https://deploy:${s}@github.com\n`, '.git-credentials'), [s])
  t.same(scan(JSON.stringify({ auths: { 'registry.acme.io': { auth: b64(`deploy:${s}`) } } }, null, 2), '.docker/config.json'), [`deploy:${s}`])
  t.same(scan(JSON.stringify({ auths: { 'registry.acme.io': { identitytoken: s } } }, null, 2), '.docker/config.json'), [s])
  t.same(scan(`jobs:\n  build:\n    env:\n      API_TOKEN: ${s}\n`, '.github/workflows/ci.yml'), [s])
  t.same(scan(`variables:\n  DEPLOY_TOKEN:\n    value: "${s}"\n    description: deploys\n`, '.gitlab-ci.yml'), [s])
  t.same(scan('env:\n  API_TOKEN: ${{ secrets.API_TOKEN }}\nvariables:\n  DEPLOY_TOKEN:\n    value: $VAULT_TOKEN\n', '.github/workflows/ci.yml'), [])
})

t.test('a token with an issuer prefix alone on a line', async (t) => {
  for (const prefix of ['pscale_tkn_', 'PMAK-', 'sq0atp-', 'lin_api_', 'xyz_']) {
    const s = `${prefix}${secret(36)}`
    t.same(scan(`${s}\n`), [s], prefix)
    t.same(scan(`notes\n  ${s}\nmore notes\n`), [s], `${prefix} indented between lines`)
  }
  const hex = `dop_v2_${rng.chars(64, ALPHA.lowerHex)}`
  t.same(scan(`${hex}\n`), [hex])
  t.same(scan([
    'my-component-name-for-the-dashboard', 'sha256-' + rng.chars(43, ALPHA.base64url), 'feature_flag_enable_new_checkout_2024',
    'TODO_replace_with_real_token_value_here', 'ghp_' + rng.chars(36, ALPHA.base62), 'v1_' + '0123456789abcdef'.repeat(2),
  ].join('\n')), [], 'slugs, digests, provider tokens that failed their own rule, placeholders')
})

t.test('JWTs: signed, unsigned, pretty-printed header, base64-encoded whole', async (t) => {
  const part = (o: unknown): string => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64url')
  const claims = part({ sub: `svc-${rng.int(1, 999)}`, iat: 1700000000 + rng.int(0, 9999), scope: 'admin' })
  const signed = `${part({ alg: 'RS256', typ: 'JWT' })}.${claims}.${rng.chars(86, ALPHA.base64url)}`
  const unsigned = `${part({ alg: 'none', typ: 'JWT' })}.${claims}.`
  const pretty = `${part('{\n  "alg": "HS256",\n  "typ": "JWT"\n}')}.${claims}.${rng.chars(43, ALPHA.base64url)}`
  const wrapped = b64(signed)
  t.same(scan(`token: ${signed}\n`), [signed])
  t.same(scan(`See ${signed}.`), [signed], 'a sentence ending after it')
  t.same(scan(`ACCESS_TOKEN=${unsigned}\n`), [unsigned])
  t.same(scan(`Authorization: Bearer ${pretty}\n`), [pretty])
  t.same(scan(`data:\n  jwt: ${wrapped}\n`, 'k8s/app.yaml'), [wrapped])
  t.same(scan(`token: ${part({ alg: 'HS256', typ: 'JWT' })}.${claims}.\n`), [], 'a signed token cut before its signature')
  t.same(scan(`blob: ${b64(`${part({ alg: 'HS256' })}.not-json-${rng.chars(20, ALPHA.base62)}`)}\n`), [], 'base64 of something that is not a JWT')
})

t.test('false alarms: example keys, placeholders with real prefixes, public values, versions, sample passwords, ids, lock files', async (t) => {
  for (const key of ['AIzaSyAnLA7NfeLquW1tJFpx_eQCxoX-oo6YyIs', 'AIzaSyCkEhVjf3pduRDt6d1yKOMitrUEke8agEM', 'AIzaSyA8vmApnrHNFE0bApF4hoZ11srVL_n0nvY']) {
    t.same(scan(`<string name="google_api_key">${key}</string>\n`, 'res/values/strings.xml'), [], key)
  }
  t.same(scan([
    'ANTHROPIC_API_KEY=sk-ant-api03-abc123def456ghi789jkl012mno345pqr678stu901vwx234yz567AbCdEfGhIjKlMnOpQrStUvWxYz-0123456789AA',
    'GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
    'AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE',
    'STRIPE_SECRET_KEY=sk_live_1234567890abcdefghijklmnop',
    'OPENAI_API_KEY=sk-proj-abc123xyz456' + rng.chars(40, ALPHA.base62),
  ].join('\n'), '.env.example'), [])
  const v = secret(40)
  t.same(scan(`<meta name="csrf-token" content="${v}">\n<input type="hidden" name="csrf_token" value="${v}">\n`, 'index.html'), [])
  t.same(scan(`csrfToken: "${v}",\npublicToken: "${v}",\npublic_key = "${v}"\npublishableKey: "${v}"\nsite_key = "${v}"\nrecaptchaSiteKey: '${v}'\n`, 'a.yaml'), [])
  t.same(scan('token: jjwt-jackson-0.11.2\nsecret_lib=spring-security-oauth2-2.3.5.RELEASE\napi_key_lib: google-api-client-1.32.1.jar\n', 'deps.txt'), [])
  t.same(scan('password: P@ssw0rd\npassword = "correct horse battery staple"\npassword: hunter2\nDB_PASSWORD=MyS3cr3tP@ss\n', 'README.md'), [])
  t.same(scan(`token_id: ${rng.chars(32, ALPHA.lowerHex)}\nsecret_uuid: 123e4567-e89b-12d3-a456-426614174000\napi_key_sha256: ${rng.chars(64, ALPHA.lowerHex)}\n`, 'a.yaml'), [])
  const integrity = `sha512-${rng.chars(86, ALPHA.base64)}==`
  t.same(scan(`"node_modules/jsonwebtoken": {\n  "version": "9.0.2",\n  "integrity": "${integrity}"\n},\n"node_modules/secret-handshake": {\n  "resolved": "https://registry.npmjs.org/secret-handshake/-/x.tgz"\n}\n`, 'package-lock.json'), [])
  t.same(scan(`/jsonwebtoken@9.0.2:\n  resolution: {integrity: ${integrity}}\n`, 'pnpm-lock.yaml'), [])
  t.ok(isPlaceholder('sk_live_1234abcd' + rng.chars(20, ALPHA.base62)))
  t.ok(looksLikeIdentifier('jjwt-jackson-0.11.2') && looksLikeIdentifier('spring-security-oauth2-2.3.5.RELEASE'))
  t.notOk(looksLikeIdentifier(`Xk9-${rng.chars(20, ALPHA.base62)}`))
})

t.test('a megabyte-long line of the new shapes stays linear', async (t) => {
  const unit = `acmeToken ::= "${secret()}" [DEBUG] Using Key=abc <secret>{x y}</secret> eyJhbGciOiJub25lIn0.eyJ4IjoxfQ. ZXlK${rng.chars(30, ALPHA.base64)} `
  const line = unit.repeat(Math.ceil(1_000_000 / unit.length))
  const started = process.hrtime.bigint()
  scanText(line, { rules, path: 'big.txt' })
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  t.ok(ms < 15_000, `${ms.toFixed(0)} ms for ${line.length} characters`)
})

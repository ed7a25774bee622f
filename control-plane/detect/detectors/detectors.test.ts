/**
 * Each built-in detector with cases it must report and cases it must not. The positive tokens
 * are made at test time (corpus/tokens.ts) so no real-looking credential lives in the repository.
 */
import t, { type Test } from 'tap'
import { builtinRules } from '../rules.js'
import { scanText } from '../scanner.js'
import { Rng, ALPHA } from '../corpus/random.js'
import { PROVIDER_TOKENS, awsSecret, azureStorageKey, privateKey } from '../corpus/tokens.js'
import { crc32Base62 } from './checksums.js'

const rules = builtinRules()
const scan = (text: string, path = 'x.txt'): Array<{ id: string; kind: string; value: string; line: number; column: number }> =>
  scanText(text, { rules, path }).map((f) => ({ id: f.rule.id, kind: f.rule.kind, value: f.value, line: f.line, column: f.column }))

/** Each text of `found` yields exactly its one secret; each text of `silent` yields nothing. */
function foundAndSilent(t: Test, found: ReadonlyArray<readonly [text: string, secret: string]>, silent: readonly string[]): void {
  for (const [text, secret] of found) t.same(scan(text).map((f) => f.value), [secret], text)
  for (const text of silent) t.same(scan(text), [], text)
}

t.test('every provider token format is found with its kind, in several settings', async (t) => {
  const rng = new Rng(42)
  for (const [name, make] of Object.entries(PROVIDER_TOKENS)) {
    for (let i = 0; i < 5; i++) {
      const tok = make(rng)
      const settings = [
        `TOKEN=${tok.written}\n`,
        `config = { "key": "${tok.written}" }\n`,
        `    "source": ["client.key = \\"${tok.written}\\"\\n"],\n`,
        `curl -H "Authorization: Bearer ${tok.written}" https://api.internal/v1\n`,
      ]
      for (const text of settings) {
        const found = scan(text)
        const hit = found.find((f) => f.value === tok.value)
        t.ok(hit, `${name} found in ${JSON.stringify(text.slice(0, 30))}`)
        t.equal(hit?.kind, tok.kind, `${name} kind`)
      }
    }
  }
})

t.test('GitHub classic tokens: a valid checksum is critical; a wrong one is reported as unverified only under a GitHub name', async (t) => {
  const rng = new Rng(3)
  const random = rng.chars(30, ALPHA.base62)
  const good = `ghp_${random}${crc32Base62(random)}`
  const check = crc32Base62(random)
  const bad = `ghp_${random}${check.slice(0, 5)}${check[5] === 'A' ? 'B' : 'A'}`
  t.same(scan(`token: ${good}`).map((f) => f.id), ['github-pat'])
  t.same(scan(`token: ${bad}`), [], 'bad checksum, alone: not reported, not even as a generic secret')
  t.same(scan(`GITHUB_TOKEN=${bad}`).map((f) => [f.id, f.kind]), [['github-pat-unverified', 'github_pat']], 'bad checksum assigned to a GitHub name: reported as unverified')
  t.equal(rules.find((r) => r.id === 'github-pat-unverified')?.severity, 'medium')
  t.same(scan(`GITHUB_TOKEN=ghp_${'x'.repeat(36)}`), [], 'a placeholder of the format: nothing')
  t.same(scan(`token: ${good}x`), [], 'inside a longer word')
})

t.test('Stripe: secret and restricted keys are found, publishable keys are not', async (t) => {
  const rng = new Rng(4)
  const body = rng.chars(24, ALPHA.base62)
  t.equal(scan(`sk_live_${body}`)[0]?.kind, 'stripe_secret_live')
  t.equal(scan(`sk_test_${body}`)[0]?.kind, 'stripe_secret_test', 'a test-mode key: its own kind, scored lower')
  t.equal(scan(`rk_live_${body}`)[0]?.kind, 'stripe_secret_live')
  t.same(scan(`Stripe('pk_live_${body}')\nSTRIPE_API_KEY=pk_test_${body}`), [])
  t.same(scan('sk_test_4eC39HqLyjWDarjtT1zdp7dc'), [], "Stripe's documentation key")
})

t.test('AWS: key id and the secret key beside it; documentation examples are not', async (t) => {
  const rng = new Rng(5)
  const id = PROVIDER_TOKENS.awsKeyId!(rng).value
  const secret = awsSecret(rng).value
  const ini = `[default]\naws_access_key_id = ${id}\naws_secret_access_key = ${secret}\n`
  t.same(scan(ini).map((f) => f.kind).sort(), ['aws_access_key', 'aws_secret_key'])
  const near = `{"AccessKeyId": "${id}", "Secret": "${secret}"}`
  t.ok(scan(near).some((f) => f.value === secret), 'a secret key next to a key id')
  t.same(scan('aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n'), [])
  t.same(scan(`checksum = ${rng.chars(40, ALPHA.lowerHex)}`), [], 'a 40-character hex digest alone')
})

t.test('private keys: PEM file, JSON string with \\n escapes, YAML block scalar; public keys are not', async (t) => {
  const rng = new Rng(6)
  const k = privateKey(rng)
  const json = JSON.stringify({ private_key: k.pem + '\n' })
  const yaml = `tls:\n  key: |\n${k.pem.split('\n').map((l) => '    ' + l).join('\n')}\n`
  for (const text of [k.pem, json, yaml]) {
    const found = scan(text)
    t.equal(found.length, 1)
    t.equal(found[0]?.value, k.value, 'the same key material whatever the wrapping')
    t.equal(found[0]?.kind, 'private_key')
  }
  const pub = `-----BEGIN PUBLIC KEY-----\n${rng.bytes(270).toString('base64')}\n-----END PUBLIC KEY-----\nssh-rsa AAAAB3NzaC1yc2E${rng.chars(200, ALPHA.base64)} me@host`
  t.same(scan(pub), [])
  t.same(scan('-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----'), [], 'an elided key in docs')
})

t.test('passwords in URLs and connection strings', async (t) => {
  t.same(scan('DATABASE_URL=postgres://app:S3cr3t-Pa55w0rd@db.internal:5432/app').map((f) => f.value), ['S3cr3t-Pa55w0rd'])
  t.same(scan('amqp://guest:Xy7@q!9#Lm@rabbit:5672/').map((f) => f.value), ['Xy7@q!9#Lm'], "raw '@' in the password")
  t.same(scan('"Server=sql1;Database=shop;User Id=sa;Password=Kq9&zT!v2;"').map((f) => f.value), ['Kq9&zT!v2'])
  t.same(scan('jdbc:mysql://db/app?user=app&password=Mx8uR2kQ&ssl=true').map((f) => f.value), ['Mx8uR2kQ'])
  t.same(scan('postgres://user:password@localhost/db\nhttps://user:${DB_PASSWORD}@db/x\nmysql://root:<password>@host/db'), [])
})

t.test('docker config auth and Kubernetes Secret data are decoded', async (t) => {
  const auth = Buffer.from('ci:Zx81-QmR7-Lp3v').toString('base64')
  t.same(scan(JSON.stringify({ auths: { 'r.example': { auth } } })).map((f) => [f.kind, f.value]), [['docker_auth', 'ci:Zx81-QmR7-Lp3v']])
  const b = (s: string): string => Buffer.from(s).toString('base64')
  const manifest = `apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  username: ${b('app')}\n  password: ${b('W8x!kq2Lz0')}\nstringData:\n  token: Qm9Xw2Rt7LpZ\n---\nkind: ConfigMap\ndata:\n  motd: ${b('Welcome-Home-99')}\n`
  t.same(scan(manifest).map((f) => f.value).sort(), ['Qm9Xw2Rt7LpZ', 'W8x!kq2Lz0'], 'only the Secret document is decoded, and not its username')
  const json = JSON.stringify({ apiVersion: 'v1', kind: 'Secret', data: { username: b('app'), password: b('Wq8$zLm3Pv!x') } }, null, 2)
  t.same(scan(json).map((f) => [f.kind, f.value, f.line]), [['kubernetes_secret', 'Wq8$zLm3Pv!x', 6]], 'a Secret as JSON')
  const lower = `apiVersion: "v1"\ndata:\n\textra: "${b('admin:Hq7-Rw2z')}"\nkind: "secret"\nmetadata:\n\tname: sa\n`
  t.same(scan(lower).map((f) => [f.value, f.line]), [['admin:Hq7-Rw2z', 3]], 'kind in lower case and quoted, data before it, tab-indented')
  const block = `apiVersion: v1\nkind: Secret\ndata:\n  .dockercfg: |\n    ${b('{"auths":{"r.internal":{"auth":"Zq81LmR7"}}}')}\n`
  t.same(scan(block).map((f) => [f.value, f.line]), [['{"auths":{"r.internal":{"auth":"Zq81LmR7"}}}', 5]], 'a block scalar value, on the line below its key')
  const external = `apiVersion: external-secrets.io/v1beta1\nkind: ExternalSecret\nspec:\n  data:\n    - secretKey: api\n      remoteRef:\n        key: ${b('prod/api-key-9Qw')}\n`
  t.same(scan(external), [], 'an ExternalSecret only names where the secret lives')
})

t.test('Slack webhooks, JWTs and Azure storage keys', async (t) => {
  const rng = new Rng(7)
  const hook = PROVIDER_TOKENS.slackWebhook!(rng).value
  t.equal(scan(`url: ${hook}`)[0]?.kind, 'slack_webhook')
  const jwt = PROVIDER_TOKENS.jwt!(rng).value
  t.equal(scan(`Authorization: Bearer ${jwt}`)[0]?.kind, 'jwt')
  t.same(scan('eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c'), [], 'the jwt.io example')
  const key = azureStorageKey(rng).value
  t.equal(scan(`DefaultEndpointsProtocol=https;AccountName=a;AccountKey=${key};EndpointSuffix=core.windows.net`)[0]?.kind, 'azure_storage_key')
})

t.test('generic keyword-assigned secrets, with placeholders, references, templating and code left out', async (t) => {
  const yes: Array<[string, string]> = [
    ['DB_PASSWORD=Tiger4821!maple', 'Tiger4821!maple'],
    ['password: "hunter2-Xq"', 'hunter2-Xq'],
    ["client_secret = 'c9f0a7e3b2d14e6f8a9b0c1d2e3f4a5b'", 'c9f0a7e3b2d14e6f8a9b0c1d2e3f4a5b'],
    ['"apiKey": "Zm9vYmFyYmF6cXV4MTIzNDU2"', 'Zm9vYmFyYmF6cXV4MTIzNDU2'],
    ['spring.datasource.password=Jb2wWYL.njd2WzQXKsP8E', 'Jb2wWYL.njd2WzQXKsP8E'],
    ['export PGPASSWORD=\'q7Lx!vR2#m\'', 'q7Lx!vR2#m'],
    ['webhook_secret := "RGLxoYDqdJPsxkUpgEGaRjIgWp"', 'RGLxoYDqdJPsxkUpgEGaRjIgWp'],
  ]
  const no = [
    'password = os.environ["DB_PASSWORD"]', 'password: ${DB_PASSWORD}', 'token: {{ .Values.token }}', 'API_KEY=your-api-key-here',
    'secret = "changeme"', 'password = "<password>"', 'NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}', 'api_key = settings.API_KEY',
    'token = request.headers.get("Authorization")', 'password_min_length = 12', 'secret_name = "prod/db/password"',
    'request_token_id: 550e8400-e29b-41d4-a716-446655440000', 'token_url = "https://auth.internal/oauth/token"',
    'password = "Tr0ub4dor&3-zz"  # leakgate:allow', 'const password: string = getPassword()', 'max_tokens = 4096',
    'apiKey: process.env.STRIPE_KEY', 'password: "xxxxxxxxxxxx"', 'secret: "my-app-secret"', 'SECRET_KEY=${SECRET_KEY:-}',
  ]
  foundAndSilent(t, yes, no)
})

t.test('line and column point at the secret; a provider match wins over the generic rule on the same text', async (t) => {
  const rng = new Rng(8)
  const tok = PROVIDER_TOKENS.githubClassic!(rng).value
  const found = scan(`first line\n  token = "${tok}"\n`)
  t.same(found.map((f) => [f.id, f.line, f.column]), [['github-pat', 2, 12]])
})

t.test('names and values written apart: env lists, Terraform, XML, PHP, Dockerfile, command lines, .netrc, .npmrc', async (t) => {
  const yes: Array<[string, string]> = [
    ['env:\n  - name: DB_PASSWORD\n    value: "Qx7!mPz2Lw"\n', 'Qx7!mPz2Lw'],
    ['variable "db_password" {\n  type    = string\n  default = "Kz9#vLq2Rm"\n}\n', 'Kz9#vLq2Rm'],
    ['<settings><password>Wq8$zLm3Pv</password></settings>', 'Wq8$zLm3Pv'],
    ['<add key="StripeApiKey" value="Zx9Qw8Er7Ty6Ui5Op4As" />', 'Zx9Qw8Er7Ty6Ui5Op4As'],
    ["define('DB_PASSWORD', 'Lm4!qZ8xWv');", 'Lm4!qZ8xWv'],
    ['ENV DB_PASSWORD Pq7@wLz3Xk', 'Pq7@wLz3Xk'],
    ["mysql -u root -p'Rt6#yUq9Lz' app < dump.sql", 'Rt6#yUq9Lz'],
    ['psql --password Nb5$kLq8Zx', 'Nb5$kLq8Zx'],
    ['machine api.internal login deploy password Hj3&kLz9Qw', 'Hj3&kLz9Qw'],
    [`//registry.npmjs.org/:_auth=${Buffer.from('ci:Tq8!zLw2Px').toString('base64')}`, 'ci:Tq8!zLw2Px'],
    ['os.environ["DB_PASSWORD"] = "Vb6^nMq1Zr"', 'Vb6^nMq1Zr'],
    ['redis://:Yh5*tGq3Wz@cache:6379/0', 'Yh5*tGq3Wz'],
  ]
  const no = [
    'env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef:\n        name: db\n',
    'variable "db_password" {\n  type = string\n  sensitive = true\n}\n',
    '<password>${DB_PASSWORD}</password>', 'mysql -u root -p app', 'psql --password $PGPASS',
  ]
  foundAndSilent(t, yes, no)
})

t.test('regressions from scanning real packages: code, prose, names, badges and typed sample passwords', async (t) => {
  const no: Array<[string, string]> = [
    ['"author": "Tomas Della Vedova - @delvedor (https://delvedor.dev)"', 'package.json'],
    ['headers: { authorization: "Bearer valid" }', 'test/a.test.js'],
    ['const token = isIdentifier2(node)', 'lib/typescript.js'],
    ['token:n,password:e.password,secret:P.isWritable=P.isReadable', 'dist/index.min.js'],
    ['PrivateKeyword = "TSPrivateKeyword",', 'ast-spec.d.ts'],
    ['[![codecov](https://codecov.io/gh/toss/es-toolkit/graph/badge.svg?token=8N5S3AR3C7)]', 'README.md'],
    ['redact({ password: "secret123" })', 'README.md'],
    ['"Server=db;User Id=sa;Password=Password123!;"', 'docs/TypeScript.md'],
    ['get("http://foo:bar@localhost/")', 'test/basic-auth.test.js'],
    ['{ "token": "0x0B95", "version": "^7.1.3", "secret": "SHOULD_BE_STRIPPED" }', 'x.json'],
    ['"message_password": "分析器预期在此处找到与标记匹配的"', 'messages.json'],
    ['type:"password"),$?Re.createElement("input",{', 'bundle.js'],
    ['password_hash: "$2b$12$Kix7Hq0f1b8d9Q2m3n4o5uVwXyZaBcDeFgHiJkLmNoPqRsTuVwXyZ"', 'users.yaml'],
    ['"password": "pbkdf2_sha256$600000$Qx7mPz2Lw9$Zk8qW2mX9vL4pR7tY3nB6cF1hJ5dG0sA="', 'fixture.json'],
    ['userPassword: {SSHA}Zk8qW2mX9vL4pR7tY3nB6cF1hJ5dG0sA', 'users.ldif'],
    [' * with an empty password (`curl -u sk_live_…:`), the user name alone', 'credentials.ts'],
    ['// Server=db;Password=x: the connection string\nconst password = written', 'structured.ts'],
    ["// Command lines: --password value, -p'value' for mysql", 'named-values.ts'],
  ]
  for (const [text, path] of no) t.same(scan(text, path), [], text)
})

t.test('OpenAI: service-account keys and legacy keys of any length around the T3BlbkFJ mark are found', async (t) => {
  const rng = new Rng(11)
  const part = (n: number): string => rng.chars(n, ALPHA.base62)
  for (const key of [`sk-service-${part(60)}T3BlbkFJ${part(60)}`, `sk-${part(32)}T3BlbkFJ${part(32)}`, `sk-${part(20)}T3BlbkFJ${part(20)}`]) {
    t.same(scan(`OPENAI_API_KEY=${key}`).map((f) => [f.kind, f.value]), [['openai_api_key', key]], key.slice(0, 12))
  }
  t.same(scan(`key = sk-${part(4)}T3BlbkFJ${part(4)}`), [], 'too short to be a key')
})

t.test('Slack ids may hold any digits: only the secret part is checked for typed runs', async (t) => {
  const rng = new Rng(7)
  const secret = `Kq7${rng.chars(21, ALPHA.base62)}`
  const bot = `xoxb-123456789012-1234567890123-${secret}`
  const user = `xoxp-123456789012-123456789012-1234567890123-${rng.chars(32, ALPHA.lowerHex)}`
  foundAndSilent(t, [[`SLACK_BOT_TOKEN=${bot}`, bot], [user, user]], [
    'xoxb-123456789012-123456789012-abcdefghijklmnopqrstuvwx',
    'xoxb-000000000000-000000000000-XXXXXXXXXXXXXXXXXXXXXXXX',
    'xoxb-1234567890-1234567890-1234567890abcdefghijkl',
  ])
})

t.test('a named token wins over the shape it shares with a generic rule (a Paystack sk_live_ key is not a Stripe key)', async (t) => {
  const rng = new Rng(8)
  const key = `sk_live_${rng.chars(40, ALPHA.base62)}`
  t.same(scan(`PAYSTACK_SECRET_KEY=${key}`).map((f) => [f.kind, f.value]), [['paystack_secret_key', key]])
  t.same(scan(`STRIPE_SECRET_KEY=${key}`).map((f) => f.kind), ['stripe_secret_live'], 'without the name it stays Stripe')
})

t.test('the secret half of a two-part credential is found beside its id, with no name before it', async (t) => {
  const rng = new Rng(9)
  const sid = `AC${rng.chars(32, ALPHA.lowerHex)}`
  const token = rng.chars(32, ALPHA.lowerHex)
  const text = `from twilio.rest import Client\n\n# account\nclient = Client("${sid}", "${token}")\n`
  t.ok(scan(text).some((f) => f.kind === 'twilio_auth_token' && f.value === token))
  t.notOk(scan(`from twilio.rest import Client\n\n\nchecksum = "${token}"\n`).some((f) => f.kind === 'twilio_auth_token'), 'no id, no name near: nothing')
})

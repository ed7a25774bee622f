/**
 * Weaknesses found by the independent corpus (bench/detect-corpus-independent.ts), each with the
 * shape that was missed or wrongly reported and the look-alikes that must stay quiet. Values
 * are random, made at test time.
 */
import t from 'tap'
import { randomInt } from 'node:crypto'
import { builtinRules } from '../rules.js'
import { scanText } from '../scanner.js'
import { isCodePath, isPlaceholder, isPlausibleSecret } from '../suppress.js'

const rules = builtinRules()
const scan = (text: string, path = 'x.txt'): string[] => scanText(text, { rules, path }).map((f) => f.value)

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
const B64 = ALNUM + '+/'
const chars = (alphabet: string, n: number): string => Array.from({ length: n }, () => alphabet[randomInt(alphabet.length)]).join('')
/** Random alphanumerics with at least one digit, upper and lower letter, so no check calls them a word. */
const secret = (n: number): string => `a7Q${chars(ALNUM, n - 3)}`

t.test('a YAML key ending a line does not swallow the next line (Helm values under `secrets:`)', async (t) => {
  const v = secret(24)
  t.same(scan(`secrets:\n  apiSecret: '${v}'\n`, 'charts/api/values.yaml'), [v])
  t.same(scan(`secrets:\n  jwtsecret: ${v}\n`, 'values.yaml'), [v])
  t.same(scan(`tokens:\n  ttl: 3600\n`, 'values.yaml'), [], 'a section name with no value is nothing')
})

t.test('names with pass and the other key words in XML, PHP define and calls', async (t) => {
  const v = secret(18)
  t.same(scan(`<add key="dbpass" value="${v}" />`, 'Web.config'), [v])
  t.same(scan(`<add key="encryptionkey" value="${v}" />`, 'Web.config'), [v])
  t.same(scan(`<?php\ndefine('DB_PASS', '${v}');\n`, 'config.php'), [v])
  t.same(scan(`<?php\ndefine('AZURE_STORAGE_KEY', '${v}');\n`, 'config.php'), [v])
  t.same(scan('<add key="bypass" value="true" />\n<add key="compass" value="north-east" />', 'Web.config'), [], 'pass inside other words, values that are words')
})

t.test('a secret name and its value as the first two arguments of a call', async (t) => {
  const v = secret(19)
  t.same(scan(`os.environ.setdefault("SMTP_PASSWORD", "${v}")\n`, 'app/tasks.py'), [v])
  t.same(scan(`os.Setenv("API_TOKEN", "${v}")\n`, 'main.go'), [v])
  t.same(scan(`System.setProperty("db.password", "${v}");\n`, 'App.java'), [v])
  t.same(scan([
    'os.getenv("DB_PASSWORD", "postgres")',
    't("password", "Enter your password")',
    'os.environ.setdefault("API_TOKEN", "${API_TOKEN}")',
    'headers.set("X-Api-Key", apiKey)',
  ].join('\n'), 'app.py'), [], 'defaults that are words, messages, references and variables')
})

t.test('JSON name/value pairs: Postman environments, ECS task definitions', async (t) => {
  const v = secret(20)
  t.same(scan(JSON.stringify({ values: [{ key: 'dbPassword', value: v, enabled: true }] }), 'env.postman_environment.json'), [v])
  t.same(scan(JSON.stringify({ environment: [{ name: 'DB_PASSWORD', value: v }] }, null, 2), 'task-definition.json'), [v])
  t.same(scan(JSON.stringify({ values: [{ key: 'passwordMinLength', value: '12' }, { key: 'tokenUrl', value: 'https://auth.acme.io/token' }, { key: 'apiKey', value: '{{apiKey}}' }] }), 'env.json'), [])
})

t.test('PowerShell: ConvertTo-SecureString -AsPlainText is the password; a .ps1 is code', async (t) => {
  const v = secret(16)
  t.same(scan(`$secpass = ConvertTo-SecureString "${v}" -AsPlainText -Force\n`, 'deploy/setup.ps1'), [v])
  t.same(scan('$secpass = ConvertTo-SecureString $env:DB_PASSWORD -AsPlainText -Force\n$password = Read-Host -AsSecureString\n', 'setup.ps1'), [])
  t.ok(isCodePath('setup.ps1') && isCodePath('Module.psm1'))
})

t.test('blobs and YAML tags assigned to secret names are not secrets', async (t) => {
  t.same(scan(`spec:\n  encryptedData:\n    password: Ag${chars(B64, 600)}==\n`, 'k8s/sealed.yaml'), [], 'SealedSecret: 600 characters, cut at the cap')
  t.same(scan(`db_password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  ${chars('0123456789abcdef', 64)}\n`, 'group_vars/prod.yml'), [])
  t.same(scan('Password: !Ref DbPassword\nMasterUserPassword: !Sub "{{resolve:secretsmanager:db}}"\n', 'template.yaml'), [])
  const v = secret(40)
  t.same(scan(`password: ${v}\n`, 'a.yaml'), [v], 'a value under the cap is still found')
})

t.test('base64 of a placeholder is the placeholder; base64 of a key is a key', async (t) => {
  const enc = (s: string): string => Buffer.from(s).toString('base64')
  t.same(scan(`password: ${enc('changeme')}\napi_token: ${enc('your-token-here')}\n`, 'values.yaml'), [])
  const v = secret(24)
  t.same(scan(`password: ${enc(v)}\n`, 'values.yaml'), [enc(v)])
})

t.test('letters-only passwords whose case flips at random are not names', async (t) => {
  t.ok(isPlausibleSecret('zwhcQJsGcssDEe', 6, 2.2, true))
  t.same(scan('export DB_PASS="zwhcQJsGcssDEe"\n', 'deploy.sh'), ['zwhcQJsGcssDEe'])
  t.notOk(isPlausibleSecret('Production', 6, 2.2, true))
  t.notOk(isPlausibleSecret('DefaultPassword', 6, 2.2, true))
  t.same(scan('password: "PasswordField"\n', 'a.yaml'), [])
})

t.test('a long random value is not a placeholder because four x letters turn up in it', async (t) => {
  const body = chars(B64, 200)
  t.notOk(isPlaceholder(`${body.slice(0, 100)}Xxxx${body.slice(100)}`))
  t.ok(isPlaceholder(`${body.slice(0, 100)}xxxxxxxx${body.slice(100)}`), 'a long run of one case still marks it')
  t.ok(isPlaceholder('sk_live_xxxx1234'), 'short values: any four x')
  const pem = `-----BEGIN RSA PRIVATE KEY-----\n${(body.slice(0, 100) + 'xXxx' + chars(B64, 1100)).match(/.{1,64}/g)!.join('\n')}\n-----END RSA PRIVATE KEY-----\n`
  t.equal(scan(pem, 'k.pem').length, 1)
})

t.test('basic-auth pairs in code: the second string is the password', async (t) => {
  const v = secret(18)
  t.same(scan(`resp = requests.get(URL, auth=("svc", "${v}"), timeout=10)\n`, 'report.py'), [v])
  t.same(scan(`session.auth = HTTPBasicAuth('svc', '${v}')\n`, 'sync.py'), [v])
  t.same(scan(`req.SetBasicAuth("svc", "${v}")\n`, 'http.go'), [v])
  t.same(scan(`return new PasswordAuthentication("svc", "${v}");\n`, 'Mailer.java'), [v])
  t.same(scan('requests.get(URL, auth=(user, password))\nreq.SetBasicAuth("svc", os.Getenv("PASS"))\nHTTPBasicAuth("user", "password")\n', 'a.py'), [])
})

t.test('docker login -p and .pgpass lines', async (t) => {
  const v = secret(16)
  t.same(scan(`script:\n  - docker login -u deploy -p ${v} registry.acme.io\n`, '.gitlab-ci.yml'), [v])
  t.same(scan('docker login -u deploy -p $CI_REGISTRY_PASSWORD registry.acme.io\ndocker login -u deploy --password-stdin\n', 'ci.sh'), [])
  t.same(scan(`db.internal:5432:app:svc:${v}\n`, 'home/.pgpass'), [v])
  t.same(scan(`db.internal:5432:app:svc:${v}\n`, 'notes.txt'), [], 'the same line in another file is not a .pgpass')
  t.same(scan('# host:port:db:user:password\nlocalhost:5432:*:postgres:*\n', '.pgpass'), [])
})

t.test('WordPress salts: aligned define() with punctuation-heavy values', async (t) => {
  const v = `Ab3k|x%P{[8^ns)|Tq7;L,Zp+e=N~w]yH!c#mR_u<v>d*G(o.JfB2s:${chars(ALNUM, 10)}`
  t.same(scan(`<?php\ndefine( 'AUTH_KEY',         '${v}' );\n`, 'wp-config.php'), [v])
  t.same(scan("<?php\ndefine( 'AUTH_KEY',         'put your unique phrase here' );\ndefine('DB_HOST', 'localhost');\n", 'wp-config.php'), [], "WordPress's own placeholder")
  t.ok(isPlaceholder(`${chars(ALNUM, 40)}<your-key>`), 'a bracketed word in a long value is still a placeholder mark')
  t.notOk(isPlausibleSecret('fn(a){return a?b:c}', 6, 2.2, true), 'short code between literals stays out')
})

t.test('hex bearer tokens, Azure storage keys after => and in template literals, passwords that start like a version', async (t) => {
  const hex = '07cd0dc8e9fed6a66e6864a9ca6cc9bf7f6' // entropy 3.39: random, but under 3.5
  t.same(scan(`curl -H "Authorization: Bearer ${hex}" https://api.acme.io/v1/me\n`, 'README.md'), [hex])
  t.same(scan('curl -H "Authorization: Bearer 0000000000000000000000000000000000" https://x\n', 'README.md'), [])
  const key = `${chars(B64, 86)}==`
  t.same(scan(`<?php\nreturn [\n    'storage_account_key' => '${key}',\n];\n`, 'config.php'), [key])
  t.same(scan(`var azureStorageKey = \`${key}\`\n`, 'keys.go'), [key])
  t.same(scan(`"integrity": "sha512-${key}"\n`, 'package-lock.json'), [], 'a sha512 digest has the same shape')
  t.same(scan('$redispassword = "=96~UV_7AB-PTo";\n', 'config.php'), ['=96~UV_7AB-PTo'])
  t.same(scan('"password_lib": ">=1.2.3",\n"token_version": "~2.0",\n', 'package.json'), [])
})

t.test('held-out round: type annotations, XML CDATA, quoted values that start with !, bracketed mixed case in a salt', async (t) => {
  const v = secret(24)
  t.same(scan(`pub const API_TOKEN: &str = "${v}";\n`, 'src/config.rs'), [v])
  t.same(scan(`const apiKey: string = '${v}'\n`, 'src/a.ts'), [v])
  t.same(scan(`API_KEY: str = "${v}"\n`, 'settings.py'), [v])
  t.same(scan('password: str = Field(..., min_length=12)\nconst token: string = getToken()\napiKey: string | undefined = undefined\n', 'a.ts'), [])
  t.same(scan(`<password><![CDATA[${v}]]></password>\n`, 'server.xml'), [v])
  t.same(scan('<password><![CDATA[${DB_PASSWORD}]]></password>\n', 'server.xml'), [])
  t.same(scan(`{'host': 'db', 'password': '!${v}'}\n`, 'out.txt'), [`!${v}`])
  t.ok(isPlaceholder(`${chars(ALNUM, 40)}[REDACTED]`))
  t.notOk(isPlaceholder(`,rYYI2Ho5skzJCK#FFUc%xX_JOc{j3eCM1Au(c>#MR5[dYro]sP54z<Bb.<KgL,[`))
})

t.test('ASP.NET JWT signing key: "Key" inside a Jwt section', async (t) => {
  const v = `${chars(B64, 43)}=`
  t.same(scan(JSON.stringify({ Jwt: { Key: v, Issuer: 'https://api.acme.io' } }, null, 2), 'appsettings.json'), [v])
  t.same(scan(JSON.stringify({ JwtSettings: { Issuer: 'x', SecretKey: v } }), 'appsettings.json'), [v])
  t.same(scan(JSON.stringify({ Jwt: { Key: '${JWT_KEY}', Issuer: 'x' }, Localization: { Key: 'greeting_title_1' } }), 'appsettings.json'), [])
})

t.test('second held-out round: #define in C headers, redis-cli -a, names of algorithms', async (t) => {
  const v = secret(26)
  t.same(scan(`#pragma once\n#define WIFI_PASSWORD "${v}"\n`, 'firmware/secrets.h'), [v])
  t.same(scan('#define PASSWORD_MAX_LEN 64\n#define API_KEY_HEADER "X-Api-Key"\n#define TOKEN_PREFIX "Bearer "\n', 'http.h'), [])
  t.same(scan(`redis-cli -h cache -a ${v} FLUSHALL\n`, 'flush.sh'), [v])
  t.same(scan('redis-cli -h cache -a "$REDIS_PASSWORD" PING\nredis-cli --askpass\n', 'ping.sh'), [])
  t.same(scan('password_hash_algorithm=argon2id\ntoken_signing_method=RS256\nsecret_cipher=aes-256-gcm\n', 'crypto.env'), [])
})

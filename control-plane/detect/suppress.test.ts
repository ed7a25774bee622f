import t from 'tap'
import { hasFileMarker, hasLineMarker, isCodePath, isEnvReference, isPlaceholder, isPlausibleSecret, isTemplated, looksLikeCode, looksLikeIdentifier } from './suppress.js'
import { charClasses, shannonEntropy } from './entropy.js'
import { Rng, ALPHA } from './corpus/random.js'

t.test('entropy and character classes', async (t) => {
  t.equal(shannonEntropy(''), 0)
  t.equal(shannonEntropy('aaaa'), 0)
  t.equal(shannonEntropy('abcd'), 2)
  t.ok(shannonEntropy(new Rng(1).chars(40, ALPHA.base62)) > 4.5)
  t.equal(charClasses('aB3!'), 4)
  t.equal(charClasses('abc'), 1)
})

t.test('placeholders, references, templating', async (t) => {
  for (const v of ['xxxxxxxxxxxx', 'your-api-key', 'YOUR_TOKEN_HERE', '<password>', 'changeme', 'REDACTED', '********', 'sk_test_4eC39HqLyjWDarjtT1zdp7dc', 'secret123', 'P@ssw0rd', 'abc123456def', 'aaaaaaaaaaaa']) {
    t.ok(isPlaceholder(v), v)
  }
  for (const v of ['$DB_PASSWORD', '${TOKEN}', 'process.env.KEY', 'os.environ["X"]', '%APPDATA%', 'secrets.NPM_TOKEN']) t.ok(isEnvReference(v), v)
  for (const v of ['{{ .Values.token }}', '{% raw %}', '<%= ENV["X"] %>', '((db-password))', '#{secret}', '__TOKEN__', '%(password)s']) t.ok(isTemplated(v), v)
  const rng = new Rng(9)
  for (let i = 0; i < 200; i++) {
    const v = rng.chars(40, ALPHA.base62)
    t.notOk(isPlaceholder(v) || isEnvReference(v) || isTemplated(v), `random ${v}`)
  }
})

t.test('code, identifiers and code paths', async (t) => {
  for (const v of ['getPassword()', 'config.db.password', 'this.token', 'None', 'true', 'settings.SECRET_KEY']) t.ok(looksLikeCode(v), v)
  t.notOk(looksLikeCode('Xk9LmQ2pRt7vWz'))
  for (const v of ['550e8400-e29b-41d4-a716-446655440000', 'sha512-abc', '1.2.3', '0x0B95', '^7.1.3', './path/to/file', '$2b$12$abcdefghijklmnopqrstuv']) t.ok(looksLikeIdentifier(v), v)
  t.ok(isCodePath('src/a.ts'))
  t.ok(isCodePath('lib/x.min.js'))
  t.notOk(isCodePath('.env'))
  t.notOk(isCodePath('config/app.yaml'))
})

t.test('markers', async (t) => {
  for (const line of ['x = 1 # gitleaks:allow', 'x # leakgate:allow', '# pragma: allowlist secret', '// nosec', 'fake credentials below', 'test fixture']) t.ok(hasLineMarker(line), line)
  t.notOk(hasLineMarker('password = "Qx7!mPz2Lw"'))
  t.ok(hasFileMarker('# leakgate: test-fixtures\nA=1'))
  t.notOk(hasFileMarker(`${'x'.repeat(2000)}\n# leakgate: test-fixtures`), 'only near the top')
})

t.test('plausible secrets: length, entropy, classes, one printable word', async (t) => {
  t.ok(isPlausibleSecret('Tiger4821!maple', 6, 2.2))
  t.notOk(isPlausibleSecret('short1', 10, 3))
  t.notOk(isPlausibleSecret('production', 6, 2.2), 'one class of characters')
  t.notOk(isPlausibleSecret('two words9', 6, 2.2), 'spaces')
  t.notOk(isPlausibleSecret('SHOULD_BE_STRIPPED', 6, 2.2), 'a constant name')
  t.notOk(isPlausibleSecret('MySecretValue', 6, 2.2, true), 'CamelCase words')
  t.ok(isPlausibleSecret('KxL.DKaih_Uj', 6, 2.2, true), 'random with dots, quoted')
})

/**
 * Secrets whose name and value are apart, in the shapes configuration formats give them:
 * `- name: DB_PASSWORD` / `value: ...` (Kubernetes env), `variable "db_password" { default = ... }`
 * (Terraform), `<password>...</password>` and `key="ApiKey" value="..."` (XML), `define('DB_PASSWORD',
 * '...')` (PHP), `ENV DB_PASSWORD value` (Dockerfile), `--password value` (command lines),
 * `machine … password …` (.netrc), `_auth=` (.npmrc). The generic rule's `name = value` misses them.
 */
import type { Candidate, Range, Rule } from '../rule.js'
import { keywordMatcher } from '../keywords.js'
import { isPlausibleSecret, isPublicName } from '../suppress.js'
import { decodeBase64Text } from './structured.js'

/** A name that says its value is a secret. */
const SECRET_NAME = '[A-Za-z0-9_.-]{0,40}?(?:password|passwd|passphrase|pwd|pass(?![a-z])|secret|token|api[_.-]?key|apikey|access[_.-]?key|private[_.-]?key|(?:encryption|signing|master|session|consumer|license|storage|account|auth)[_.-]?key|(?:auth|nonce|logged[_.-]?in)[_.-]?(?:key|salt)|credentials?)[A-Za-z0-9_.-]{0,30}'

/** Names of things about a secret (its name, path, length), not the secret. */
const META = /(?:name|id|path|file|url|uri|type|length|len|size|ttl|expiry|timeout|header|prefix|field|version|endpoint|format|hint|label|ref|arn|policy|enabled|required|algorithm|algo|cipher|scheme|method|strategy|sha\d{0,3}|md5|digest|checksum|fingerprint|uuid|guid)$/i

interface Shape {
  /** The regex; group `name` holds the secret's name (optional), group `value` the value. */
  source: string
  flags: string
  /** Lowercase strings one of which the text must hold for the shape to be tried (speed). */
  gate: string[]
  /** Lowercase strings each of which the text must hold too: words every match has, past a costly start. */
  also?: string[]
}

const SHAPES: Shape[] = [
  // Kubernetes and compose env lists: - name: DB_PASSWORD \n value: "..."
  { source: `name:\\s{0,4}["']?(?<name>${SECRET_NAME})["']?[ \\t]*\\r?\\n[ \\t]*(?:-[ \\t]*)?value:[ \\t]{0,4}["']?(?<value>[^"'\\s]{1,200})`, flags: 'gi', gate: ['value:'] },
  // Terraform: variable "db_password" { ... default = "..." }
  { source: `variable\\s{1,4}"(?<name>${SECRET_NAME})"\\s{0,4}\\{[^}]{0,400}?default\\s{0,4}=\\s{0,4}"(?<value>[^"\\n]{1,200})"`, flags: 'gi', gate: ['variable'] },
  // XML elements: <password>...</password>, <db.password>...</db.password>
  // The value may stand alone on its own indented line between the tags.
  { source: `<(?<name>${SECRET_NAME})>[ \\t]{0,40}(?:\\r?\\n[ \\t]{0,40})?(?:<!\\[CDATA\\[)?(?<value>[^<\\s\\]{}]{1,200})(?:\\]\\]>)?[ \\t]{0,40}(?:\\r?\\n[ \\t]{0,40})?</\\k<name>>`, flags: 'gi', gate: ['</'] },
  // Jenkins credentials.xml and job configs keep a secret in braces: <password>{AQAAABAAAAAQ...}</password>
  // (encrypted with the controller's key, which a leaked JENKINS_HOME holds too); exported or hand-written
  // ones put a label first: <secret>{label AQAAABAAA value}</secret>. The value is the last word.
  { source: `<(?<name>${SECRET_NAME})>\\s{0,40}\\{(?:[^{}<>\\n]{0,200}[ \\t])?(?<value>[A-Za-z0-9+/=_.~-]{8,4000})\\}\\s{0,40}</\\k<name>>`, flags: 'gi', gate: ['>{'] },
  // Log lines: [DEBUG] Using Foo Key=..., [INFO] token: ..., level=debug msg="client secret=..."
  { source: `\\[(?:DEBUG|INFO|TRACE|WARN|WARNING|ERROR|FINE|VERBOSE)\\][^\\n]{0,80}?(?<![A-Za-z0-9])(?<name>[A-Za-z0-9_.-]{0,30}?(?:key|token|secret|password|passwd|pwd|credentials?|auth))[ \\t]{0,2}[=:][ \\t]{0,2}["']?(?<value>[^\\s"',;:]{1,200})(?![^\\s"',;])`, flags: 'gi', gate: ['[debug]', '[info]', '[trace]', '[warn', '[error]', '[fine]', '[verbose]'] },
  // XML attributes: key="ApiKey" value="..." (appSettings, Java properties XML)
  { source: `(?:key|name)\\s{0,2}=\\s{0,2}"(?<name>${SECRET_NAME})"\\s{1,4}value\\s{0,2}=\\s{0,2}"(?<value>[^"]{1,200})"`, flags: 'gi', gate: ['value'] },
  // JSON name/value pairs: Postman environments {"key": "dbPassword", "value": "..."}, ECS task
  // definitions and Azure app settings {"name": "DB_PASSWORD", "value": "..."}.
  { source: `"(?:key|name)"\\s{0,4}:\\s{0,4}"(?<name>${SECRET_NAME})"\\s{0,4},\\s{0,40}(?:"(?:type|enabled)"\\s{0,4}:\\s{0,4}(?:"\\w{1,20}"|true|false)\\s{0,4},\\s{0,40})?"value"\\s{0,4}:\\s{0,4}"(?<value>[^"\\n]{1,200})"`, flags: 'gi', gate: ['"value"'] },
  // Postman auth helpers: "apikey": [{"key": "value", "value": "..."}, {"key": "key", "value": "X-Api-Key"}];
  // in an apikey array the entry named "value" is the key itself.
  { source: `"key"\\s{0,4}:\\s{0,4}"value"\\s{0,4},\\s{0,40}"value"\\s{0,4}:\\s{0,4}"(?<value>[^"\\n]{1,200})"|"value"\\s{0,4}:\\s{0,4}"(?<value2>[^"\\n]{1,200})"\\s{0,4},\\s{0,40}"key"\\s{0,4}:\\s{0,4}"value"`, flags: 'g', gate: ['"apikey"'] },
  // GitLab CI variables with options: DEPLOY_TOKEN:\n  value: "..."\n  description: ...
  { source: `^[ \\t]{0,20}(?<name>${SECRET_NAME}):[ \\t]*\\r?\\n[ \\t]{1,40}value:[ \\t]{0,4}["']?(?<value>[^"'\\s]{1,200})`, flags: 'gim', gate: ['value:'] },
  // Android builds: buildConfigField "String", "API_KEY", "\"...\"" and resValue "string", "api_key", "..."
  { source: `(?:buildConfigField|resValue)\\(?\\s{0,4}["'][A-Za-z]{1,20}["']\\s{0,4},\\s{0,4}["'](?<name>${SECRET_NAME})["']\\s{0,4},\\s{0,4}["'](?:\\\\["'])?(?<value>[^"'\\\\\\n]{1,200})`, flags: 'gi', gate: ['buildconfigfield', 'resvalue'] },
  // Basic-auth pairs in code: requests' auth=("user", "..."), HTTPBasicAuth, Go's SetBasicAuth, Java's
  // PasswordAuthentication, .NET's NetworkCredential: the second string is the password.
  { source: `(?:\\bauth\\s{0,4}=\\s{0,4}\\(|(?:HTTPBasicAuth|HTTPDigestAuth|SetBasicAuth|BasicAuth|PasswordAuthentication|NetworkCredential|UsernamePasswordCredentials)\\()\\s{0,4}["'][^"'\\n]{1,100}["']\\s{0,4},\\s{0,4}["'](?<value>[^"'\\n]{1,200})["']`, flags: 'g', gate: ['auth=(', 'auth =(', 'auth= (', 'auth = (', 'basicauth(', 'digestauth(', 'passwordauthentication(', 'networkcredential(', 'usernamepasswordcredentials('] },
  // ASP.NET appsettings: "Jwt": { "Key": "..." }. A bare "Key" says nothing; inside a JWT section it is the signing key.
  { source: `"(?<name>Jwt[A-Za-z]{0,20}|JWT[A-Za-z]{0,20}|Token(?:Options|Settings))"\\s{0,4}:\\s{0,4}\\{[^{}]{0,400}?"(?:Key|Secret|SigningKey|SecretKey|IssuerSigningKey)"\\s{0,4}:\\s{0,4}"(?<value>[^"\\n]{1,200})"`, flags: 'g', gate: ['jwt', 'token'] },
  // PHP define('DB_PASSWORD', '...') and calls such as setPassword("..."), .password("...")
  { source: `(?:define\\(\\s{0,4}["'](?<name>${SECRET_NAME})["']\\s{0,4},\\s{0,20}|(?:set|with|\\.)(?<name2>password|passwd|secret|token|apikey|api_key)\\()\\s{0,4}["'](?<value>[^"'\\n]{1,200})["']`, flags: 'gi', gate: ['define(', 'password(', 'passwd(', 'secret(', 'token(', 'apikey(', 'api_key('] },
  // A name and a value as the two first arguments of a call: os.environ.setdefault("DB_PASSWORD", "..."),
  // os.Setenv, System.setProperty, Environment.SetEnvironmentVariable, config.set('api_key', '...').
  { source: `\\(\\s{0,4}["'](?<name>${SECRET_NAME})["']\\s{0,4},\\s{0,4}["'](?<value>[^"'\\n]{1,200})["']`, flags: 'gi', gate: ['",', "',"] },
  // PowerShell: ConvertTo-SecureString "..." -AsPlainText (the plain-text password, by definition).
  { source: `ConvertTo-SecureString\\s{1,4}(?:-String\\s{1,4})?["'](?<value>[^"'\\n]{1,200})["']\\s{1,4}-AsPlainText`, flags: 'gi', gate: ['convertto-securestring'] },
  // Dockerfile ENV/ARG with a space: ENV DB_PASSWORD value
  { source: `^[ \\t]*(?:ENV|ARG)[ \\t]+(?<name>${SECRET_NAME})[ \\t]+["']?(?<value>[^\\s"'=][^\\s"']{0,199})`, flags: 'gim', gate: ['env ', 'arg ', 'env\t', 'arg\t'] },
  // Command lines: --password value, -p'value' for mysql, sshpass -p value
  { source: `(?:^|\\s)--?(?<name>password|passwd|pass|token|api-key|apikey|secret|client-secret)[ \\t]{1,4}["']?(?<value>[^\\s"'$-][^\\s"']{0,199})`, flags: 'gim', gate: ['-password', '-passwd', '-pass', '-token', '-api-key', '-apikey', '-secret', '-client-secret'] },
  // C and C++ headers: #define WIFI_PASSWORD "..."
  { source: `^[ \\t]*#[ \\t]*define[ \\t]+(?<name>${SECRET_NAME})[ \\t]+(?:L|u8)?"(?<value>[^"\\n]{1,200})"`, flags: 'gim', gate: ['#define', '# define'] },
  // redis-cli -a value
  { source: `redis-cli\\b[^\\n]{0,120}?[ \\t]-a[ \\t]+["']?(?<value>[^\\s"'$]{3,200})`, flags: 'g', gate: ['redis-cli'] },
  // docker login -u user -p value (CI scripts)
  { source: `docker[ \\t]+login\\b[^\\n]{0,120}?[ \\t]-p[ \\t]+["']?(?<value>[^\\s"'$]{3,200})`, flags: 'g', gate: ['docker'] },
  { source: `(?:mysql|mysqldump|sshpass)\\b[^\\n]{0,120}?\\s-p["']?(?<value>[^\\s"'$]{3,200})`, flags: 'g', gate: ['mysql', 'sshpass'] },
  // .netrc: machine host login user password value
  { source: `(?:\\bmachine\\s+\\S{1,255}|^[ \\t]{0,8}default)\\s+login\\s+\\S{1,255}\\s+password\\s+(?<value>[^\\s'"\`]{1,200})`, flags: 'gm', gate: ['machine', 'default'], also: ['login', 'password'] },
]

/**
 * Every shape's gates, found in one pass over the text: one `includes` a gate (some sixty) read a large
 * file sixty times, a fifth of a scan's time on source code. The scanner finds them in its own pass
 * (the rule's `presence`); this matcher serves callers that give no `present`.
 */
const GATE_STRINGS = [...new Set(SHAPES.flatMap((shape) => [...shape.gate, ...shape.also ?? []]))]
const GATES = keywordMatcher(GATE_STRINGS)

/** The named-value detectors. */
export function namedValueRules(): Rule[] {
  return [{
    id: 'named-secret', kind: 'generic_secret', description: 'Secret whose name and value are written apart (env lists, XML, Terraform, PHP, Dockerfile, command lines, .netrc)', severity: 'medium',
    keywords: ['pass', 'pwd', 'secret', 'token', 'key', 'credential', 'mysql', 'securestring', 'auth', 'docker', 'redis-cli', 'default', 'buildconfigfield', 'resvalue'], priority: 0,
    presence: GATE_STRINGS,
    *find(text: string, _path?: string, lower?: string, _range?: Range, present?: ReadonlySet<string>): Iterable<Candidate> {
      const gates = present ?? GATES.find(lower ?? text).present
      for (const shape of SHAPES) {
        if (!shape.gate.some((g) => gates.has(g)) || !(shape.also ?? []).every((g) => gates.has(g))) continue
        const re = new RegExp(shape.source, shape.flags)
        for (let m = re.exec(text); m !== null; m = re.exec(text)) {
          const name = m.groups?.name ?? m.groups?.name2 ?? 'password'
          // Unquoted values end where prose or code punctuation starts: `--password value,`.
          const value = (m.groups?.value ?? m.groups?.value2 ?? '').replace(/[,;)\]}]+$/, '')
          // The words just before the name belong to it in prose and logs: "cache key", "public token".
          if (META.test(name) || isPublicName(text.slice(Math.max(0, m.index + m[0].indexOf(name) - 12), m.index + m[0].indexOf(name) + name.length))) continue
          const password = /pass|pwd/i.test(name)
          if (/^[a-z]+(?:[-_][a-z]+)*$/.test(value)) continue
          // Some issuers shape their keys as UUIDs: under a token or key name, one is the key.
          if (!password && /(?:token|key|secret)$/i.test(name) && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) {
            yield { value, index: m.index + m[0].lastIndexOf(value) }
            continue
          }
          if (!(password ? isPlausibleSecret(value, 6, 2.2, true) : isPlausibleSecret(value, 10, 3, true))) continue
          yield { value, index: m.index + m[0].lastIndexOf(value) }
        }
      }
    },
  }, {
    id: 'pgpass', kind: 'password', description: 'Password in a PostgreSQL .pgpass file (host:port:database:user:password)', severity: 'high',
    keywords: [], priority: 1,
    *find(text: string, path = ''): Iterable<Candidate> {
      // The file's name is the only sign: its lines are bare colon-separated fields.
      if (!/(?:^|\/)(?:\.pgpass|pgpass\.conf)$/.test(path)) return
      const re = /^[^:#\n]{1,255}:[^:\n]{1,10}:[^:\n]{1,255}:[^:\n]{1,255}:([^\n]{1,200})$/gm
      for (let m = re.exec(text); m !== null; m = re.exec(text)) {
        const value = (m[1] ?? '').trim()
        if (!isPlausibleSecret(value, 4, 1.5, true)) continue
        yield { value, index: m.index + m[0].lastIndexOf(value) }
      }
    },
  }, {
    id: 'npmrc-auth', kind: 'npm_auth', description: 'Registry credentials in an .npmrc (_auth, base64 user:password)', severity: 'high',
    keywords: ['_auth', '_password'], priority: 2,
    *find(text: string): Iterable<Candidate> {
      const re = /(?:^|:)_(auth|password)\s{0,4}=\s{0,4}["']?([A-Za-z0-9+/]{8,400}={0,2})/gm
      for (let m = re.exec(text); m !== null; m = re.exec(text)) {
        const written = m[2] ?? ''
        const decoded = decodeBase64Text(written)
        // _password holds the password alone, base64-encoded; _auth holds user:password.
        if (m[1] === 'password') {
          if (decoded !== undefined && isPlausibleSecret(decoded, 4, 1.5, true)) yield { value: decoded, index: m.index + m[0].lastIndexOf(written), length: written.length }
          continue
        }
        const pair = decoded
        if (pair === undefined || !pair.includes(':') || !isPlausibleSecret(pair.slice(pair.indexOf(':') + 1), 4, 1.5, true)) continue
        yield { value: pair, index: m.index + m[0].lastIndexOf(written), length: written.length }
      }
    },
  }]
}

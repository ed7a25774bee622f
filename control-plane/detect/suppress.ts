/**
 * Values that sit where a secret would but are not one: placeholders, references to the
 * environment or a secret store, template expressions, documentation examples, and lines or
 * files a developer marked as holding test fixtures. Each check is a pure function of the
 * candidate value (or its line) so that every detector can share it.
 */
import { charClasses, shannonEntropy } from './entropy.js'

/** Examples published in providers' own documentation: never live, often copied. */
const KNOWN_EXAMPLES = new Set([
  'AKIAIOSFODNN7EXAMPLE',
  'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  'sk_test_4eC39HqLyjWDarjtT1zdp7dc',
  'SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
  'AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI',
  'sk_test_BQokikJOvBiI2HlWgH4olfQ2',
  'xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy',
  'je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY',
  'AKIAI44QH8DHBEXAMPLE',
  // Google API keys published as examples in the Firebase Android SDK's sources and samples.
  'AIzaSyabcdefghijklmnopqrstuvwxyz1234567',
  'AIzaSyAnLA7NfeLquW1tJFpx_eQCxoX-oo6YyIs',
  'AIzaSyCkEhVjf3pduRDt6d1yKOMitrUEke8agEM',
  'AIzaSyDMAScliyLx7F0NPDEJi1QmyCgHIAODrlU',
  'AIzaSyD3asb-2pEZVqMkmL6M9N6nHZRR_znhrh0',
  'AIzayDNSXIbFmlXbIE6mCzDLQAqITYefhixbX4A',
  'AIzaSyAdOS2zB6NCsk1pCdZ4-P6GBdi_UUPwX7c',
  'AIzaSyASWm6HmTMdYWpgMnjRBjxcQ9CKctWmLd4',
  'AIzaSyANUvH9H9BsUccjsu2pCmEkOPjjaXeDQgY',
  'AIzaSyA5_iVawFQ8ABuTZNUdcwERLJv_a_p4wtM',
  'AIzaSyA4UrcGxgwQFTfaI3no3t7Lt1sjmdnP5sQ',
  'AIzaSyDSb51JiIcB6OJpwwMicseKRhhrOq1cS7g',
  'AIzaSyBF2RrAIm4a0mO64EShQfqfd2AFnzAvvuU',
  'AIzaSyBcE-OOIbhjyR83gm4r2MFCu4MJmprNXsw',
  'AIzaSyB8qGxt4ec15vitgn44duC5ucxaOi4FmqE',
  'AIzaSyA8vmApnrHNFE0bApF4hoZ11srVL_n0nvY',
])

/**
 * Passwords that documentation, tutorials and comics use as the example of a password: in a
 * README they are what the reader is told to replace, never a leak.
 */
const SAMPLE_PASSWORDS = new Set(['hunter2', 'p@ssw0rd', 'p@ssword', 'passw0rd', 'p4ssw0rd', 'pa$$w0rd', 'pa$$word', 'letmein', 'trustno1',
  'iloveyou', 'qwerty123', 'password1', 'password1!', 'password123!', 'passw0rd!', 'p@ssw0rd!', 'p@ssw0rd1', 'p@55w0rd', 'welcome1', 'welcome123',
  'admin123', 'admin@123', 'root123', 'test1234', 'tr0ub4dor&3', 'correcthorsebatterystaple', 'correct-horse-battery-staple', 's3cr3t', 's3cret',
  'secr3t', 'mys3cr3t', 'mysecretpassword', 'supersecret', 'supersecretpassword', 'topsecret', 'changeit', 'opensesame', 'swordfish'])

/** Words that mark a made-up value, matched in one case (lower, UPPER, Capitalised): random tokens mix cases. */
const PLACEHOLDER_WORD_LIST = ['example', 'sample', 'placeholder', 'changeme', 'change_me', 'change-me', 'replaceme', 'replace_me', 'redacted',
  'dummy', 'fake', 'value', 'notreal', 'not_real', 'not-a-real', 'todo', 'fixme', 'insert_', 'insert-', 'putyour', 'put_your', 'your_', 'your-', 'yourapikey', 'yourtoken', 'yoursecret', 'yourpassword']
const PLACEHOLDER_WORDS = new RegExp(
  PLACEHOLDER_WORD_LIST.flatMap((w) => [w, w.toUpperCase(), w[0]!.toUpperCase() + w.slice(1)]).map((w) => w.replace(/[-_]/g, '[-_]')).join('|'))
/** The same words with letters on neither side, for long random values where a word can occur by chance. */
const PLACEHOLDER_WORDS_BOUNDED = new RegExp(`(?<![A-Za-z])(?:${PLACEHOLDER_WORDS.source})(?![a-z])`)
const PLACEHOLDER_MARKS = /x{4,}|X{4,}|\*{3,}|\.{3}|…|<[^>]*>|\[[^\]]*\]|(?:secret|token|key|password)[-_]?here/i
/**
 * The same marks for long random values: there four x's in any case turn up by chance (one
 * 1 200-character private key in a thousand), so a run of x must be long and of one case, and
 * brackets must hold words of one case (`<your-key>`, `[REDACTED]`), not punctuation or a
 * mixed-case run (WordPress salts: `[8^ns)|T]`, `[dYro]`).
 */
const PLACEHOLDER_MARKS_RANDOM = /x{8,}|X{8,}|\*{3,}|\.{3}|…|[<[](?:[a-z][a-z0-9]{2,}(?:[-_ ][a-z0-9]+)*|[A-Z][A-Z0-9]{2,}(?:[-_ ][A-Z0-9]+)*)[>\]]|(?:secret|token|key|password|SECRET|TOKEN|KEY|PASSWORD)[-_]?(?:here|HERE)/

const ENV_REFERENCE =
  /(?:^\$\{?[A-Za-z_][A-Za-z0-9_]*\}?$|^\$\([^)]*\)$|^%[A-Za-z_][A-Za-z0-9_]*%$|process\.env|os\.environ|os\.getenv|getenv\(|System\.getenv|ENV\[|env\(|Environment\.GetEnvironmentVariable|secrets\.[A-Za-z_]|vault:|^arn:aws:secretsmanager|^ssm:|^op:\/\/|^sm:\/\/)/

const TEMPLATING = /(?:\$\{|\{\{.*\}\}|\{%.*%\}|\$\{[^}]*\}|<%.*%>|#\{[^}]*\}|\(\(\s*[\w.-]+\s*\)\)|@@[\w.-]+@@|__[A-Z0-9_]+__|^%\([\w]+\)s$|^\{[A-Za-z_][\w.]*\}$)/

/** Inline markers that tell scanners a line holds a fake value on purpose. */
const LINE_MARKERS = /(?:(?:leakgate|gitleaks|trufflehog|detect-secrets|ggshield|secretlint)[\s:-]{0,3}(?:allow|ignore|disable)|pragma:\s*allowlist[\s-]secret|\bnosec\b|\bno-?secrets?\b|noqa:\s*secret|test[-_ ]fixture|(?:fake|dummy|example|sample|mock)[-_ ](?:credential|secret|token|key|password|api[-_ ]?key)s?\b|not a real (?:secret|token|key|password))/i

/** A file-level marker near the top of a file: the whole file is fixtures. */
const FILE_MARKER = /(?:leakgate:\s*(?:test-fixtures?|ignore-file)|test fixtures?:\s*(?:fake|not real)|these (?:credentials|secrets|tokens|keys) are (?:fake|not real))/i

/**
 * Names of values that are public or single-use by design: CSRF and XSRF tokens (sent to every
 * browser), publishable and public keys, reCAPTCHA/Turnstile site keys, and keys that identify rather
 * than authenticate (idempotency, cache, sort, partition keys).
 */
const PUBLIC_NAME = /(?:csrf|xsrf|public|publishable|site[_. -]?key|sitekey|recaptcha|turnstile|idempotency|(?:cache|sort|partition|primary|foreign|row|lookup|routing)[_. -]?key)/i

/** A name whose value is public or identifies rather than authenticates (see PUBLIC_NAME). */
export function isPublicName(name: string): boolean {
  return PUBLIC_NAME.test(name)
}

/** A documented or obviously made-up value. */
export function isPlaceholder(value: string): boolean {
  if (KNOWN_EXAMPLES.has(value) || SAMPLE_PASSWORDS.has(value.toLowerCase())) return true
  const random = value.length >= 32 && shannonEntropy(value) >= 4.3
  if ((random ? PLACEHOLDER_WORDS_BOUNDED : PLACEHOLDER_WORDS).test(value) || (random ? PLACEHOLDER_MARKS_RANDOM : PLACEHOLDER_MARKS).test(value)) return true
  // One character repeated, or a run like 1234567890 / abcdefgh, is typed, not generated.
  if (/^(.)\1+$/.test(value)) return true
  if (/(?:012345|123456|234567|abcdef|ABCDEF|qwerty|QWERTY)/.test(value)) return true
  // Typed fillers that keep a real prefix: sk-ant-api03-abc123..., sk_live_1234abcd..., key-123xyz456...
  if (/12345|abcde|ABCDE|abc123|123abc|ABC123|xyz123|123xyz|1234abcd|abcd1234|(?:123|abc)[A-Za-z0-9]{1,8}(?:456|def)[A-Za-z0-9]{1,8}(?:789|ghi)/.test(value)) return true
  if (value.length <= 24 && namesItself(value)) return true
  if (/(.)\1{7,}/.test(value)) return true
  return false
}

/**
 * A value that is mostly the word for what it is: "secret123", "Password123!", "pa$$word",
 * "dbpassword", "t0k3nH3r3": typed by a person writing docs or tests, not issued by anyone.
 */
function namesItself(value: string): boolean {
  const words = /secret|password|passwd|passw0rd|token|apikey|api_key|privatekey|changeit/
  for (const form of [value.toLowerCase(), value.toLowerCase().replace(/[0-9$@!]/g, (c) => LEET[c] ?? c)]) {
    const m = words.exec(form)
    if (m === null) continue
    // Around the word, the filler people type with it: "MyS3cr3tP@ss", "SuperSecretKey", "dbPassword1".
    const rest = (form.slice(0, m.index) + form.slice(m.index + m[0].length)).replace(/my|super|pass(?!w)|key|db|admin|app|test|dev|prod/g, '').replace(/[^a-z]/g, '')
    if (rest.length <= 4) return true
  }
  return false
}

const LEET: Record<string, string> = { '0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', $: 's', '@': 'a', '!': 'i' }

/** A reference to where the secret lives instead of the secret. */
export function isEnvReference(value: string): boolean {
  return ENV_REFERENCE.test(value)
}

/** A template expression, filled in at deploy time. */
export function isTemplated(value: string): boolean {
  return TEMPLATING.test(value)
}

/** A line marked as holding a fake value on purpose. */
export function hasLineMarker(line: string): boolean {
  return LINE_MARKERS.test(line)
}

/** A file marked, in its first 1 KiB, as holding only fixtures. */
export function hasFileMarker(text: string): boolean {
  return FILE_MARKER.test(text.slice(0, 1024))
}

/**
 * Whether a value taken from `key = value` looks like code rather than data: an identifier,
 * a member access, a call, a type, a boolean. Such right-hand sides are everywhere in source
 * files next to the words "password" and "token".
 */
export function looksLikeCode(value: string): boolean {
  if (/^(?:true|false|null|none|nil|undefined|string|str|int|bool|bytes|object|required|optional|env|secret|password|token)$/i.test(value)) return true
  if (/^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*(?:\(.*\)?)?[;,]?$/.test(value) && !/\d/.test(value) && !looksRandom(value)) return true
  if (isDottedName(value.replace(/(?:\(.*\)?)?[;,]?$/, ''))) return true
  if (/^[A-Za-z_$][\w$.]*\(/.test(value)) return true
  if (/^(?:this|self|ctx|req|request|config|cfg|settings|options|opts|params|args|props)\b/.test(value)) return true
  return false
}

function quotedLooksLikeName(value: string): boolean {
  if (/^(?:true|false|null|none|nil|undefined)$/i.test(value)) return true
  if (isDottedName(value) && !/\d/.test(value)) return true
  if (/^[A-Za-z_$][\w$.]*\(.*\)$/.test(value)) return true
  // Letters only and few distinct ones: a word, unless the case flips as in a generated string (zwhcQJsGcssDEe).
  if (/^[A-Za-z]+$/.test(value) && shannonEntropy(value) < 3.6 && !(value.length >= 12 && looksRandom(value))) return true
  // CamelCase words (TSPrivateKeyword, MySecretValue): a name; random letters rarely split so.
  if (/^[A-Z]{0,3}[a-z]*(?:[A-Z][a-z]{2,})+$/.test(value)) return true
  return false
}

/** `config.db.password`, `Settings.SECRET_KEY`, `this.apiKey`: every segment a word-shaped name. */
function isDottedName(value: string): boolean {
  const segments = value.split('.')
  if (segments.length < 2) return false
  return segments.every((seg) => /^(?:[$_]?[a-z][a-z0-9_]*|[A-Z][A-Z0-9_]*|[$_]?[a-z]*(?:[A-Z][a-z0-9]+)+|\$[\w$]*)$/.test(seg))
}

/** Letters in a random order: many case changes and high entropy, unlike a camelCase name. */
function looksRandom(value: string): boolean {
  if (value.length < 10 || shannonEntropy(value) < 3.2) return false
  const changes = value.match(/[a-z][A-Z]|[A-Z][a-z]/g)?.length ?? 0
  return changes >= value.length / 4
}

/**
 * A source-code file, where a secret is a quoted literal and an unquoted right-hand side is an
 * expression. Configuration, shell, docs and notebooks are not code in this sense.
 */
export function isCodePath(path: string): boolean {
  return /\.(?:[cm]?[jt]sx?|py|go|java|kt|kts|scala|rb|php|cs|fs|vb|c|cc|cpp|h|hpp|rs|swift|m|mm|dart|lua|pl|groovy|clj|ex|exs|erl|hs|ml|r|jl|map|ps1|psm1)$/i.test(path)
}

/** UUIDs, hashes and version strings: random-looking values that are not secrets by themselves. */
export function looksLikeIdentifier(value: string): boolean {
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) return true
  if (/^(?:sha(?:1|256|384|512)|md5)[-:]/i.test(value)) return true
  if (/^v?\d+(?:\.\d+){1,3}(?:[-+][\w.]+)?$/.test(value)) return true
  if (/^\d+$/.test(value)) return true
  if (/^0x[0-9a-f]+$/i.test(value)) return true
  // Password hashes (bcrypt, argon2, crypt, Django, LDAP): stored on purpose, not usable as a password.
  if (/^(?:\$(?:2[abxy]?|argon2(?:id|i|d)|[156]|y|gy|pbkdf2[\w-]*|scrypt|sha(?:256|512)?)\$|(?:pbkdf2_sha(?:1|256)|bcrypt_sha256|argon2|sha1|md5)\$|\{(?:S?SHA\d*|S?MD5|CRYPT|PBKDF2[\w-]*|BCRYPT)\})/i.test(value)) return true
  // Version constraints (>=1.2.3, ~2.0): the whole value, so that a password starting "=96~" is not one.
  if (/^[~^>=<]{1,2}v?\d+(?:\.(?:\d+|x|\*))*(?:-[0-9A-Za-z.]+)?$/.test(value)) return true
  if (/^urn:/i.test(value)) return true
  // An artifact and its version: jjwt-jackson-0.11.2, spring-security-oauth2-2.3.5.RELEASE, lodash-4.17.21.tgz.
  if (/^[A-Za-z][\w.-]{0,80}?[-_@]v?\d{1,4}(?:\.\d{1,6}){1,3}(?:[.-](?:RELEASE|FINAL|Final|GA|SNAPSHOT|M\d{1,3}|RC\d{0,3}|rc\d{0,3}|alpha\d{0,3}|beta\d{0,3}|jar|war|tgz|tar\.gz|zip|whl|gem|nupkg|pom))*$/.test(value)) return true
  if (/^(?:https?|file|ftp):\/\/[^@\s]*$/i.test(value)) return true
  if (/^(?:\.{0,2}\/|~\/)[\w./-]*$/.test(value)) return true
  return false
}

/**
 * The shared verdict on a keyword-assigned value: is it worth reporting as a secret?
 * `minEntropy` and `minLength` come from the rule (passwords are allowed lower entropy than tokens).
 */
export function isPlausibleSecret(value: string, minLength: number, minEntropy: number, quoted = false): boolean {
  if (value.length < minLength) return false
  // Secrets are one word of printable ASCII: a value with spaces or other scripts is prose, a name,
  // or a message; one with brackets and operators is code caught between two string literals.
  if (/[^\x21-\x7e]/.test(value)) return false
  // Long and near-random (WordPress salts: 64 characters of punctuation and letters) is data, not code.
  const noisy = value.length >= 40 && shannonEntropy(value) >= 5
  if (!noisy && /[(){}]/.test(value) && /[?:=,;]|\.\w/.test(value)) return false
  // CONSTANT_NAMES and kebab-names-with-1-digit are identifiers.
  if (/^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/.test(value) && !/\d{3}/.test(value)) return false
  if (/^[a-z][a-z0-9]*(?:[-_.][a-z0-9]+)+$/.test(value) && shannonEntropy(value) < 3.5) return false
  if (isPlaceholder(value) || isEnvReference(value) || isTemplated(value)) return false
  if (looksLikeIdentifier(value)) return false
  // Unquoted, a right-hand side may be code; quoted, it is data, and a letters-only value is a
  // name only when it reads like one (low entropy) or is a dotted path or a call.
  if (quoted ? quotedLooksLikeName(value) : looksLikeCode(value)) return false
  if (shannonEntropy(value) < minEntropy) return false
  // A single word of letters ("production", "Password") is prose; a real password mixes classes.
  if (charClasses(value) < 2) return false
  return true
}

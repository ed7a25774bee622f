/**
 * Detectors that need more than one regex: private keys split over lines or escaped in
 * strings, credentials inside URLs and connection strings, base64 that must be decoded first
 * (docker `auth`, Kubernetes Secret `data`, HTTP Basic), and AWS secret keys, which look like
 * any 40-character base64 string unless their context says otherwise.
 */
import { regexRule, type Candidate, type Rule } from '../rule.js'
import { charClasses, shannonEntropy } from '../entropy.js'
import { isEnvReference, isPlaceholder, isPlausibleSecret, isTemplated } from '../suppress.js'

const WEAK_PASSWORD = /^(?:pass(?:word)?|passwd|pwd|pw|secret|changeme|admin|root|user(?:name)?|test|guest|default|none|null|foo|bar|baz|qux|x+|\*+|p@ssw0rd|password123|123456)$/i

function notPlaceholder(value: string): boolean {
  return !isPlaceholder(value) && !isEnvReference(value) && !isTemplated(value) && !WEAK_PASSWORD.test(value)
}

/** Decodes strict base64 to UTF-8 text, or undefined when it is not base64 of printable text. */
export function decodeBase64Text(value: string): string | undefined {
  const v = value.trim()
  if (v.length < 4 || v.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(v)) return undefined
  const text = Buffer.from(v, 'base64').toString('utf8')
  // Binary data or a wrong guess decodes to control characters or replacement characters.
  if (/[\u0000-\u0008\u000e-\u001f\ufffd]/.test(text)) return undefined
  return text
}

/** Private keys: PEM (RSA, EC, DSA, OpenSSH, PKCS#8, encrypted, PGP) as written in a file, a YAML block, a JSON or code string. */
function pemRule(): Rule {
  const begin = /-----BEGIN ((?:[A-Z0-9]+ ){0,3})PRIVATE KEY( BLOCK)?-----/g
  const end = /-----END ((?:[A-Z0-9]+ ){0,3})PRIVATE KEY( BLOCK)?-----/g
  // Body: base64, whitespace, header lines (Proc-Type: 4,ENCRYPTED), and the escapes and quotes
  // of a key written in a JSON or code string ("...\n" + "...").
  const bodyChars = /^[A-Za-z0-9+/=\s:,.\\"'`+-]*$/
  return {
    id: 'private-key', kind: 'private_key', description: 'PEM or OpenSSH private key', severity: 'critical', keywords: ['private key'], priority: 2,
    *find(text: string): Iterable<Candidate> {
      // Pair each END with the nearest BEGIN before it, in one pass over both lists, so that a
      // file with many BEGIN lines and no END costs linear time.
      const begins = [...text.matchAll(new RegExp(begin.source, 'g'))]
      const ends = [...text.matchAll(new RegExp(end.source, 'g'))]
      let e = 0
      for (let b = 0; b < begins.length; b++) {
        const m = begins[b]!
        const bodyStart = m.index + m[0].length
        while (e < ends.length && ends[e]!.index < bodyStart) e++
        const close = ends[e]
        if (close === undefined) break
        const next = begins[b + 1]
        if (next !== undefined && next.index < close.index) continue
        const raw = text.slice(bodyStart, close.index)
        if (raw.length > 16000 || !bodyChars.test(raw)) continue
        const body = raw
          .replace(/\\[nrt]/g, '\n')
          .split('\n')
          .filter((line) => !line.includes(':'))
          .join('')
          .replace(/[^A-Za-z0-9+/=]/g, '')
        // The token is the key material itself, so one key written three ways is one token.
        if (body.length < 64 || isPlaceholder(body) || shannonEntropy(body) < 4.5) continue
        yield { value: body, index: m.index, length: close.index + close[0].length - m.index }
      }
    },
  }
}

/** `scheme://user:password@host`: the password. */
function urlPasswordRule(): Rule {
  // The password may hold '@', '?' or '#' written raw: the last '@' before a host name ends it.
  // The match starts at '://' (a literal the regex engine finds fast); the scheme is checked after.
  const source = '://([^\\s:/?#@\'"`<>\\\\]{0,100}):([^\\s/\'"`<>\\\\]{1,200})@([A-Za-z0-9._\\[\\]-]{1,255})'
  return {
    id: 'url-password', kind: 'password', description: 'Password in a URL or connection URI', severity: 'high', keywords: ['://'], priority: 1,
    *find(text: string): Iterable<Candidate> {
      const re = new RegExp(source, 'g')
      for (let m = re.exec(text); m !== null; m = re.exec(text)) {
        if (!/(?:^|[^A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{1,20}$/.test(text.slice(Math.max(0, m.index - 22), m.index))) continue
        const user = m[1] ?? ''
        const written = m[2] ?? ''
        const host = m[3] ?? ''
        // Hashed as written: a scanner cannot know whether '%41' is an escape or part of the password.
        const password = written
        if (password.length < 3 || !notPlaceholder(password) || (user.length > 0 && !notPlaceholder('u' + user))) continue
        if (/(?:^|\.)example\.(?:com|org|net)$|^(?:host|hostname|server)$/i.test(host)) continue
        if (password === user) continue
        yield { value: password, index: m.index + m[0].indexOf(':' + written + '@') + 1, length: written.length }
      }
    },
  }
}

/** `Password=...;` in ADO.NET/ODBC/JDBC connection strings and `password=` query parameters. */
function connectionStringRule(): Rule {
  const sources = [
    // ADO.NET / ODBC: Password=...; ends at ';' or a quote.
    '(?:^|[;"\'\\s])(?:password|pwd|passwd)\\s{0,3}=\\s{0,3}([^;\'"`\\s<>]{3,200})',
    // JDBC and URL query parameters: ends at '&'.
    '[?&](?:password|pwd|passwd|pass)=([^&;\'"`\\s<>#]{3,200})',
  ]
  return {
    id: 'connection-string-password', kind: 'password', description: 'Password in a connection string', severity: 'high', keywords: ['password', 'pwd', 'passwd'], priority: 1,
    *find(text: string): Iterable<Candidate> {
      for (const source of sources) {
        const re = new RegExp(source, 'gi')
        for (let m = re.exec(text); m !== null; m = re.exec(text)) {
          const written = m[1] ?? ''
          const around = text.slice(Math.max(0, m.index - 300), m.index + m[0].length + 50).toLowerCase()
          if (!/(?:server|data source|host|user id|uid|initial catalog|database|jdbc:|odbc|driver=|[?&]user=)/.test(around)) continue
          const value = written
          if (!notPlaceholder(value)) continue
          // `password = written` in code: an identifier, not a value.
          if (/^[A-Za-z_$][\w$]*$/.test(value) && !/\d/.test(value) && shannonEntropy(value) < 3.5) continue
          yield { value, index: m.index + m[0].lastIndexOf(written), length: written.length }
        }
      }
    },
  }
}

/** docker config.json `"auth": "base64(user:password)"`: the decoded pair. */
function dockerAuthRule(): Rule {
  return regexRule({
    id: 'docker-config-auth', kind: 'docker_auth', description: 'Registry credentials in a docker config.json',
    regex: /\\?"auth\\?"\s{0,4}:\s{0,4}\\?"([A-Za-z0-9+/]{8,600}={0,2})\\?"/, group: 1, keywords: ['"auth'], priority: 2,
    transform: (b64) => {
      const pair = decodeBase64Text(b64)
      if (pair === undefined) return undefined
      const colon = pair.indexOf(':')
      if (colon < 1) return undefined
      const password = pair.slice(colon + 1)
      return password.length >= 3 && notPlaceholder(password) ? pair : undefined
    },
  })
}

/** `curl -u user:password` and `Authorization: Basic|Bearer` in docs and scripts. */
function httpAuthRule(): Rule {
  const source = '(?:(?:^|\\s)(?:-u|--user)\\s{1,4}[\'"]?([^\\s:\'"]{1,100}):([^\\s\'"]{3,200})[\'"]?|(?:Authorization\\\\?["\']?\\s{0,4}[:=,]\\s{0,4}\\\\?["\']?|\\b)(Basic|Bearer|token)\\s{1,4}([A-Za-z0-9._~+/=-]{8,2000}))'
  return {
    id: 'http-credentials', kind: 'http_credentials', description: 'Credentials in an HTTP Authorization header or curl -u', severity: 'high', keywords: ['-u', '--user', 'authorization', 'bearer', 'basic '], priority: 1,
    *find(text: string): Iterable<Candidate> {
      const re = new RegExp(source, 'gi')
      for (let m = re.exec(text); m !== null; m = re.exec(text)) {
        if (m[2] !== undefined) {
          const password = m[2]
          if (!notPlaceholder(password) || /^[$/]/.test(password) || /^(?:https?|ftp|file)$/i.test(m[1] ?? '')) continue
          if (password.length < 4 || (password.match(/[A-Za-z0-9]/g)?.length ?? 0) < 3 || password.includes('`')) continue
          yield { value: password, index: m.index + m[0].lastIndexOf(password) }
          continue
        }
        const scheme = (m[3] ?? '').toLowerCase()
        const token = m[4] ?? ''
        if (scheme === 'basic') {
          const pair = decodeBase64Text(token)
          const password = pair?.slice(pair.indexOf(':') + 1)
          if (pair === undefined || !pair.includes(':') || password === undefined || !notPlaceholder(password)) continue
          yield { value: pair, index: m.index + m[0].lastIndexOf(token) }
        } else if (isPlausibleSecret(token, scheme === 'token' ? 20 : 16, bearerEntropy(token)) && !isPlaceholder(token)) {
          yield { value: token, index: m.index + m[0].lastIndexOf(token) }
        }
      }
    },
  }
}

/**
 * Entropy a bearer token must have: hex tokens (16 symbols, at most 4 bits a character) fall
 * under 3.5 by chance often enough to matter (1 in 50 at 35 characters), so they get 3.
 */
function bearerEntropy(token: string): number {
  return token.length >= 32 && /^[0-9a-f]+$/i.test(token) ? 3 : 3.5
}

/** Key names in a Kubernetes Secret that hold names and addresses, not secrets. */
const K8S_PUBLIC_KEYS = /^(?:user(?:name)?|login|host(?:name)?|port|server|database|db(?:name)?|namespace|region|email|url|endpoint|ca\.crt|tls\.crt|[\w.-]+\.(?:crt|pub))$/i

/** Kubernetes `kind: Secret` manifests: every `data` entry (base64-decoded) and `stringData` entry. */
function kubernetesSecretRule(): Rule {
  return {
    id: 'kubernetes-secret', kind: 'kubernetes_secret', description: 'Value in a Kubernetes Secret manifest', severity: 'high', keywords: ['kind: secret', 'kind: "secret"', "kind: 'secret'", '"kind": "secret"', '"kind":"secret"'], priority: 1,
    *find(text: string): Iterable<Candidate> {
      let docStart = 0
      const docs: Array<[number, number]> = []
      const sep = /^---.*$/gm
      for (let m = sep.exec(text); m !== null; m = sep.exec(text)) {
        docs.push([docStart, m.index])
        docStart = m.index + m[0].length
      }
      docs.push([docStart, text.length])
      for (const [from, to] of docs) {
        const doc = text.slice(from, to)
        // Any case and quoting, a little indentation (a manifest pasted into a list or a doc); not SecretStore, ExternalSecret.
        if (!/^[ \t]{0,4}kind:[ \t]*["']?secret["']?[ \t]*$/im.test(doc)) continue
        yield* secretEntries(doc, from)
      }
      // The same manifest as JSON (kubectl get secret -o json, Helm output).
      if (/"kind"\s*:\s*"Secret"/.test(text)) yield* jsonSecretEntries(text)
    },
  }
}

function* secretEntries(doc: string, base: number): Iterable<Candidate> {
  let mode: 'data' | 'stringData' | undefined
  let indent = -1
  const lines = doc.split('\n')
  const starts: number[] = []
  let offset = 0
  for (const line of lines) {
    starts.push(offset)
    offset += line.length + 1
  }
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    const head = /^(\s*)(data|stringData):\s*$/.exec(line)
    if (head !== null) {
      mode = head[2] as 'data' | 'stringData'
      indent = (head[1] ?? '').length
      continue
    }
    if (mode === undefined || line.trim() === '' || line.trim().startsWith('#')) continue
    const entry = /^(\s*)([\w.-]+):\s*["']?([^"'\s]+)["']?\s*$/.exec(line)
    if (entry === null || (entry[1] ?? '').length <= indent) {
      if (/^\S/.test(line) || (/^(\s*)/.exec(line)?.[1] ?? '').length <= indent) mode = undefined
      continue
    }
    const key = entry[2] ?? ''
    let raw = entry[3] ?? ''
    // Where the value is written: its line and its first characters.
    let rawLine = i
    let written = raw
    // A block scalar (`key: |` or `key: >`): the value is the more indented lines below.
    if (/^[|>][-+]?$/.test(raw)) {
      const own = (entry[1] ?? '').length
      const block: string[] = []
      while (i + 1 < lines.length && lines[i + 1]!.trim() !== '' && (/^(\s*)/.exec(lines[i + 1]!)?.[1] ?? '').length > own) {
        i++
        block.push(lines[i]!.trim())
      }
      if (block.length === 0) continue
      raw = mode === 'data' ? block.join('') : block.join('\n')
      rawLine = i - block.length + 1
      written = block[0]!
    }
    if (K8S_PUBLIC_KEYS.test(key)) continue
    // Binary data (a keystore, a key file) is reported as written: its base64 is the secret's form.
    const value = mode === 'data' ? decodeBase64Text(raw) ?? (raw.length >= 16 && /^[A-Za-z0-9+/]+={0,2}$/.test(raw) ? raw : undefined) : raw
    if (value === undefined || value.trim().length < 6) continue
    if (!notPlaceholder(value.trim())) continue
    if (value.length < 16 && charClasses(value) < 2) continue
    yield { value: value.trim(), index: base + starts[rawLine]! + lines[rawLine]!.lastIndexOf(written) }
  }
}

function* jsonSecretEntries(text: string): Iterable<Candidate> {
  const block = /"(data|stringData)"\s*:\s*\{([^{}]{1,20000})\}/g
  for (let b = block.exec(text); b !== null; b = block.exec(text)) {
    const body = b[2] ?? ''
    const bodyStart = b.index + b[0].indexOf(body)
    const entry = /"([\w.-]{1,253})"\s*:\s*"([^"\\]{1,20000})"/g
    for (let e = entry.exec(body); e !== null; e = entry.exec(body)) {
      const key = e[1] ?? ''
      const raw = e[2] ?? ''
      if (K8S_PUBLIC_KEYS.test(key)) continue
      const value = b[1] === 'data' ? decodeBase64Text(raw) : raw
      if (value === undefined || value.trim().length < 6 || !notPlaceholder(value.trim())) continue
      if (value.length < 16 && charClasses(value) < 2) continue
      yield { value: value.trim(), index: bodyStart + e.index + e[0].lastIndexOf(raw), length: raw.length }
    }
  }
}

/** AWS secret access keys: assigned to a secret-key name, or written near an access key id. */
function awsSecretRule(): Rule {
  const assigned = 'secret[_.-]?(?:access[_.-]?)?key(?:[_.-]?id)?\\\\?["\']?\\s{0,4}(?::=|=>|=|:)\\s{0,4}\\\\?["\']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])'
  const keyId = '(?<![A-Za-z0-9_])(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}(?![A-Za-z0-9_])'
  const secret = '(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])'
  const plausible = (s: string): boolean => charClasses(s) >= 3 && shannonEntropy(s) >= 4 && !/^[0-9a-f]+$/i.test(s) && notPlaceholder(s)
  return {
    id: 'aws-secret-access-key', kind: 'aws_secret_key', description: 'AWS secret access key', severity: 'critical', keywords: ['secret', 'akia', 'asia', 'abia', 'acca'], priority: 2,
    *find(text: string): Iterable<Candidate> {
      const seen = new Set<number>()
      const a = new RegExp(assigned, 'gi')
      for (let m = a.exec(text); m !== null; m = a.exec(text)) {
        const value = m[1] ?? ''
        if (!plausible(value)) continue
        const index = m.index + m[0].lastIndexOf(value)
        seen.add(index)
        yield { value, index }
      }
      const k = new RegExp(keyId, 'g')
      for (let m = k.exec(text); m !== null; m = k.exec(text)) {
        const from = Math.max(0, m.index - 400)
        const window = text.slice(from, m.index + m[0].length + 600)
        const s = new RegExp(secret, 'g')
        for (let n = s.exec(window); n !== null; n = s.exec(window)) {
          const index = from + n.index
          if (seen.has(index) || !plausible(n[0])) continue
          seen.add(index)
          yield { value: n[0], index }
        }
      }
    },
  }
}

/** The built-in structured detectors. */
export function structuredRules(): Rule[] {
  return [pemRule(), awsSecretRule(), dockerAuthRule(), kubernetesSecretRule(), urlPasswordRule(), connectionStringRule(), httpAuthRule()]
}

/**
 * Provider detectors as data: one spec a kind of token, with its pattern, its structural check,
 * its severity and the samples that prove it (true ones it must find, false ones it must not).
 * `providerRule` turns a spec into a rule; `providers/samples.test.ts` runs every spec's samples.
 *
 * Two shapes of pattern:
 * - a token whose format says who issued it (`glsa_…`, `ntn_…`): `pattern` alone, bounded on both
 *   sides so that a token inside a longer identifier does not match;
 * - a value recognisable only by the name written before it (a Snyk key is a UUID): `near` lists
 *   those names, and the value must follow one of them within a few characters (an assignment, a
 *   JSON key, a header, an XML element, a log line), as the scanners users compare us with read them.
 *
 * Every quantifier is bounded, so a megabyte-long line costs linear time.
 */
import { regexRule, type Candidate, type Rule, type Severity } from '../rule.js'
import { ALPHA, type Rng } from '../corpus/random.js'
import { maxMatchLength, reachOf } from '../regex-extent.js'

/**
 * A sample: a text (a line of a file, or a bare token) in which `{alphabet:length}` placeholders
 * are filled at test time from a seeded random source, so that no real-looking credential lives in
 * the repository; or a function making the text (for checksums).
 * Alphabets: `hex` (0-9a-f), `HEX` (0-9A-F), `a62` (base62), `b64`, `b64u` (base64url), `lc` (a-z0-9),
 * `uc` (A-Z0-9), `d` (digits), `al` (letters), `b32` (A-Z2-7), `lower` (a-z), `upper` (A-Z); and `{uuid}`.
 */
export type Sample = string | ((rng: Rng) => string)

/** One provider's token kind. */
export interface ProviderSpec {
  /** Stable rule id, kebab-case: `grafana-service-account-token`. */
  id: string
  /** Leak kind, snake_case: `grafana_service_account_token`. Several specs may share one. */
  kind: string
  description: string
  severity: Severity
  /**
   * The token (JavaScript regex source, every quantifier bounded). Boundaries are added: not after
   * `[A-Za-z0-9_]`, not before `[A-Za-z0-9_-]` (`boundaries: 'word'` lets a `-` follow).
   */
  pattern: string
  /** Names that must stand before the value (case-insensitive regex sources, e.g. `snyk`, `heroku`). */
  near?: readonly string[]
  /** Lowercase literals one of which the text must hold (prefilter). Default: the literal prefix, or `near`. */
  keywords: readonly string[]
  /** Minimum Shannon entropy (bits a character) of the token. */
  entropy?: number
  /** Structural check (checksum, length, decoded content). */
  validate?: (token: string) => boolean
  /** Capturing group of `pattern` holding the token, when it is not the whole match. */
  group?: number
  /** Skip the placeholder checks (checksummed formats, where the checksum is proof). */
  skipPlaceholderCheck?: boolean
  boundaries?: 'strict' | 'word'
  /**
   * Every match holds one of `keywords` somewhere inside it (not only at its start, which is found by
   * itself): the scanner may then read only around the keyword's places (Rule.reach), as it does for
   * patterns that start with their keyword. Set it only when it is true of the pattern.
   */
  keywordInside?: boolean
  /** Flags of `pattern` (`i`). */
  flags?: string
  /**
   * Where this spec and another rule report overlapping text, the higher priority wins. By default a
   * self-describing token (no `near`) has 2 and a named value 1, so a generic JWT or `sk_live_` rule
   * wins over a named one; a spec whose name proves a more specific issuer than the other rule's
   * shape (a Monday.com JWT, a Paystack `sk_live_` key) sets `PRIORITY_OVER_SHAPE`.
   */
  priority?: number
  /**
   * The public half of a two-part credential (an account SID beside its auth token): where a text
   * matching `id` stands within `within` characters (default 200) before or after a token, the
   * token is reported even with no name before it, since the id says whose it is and the token is
   * the part that leaks access. `keywords` (lowercase literals) let the prefilter run the spec on
   * texts holding the id but none of the spec's own keywords.
   */
  pairedWith?: { id: string; keywords: readonly string[]; within?: number }
  samples: { valid: readonly Sample[]; invalid: readonly Sample[] }
}

/** The priority of a spec whose name tells a more specific issuer than a token's shape (see `ProviderSpec.priority`). */
export const PRIORITY_OVER_SHAPE = 3

/** How far a value may stand from the name before it (`"snyk_token": "…"`, `Using Snyk Key=…`). */
const NEAR_GAP = 40

/** Builds the rule of a spec. */
export function providerRule(spec: ProviderSpec): Rule {
  const rule = ownRule(spec)
  return spec.pairedWith === undefined ? rule : pairedRule(spec, rule, spec.pairedWith)
}

/**
 * A spec's rule that also reports a token standing near its id (ProviderSpec.pairedWith): the
 * token's own pattern, bounded, with the spec's checks, kept where the id matches within reach.
 */
function pairedRule(spec: ProviderSpec, named: Rule, pair: NonNullable<ProviderSpec['pairedWith']>): Rule {
  const within = pair.within ?? 200
  const { near: _near, pairedWith: _pair, ...own } = spec
  const alone = ownRule({ ...own, keywordInside: false })
  const idSource = `(?<![A-Za-z0-9_])(?:${pair.id})(?![A-Za-z0-9_])`
  const keywords = [...new Set([...spec.keywords, ...pair.keywords])]
  // Reach is dropped: the id, not a keyword, bounds where a token may stand.
  const { reach: _reach, ...rest } = named
  return {
    ...rest,
    keywords,
    *find(text: string, path?: string, lower?: string): Iterable<Candidate> {
      // A fresh RegExp a call: rules are shared between concurrent scans.
      const id = new RegExp(idSource, 'g')
      const seen = new Set<number>()
      for (const c of named.find(text, path, lower)) {
        seen.add(c.index)
        yield c
      }
      for (const c of alone.find(text, path, lower)) {
        if (seen.has(c.index)) continue
        const end = c.index + (c.length ?? c.value.length)
        const from = Math.max(0, c.index - within)
        id.lastIndex = from
        for (let m = id.exec(text); m !== null && m.index <= end + within; m = id.exec(text)) {
          // The id is another text than the token itself.
          if (m.index + m[0].length <= c.index || m.index >= end) {
            yield c
            break
          }
        }
      }
    },
  }
}

function ownRule(spec: ProviderSpec): Rule {
  const start = '(?<![A-Za-z0-9_])'
  const end = spec.boundaries === 'word' ? '(?![A-Za-z0-9_])' : '(?![A-Za-z0-9_-])'
  const token = `${start}(${spec.pattern})${end}`
  const source = spec.near === undefined
    ? token
    // The name, then anything but a line's worth of other text, then the value, on the same line or
    // the next one (an XML element's text; a Kubernetes env entry's `value:` under its `name:`).
    : `(?:${spec.near.map(caseless).join('|')})[^\\n]{0,${NEAR_GAP}}?(?:\\n[ \\t]{0,40}(?:value[ \\t]{0,4}:[ \\t]{0,4}["']?)?)?${token}`
  // Where the pattern starts with a keyword and is bounded, the scanner runs it only around the keyword.
  const max = maxMatchLength(source)
  const reach = reachOf(source, spec.keywords) ?? (spec.keywordInside === true && spec.near === undefined && Number.isFinite(max) ? { before: max, after: max } : undefined)
  return regexRule({
    id: spec.id,
    kind: spec.kind,
    description: spec.description,
    severity: spec.severity,
    regex: new RegExp(source, spec.flags ?? ''),
    // The token is wrapped in a group of its own, so the spec's groups are one further.
    group: spec.group === undefined ? 1 : spec.group + 1,
    keywords: spec.keywords,
    priority: spec.priority ?? (spec.near === undefined ? 2 : 1),
    ...(spec.entropy === undefined ? {} : { entropy: spec.entropy }),
    ...(spec.validate === undefined ? {} : { validate: spec.validate }),
    ...(spec.skipPlaceholderCheck === true ? { skipPlaceholderCheck: true } : {}),
    ...(reach === undefined ? {} : { reach }),
    // A token whose format says who issued it, not a value known by the name before it.
    ...(spec.near === undefined ? { format: 'prefix' as const } : {}),
  })
}

/**
 * A regex source that matches its letters in either case (`snyk` → `[sS][nN][yY][kK]`), so that the
 * names before a value are read case-insensitively while the value's own pattern keeps its case.
 * Escapes and character classes are left as they are.
 */
export function caseless(source: string): string {
  let out = ''
  let inClass = false
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!
    if (c === '\\') {
      out += c + (source[i + 1] ?? '')
      i++
    } else if (inClass) {
      out += c
      if (c === ']') inClass = false
    } else if (c === '[') {
      out += c
      inClass = true
    } else if (/[a-z]/i.test(c)) {
      out += `[${c.toLowerCase()}${c.toUpperCase()}]`
    } else {
      out += c
    }
  }
  return out
}

const ALPHABETS: Record<string, string> = {
  hex: ALPHA.lowerHex,
  HEX: '0123456789ABCDEF',
  a62: ALPHA.base62,
  b64: ALPHA.base64,
  b64u: ALPHA.base64url,
  lc: 'abcdefghijklmnopqrstuvwxyz0123456789',
  uc: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
  d: '0123456789',
  al: ALPHA.letters,
  b32: ALPHA.upper32,
  lower: 'abcdefghijklmnopqrstuvwxyz',
  upper: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
}

/** Fills a sample's placeholders. @throws RangeError on an unknown alphabet (a mistake in a spec). */
export function expandSample(sample: Sample, rng: Rng): string {
  if (typeof sample === 'function') return sample(rng)
  return sample.replace(/\{(\w+)(?::(\d+))?\}/g, (_, name: string, length?: string) => {
    if (name === 'uuid') {
      const h = (n: number): string => rng.chars(n, ALPHA.lowerHex)
      return `${h(8)}-${h(4)}-4${h(3)}-${rng.pick(['8', '9', 'a', 'b'])}${h(3)}-${h(12)}`
    }
    const alphabet = ALPHABETS[name]
    if (alphabet === undefined || length === undefined) throw new RangeError(`unknown sample placeholder {${name}${length === undefined ? '' : `:${length}`}}`)
    return rng.chars(Number(length), alphabet)
  })
}

/**
 * True samples of a value recognisable only by the name before it (`name` as a developer writes it,
 * `snyk`, `elasticEmail`): the shapes such a value is written in and other scanners' test suites
 * use: env lines, config assignments, JSON, Go, an XML element with the value on its own line, a log line.
 */
export function named(name: string, value: string): string[] {
  const title = name.charAt(0).toUpperCase() + name.slice(1)
  const upper = name.toUpperCase()
  return [
    `${upper}_API_KEY=${value}`,
    `${upper}_API_TOKEN=${value}`,
    `${name}_api_token = "${value}"`,
    `{\n    "${name}_token": "${value}"\n}`,
    `{"${name.toLowerCase()}_api_key": "${value}"}`,
    `${name}Token := "${value}"`,
    `var ${name}Key string = "${value}"`,
    `<${name}Key>\n    ${value}\n</${name}Key>`,
    `[DEBUG] Using ${title} Key=${value}`,
  ]
}

/** True samples of a token whose format says who issued it: bare, an env line, JSON, Go, a header. */
export function bare(token: string): string[] {
  return [token, `API_TOKEN=${token}`, `"credentials": "${token}"`, `apiToken := "${token}"`, `Authorization: Bearer ${token}`]
}

/** A value with no provider's name before it: a name-anchored spec must not report it. */
export function withoutName(value: string): string {
  return `api_token = "${value}"`
}

/**
 * False samples of a value recognised by its name: the value without the name, a wrong length after
 * the name, and a placeholder after the name (a run of x's unless given).
 */
export function unnamed(name: string, value: string, wrong: string, placeholder?: string): string[] {
  return [withoutName(value), `${name.toUpperCase()}_API_KEY=${wrong}`, `${name}_token: ${placeholder ?? 'x'.repeat(Math.max(8, wrong.length))}`]
}

/**
 * A sample JWT with the given claims (HS256 header, random signature), for specs whose tokens are JWTs
 * a provider issues: the claims make it decode as the provider's would.
 */
export function jwtSample(claims: Record<string, unknown>): (rng: Rng) => string {
  const part = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url')
  return (rng) => `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}.${rng.chars(43, ALPHA.base64url)}`
}

/** The claims of a JWT, or undefined when its middle part is not base64url JSON. */
export function jwtClaims(token: string): Record<string, unknown> | undefined {
  const payload = token.split('.')[1]
  if (payload === undefined) return undefined
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown
    return claims !== null && typeof claims === 'object' ? claims as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

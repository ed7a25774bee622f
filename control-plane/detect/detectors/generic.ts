/**
 * Keyword-assigned secrets: `password = "..."`, `API_TOKEN=...`, `"client_secret": "..."`.
 * The weakest evidence of all detectors, so it runs last (lowest priority: any provider match
 * on the same text wins) and its value must pass the placeholder, reference, code and entropy checks.
 */
import type { Candidate, Rule } from '../rule.js'
import { isCodePath, isEnvReference, isPlaceholder, isPlausibleSecret, isPublicName, isTemplated, looksLikeIdentifier } from '../suppress.js'
import { charClasses, shannonEntropy } from '../entropy.js'
import { decodeBase64Text } from './structured.js'

/** Prefixes of provider tokens: a value with one was judged (and refused) by its provider rule. */
const PROVIDER_PREFIX = /^(?:gh[pousr]_|github_pat_|npm_|pk_(?:live|test)_|pk\.eyJ|(?:sk|rk)_(?:live|test)_|gl[a-z]{1,5}-|xox|xapp-|AKIA|ASIA|AIza|sk-|SG\.|hf_|do[opr]_v1_|dckr_|hv[sbr]\.|dapi|shp|pypi-|eyJ[\w-]{0,500}\.|ssh-(?:rsa|ed25519|dss)|ecdsa-|age1)/

/** Suffixes of key names that hold something about a secret, not the secret. */
const META_SUFFIX = /(?:name|id|ids|path|file|dir|url|uri|type|length|len|size|ttl|expiry|expires|expiration|timeout|header|prefix|field|env|var|count|max|min|policy|version|endpoint|format|mode|hash|hint|label|ref|arn|kind|regex|pattern|rotation|created|updated|enabled|required|location|store|manager|provider|source|algorithm|algo|cipher|scheme|method|strategy|sha\d{0,3}|md5|digest|checksum|fingerprint|uuid|guid|audience|issuer|tenant|subscription|realm|scopes?|domain|host|region|user|username|email|owner)$/i

const KEY = '(password|passwd|passphrase|pwd|pass(?![A-Za-z])|creds?(?![A-Za-z])|auth(?![A-Za-z])|secret|token|api[_.-]?key|apikey|access[_.-]?key|auth[_.-]?key|private[_.-]?key|client[_.-]?secret|credentials?|(?:encryption|signing|master|session|consumer|license|app)[_.-]?key)'
/**
 * What stands between a name and its value. A type annotation (`API_TOKEN: &str =`, `apiKey: string =`,
 * `API_KEY: str =`), Go's `var apiToken string =`, the assignments of Go (`:=`), PHP (`.=`, `??=`), Ruby
 * and PHP arrays (`=>`), Makefiles (`::=`, `:::=`, `?=`, `+=`), YAML block scalars (`key: |` with the value
 * indented on the next line) and a CSV cell (`apiToken,value`).
 */
const OPERATOR =
  '(?::[ \\t]{0,4}&?(?:\'static[ \\t]{1,4})?[A-Za-z_][\\w.<>?|]{0,30}[ \\t]{0,4}=(?![=>])' +
  '|[ \\t](?:string|String|str|\\[\\]byte)[ \\t]{1,4}=(?![=>])' +
  '|:[ \\t]{0,4}[|>][-+]?[ \\t]{0,4}\\r?\\n[ \\t]{1,20}(?=[^\\s])' +
  '|:{1,3}=|\\?\\?=|[.?+]=|=>|=|:|,(?=[^\\s,]))'
const SOURCE =
  `${KEY}([A-Za-z0-9_.-]{0,25}?)\\\\?["'\`]?\\]?[ \\t]{0,4}${OPERATOR}[ \\t]{0,4}` +
  // A string literal may come wrapped: C# @"..." and $"...", Rust r"..." and String::from("..."), Java new String("...").
  `(?:(?:@|\\$@?|r#{0,2}|b|u8|L|String::from\\(|(?:new[ \\t]{1,4})?String\\(|Some\\()?\\\\?(["'\`])([^\\n"'\`\\\\]{1,200}?)\\\\?\\3|([^\\s"'\`;,<>(){}\\[\\]\\\\]{1,200}))`

/**
 * Decoded base64 that is a stand-in: a default or placeholder word, a reference, a template.
 * Narrower than isPlaceholder (whose digit runs would drop real keys that happen to decode to text).
 */
function isMadeUp(value: string): boolean {
  return value.length < 4 || isEnvReference(value) || isTemplated(value) ||
    /^(?:admin|root|test|guest|user|postgres|password|passw0rd|secret|changeme|changeit|default|example|placeholder|dummy|none|null)$/i.test(value) ||
    /x{4,}|X{4,}|<[^>]*>|your[-_]|[-_]here$/.test(value)
}

/** The identifier characters just before `index`: the start of the name the keyword is in. */
function nameBefore(text: string, index: number): string {
  let i = index
  while (i > 0 && index - i < 40 && /[A-Za-z0-9_.$-]/.test(text.charAt(i - 1))) i--
  return text.slice(i, index)
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Files that pin dependencies: their digests and package names are not secrets. */
export const LOCK_FILE = /(?:^|\/)(?:package-lock\.json|npm-shrinkwrap\.json|yarn\.lock|pnpm-lock\.yaml|bun\.lock|Cargo\.lock|poetry\.lock|Pipfile\.lock|uv\.lock|Gemfile\.lock|composer\.lock|go\.sum|go\.mod|packages\.lock\.json|gradle\.lockfile|flake\.lock|mix\.lock|pubspec\.lock|Package\.resolved|[\w.-]+\.lock)$/

/**
 * A token alone on its line, with a short issuer prefix: `pscale_tkn_...`, `PMAK-...`, `sq0atp-...`.
 * Providers we have no rule for still mark their tokens so; alone on a line (pasted into a notes file,
 * a secrets file, a heredoc), nothing else is written there. The prefix is one case, and the body must
 * read as random, so that identifiers and slugs on their own line stay out.
 */
const PREFIXED_LINE = /^[ \t]{0,20}((?:[a-z][a-z0-9]{1,11}|[A-Z][A-Z0-9]{1,11})[_-](?:(?:[a-z][a-z0-9]{0,9}|[A-Z][A-Z0-9]{0,9})[_-]){0,2})([A-Za-z0-9_-]{16,300}={0,2})[ \t]{0,20}\r?$/gm

function prefixedTokenRule(): Rule {
  return {
    id: 'prefixed-token', kind: 'generic_secret', description: 'Token with an issuer prefix alone on a line', severity: 'low',
    keywords: [], priority: 0,
    *find(text: string, path = ''): Iterable<Candidate> {
      if (LOCK_FILE.test(path)) return
      const re = new RegExp(PREFIXED_LINE.source, 'gm')
      for (let m = re.exec(text); m !== null; m = re.exec(text)) {
        const prefix = m[1] ?? ''
        const body = m[2] ?? ''
        if (/^(?:sha\d{1,3}|md5|sha|uuid|v\d)[_-]/i.test(prefix)) continue
        // Random bodies mix digits and letters and repeat little; hex needs length to be told from a short hash.
        const hex = /^[0-9a-f]+$/i.test(body)
        if (!/\d/.test(body) || !/[A-Za-z]/.test(body)) continue
        if (hex ? body.length < 32 || shannonEntropy(body) < 3.3 : shannonEntropy(body) < 3.8 || (charClasses(body.replace(/[_=-]/g, '')) < 3 && (body.length < 24 || shannonEntropy(body) < 4))) continue
        if (/[_-]{2}|(?:[_-][a-z]{2,}){3}/.test(body)) continue
        const value = prefix + body
        // A provider's own prefix: its rule judged the token (checksum, length) and its verdict stands.
        if (PROVIDER_PREFIX.test(value) || isPlaceholder(value) || looksLikeIdentifier(body)) continue
        yield { value, index: m.index + m[0].indexOf(value) }
      }
    },
  }
}

/** The built-in generic detectors. */
export function genericRules(): Rule[] {
  return [prefixedTokenRule(), {
    id: 'generic-secret', kind: 'generic_secret', description: 'Secret or password assigned to a telling name', severity: 'medium',
    keywords: ['pass', 'pwd', 'secret', 'token', 'key', 'credential', 'creds', 'auth'], priority: 0,
    *find(text: string, path = ''): Iterable<Candidate> {
      // In source code a literal secret is quoted; an unquoted right-hand side is an expression.
      if (LOCK_FILE.test(path)) return
      const code = isCodePath(path)
      const re = new RegExp(SOURCE, 'gi')
      for (let m = re.exec(text); m !== null; m = re.exec(text)) {
        const keyword = (m[1] ?? '').toLowerCase()
        const suffix = m[2] ?? ''
        const quoted = m[4]
        const value = (quoted ?? m[5] ?? '').trim()
        if (value === '' || META_SUFFIX.test(suffix)) continue
        // The whole name, from where it starts before the keyword: `csrfToken`, `stripePublishableKey`.
        if (isPublicName(nameBefore(text, m.index) + keyword + suffix)) continue
        const operator = m[0].slice((m[1] ?? '').length + suffix.length, m[0].lastIndexOf(value))
        // A block scalar's value is its whole first line; a CSV cell ends at the next comma or the line's end.
        if (/^[^\n]*\n/.test(operator) && !/^(?:\r?\n|$)/.test(text.slice(m.index + m[0].length))) continue
        if (/^[^,\n]*,$/.test(operator.trimEnd())) {
          // A CSV cell: the name is a cell of its own, at the line's start or after a comma (not `type=secret,id=x`).
          const before = text.charAt(m.index - nameBefore(text, m.index).length - 1)
          if (!/^(?:|\n|\r|,|"|')$/.test(before)) continue
          if (quoted === undefined && !/^(?:,|\r?\n|$)/.test(text.slice(m.index + m[0].length))) continue
        }
        // An unquoted value cut at the length cap is a blob (encrypted data, a certificate), not a secret we could hash whole.
        if (quoted === undefined && /^[^\s"'`;,<>(){}[\]\\]/.test(text.charAt(m.index + m[0].length))) continue
        // A YAML tag (`!vault |`, `!Ref DbPassword`, `!!binary`) says what follows; it is not the value.
        if (quoted === undefined && /^!{1,2}[A-Za-z][\w.-]*$/.test(value)) continue
        // "tokens" and "secrets" (plural) name collections.
        // (A capital S starting a word is not a plural: mySecretString.)
        if (/^[sS](?![a-z])/.test(suffix) && !/^s[_.-]?(?:key|token)/i.test(suffix)) continue
        // The keyword inside a longer word: master-keying, tokenizer, secretary, passwordless.
        if (/^(?:ing|ize[drs]?|i[sz]ation|ary|aries|ies|less|ful)(?![a-z])/.test(suffix)) continue
        if (PROVIDER_PREFIX.test(value)) continue
        // Codecov badge URLs carry a public graph token (?token=...).
        if (/codecov\.io\/\S*$/.test(text.slice(Math.max(0, m.index - 200), m.index))) continue
        const password = /^(?:pass|pwd)/.test(keyword)
        if (code && quoted === undefined) continue
        // A name built of lowercase words (my-app-secret, db_password) is a name, not a value.
        if (/^[a-z]+(?:[-_][a-z]+)*$/.test(value)) continue
        // A UUID assigned to a token or key name is how some issuers shape their keys (Heroku, many SaaS APIs).
        if (!password && UUID.test(value)) {
          yield { value, index: m.index + m[0].lastIndexOf(value) }
          continue
        }
        const ok = password ? isPlausibleSecret(value, 6, 2.2, quoted !== undefined) : isPlausibleSecret(value, 10, 3, quoted !== undefined)
        if (!ok) continue
        // base64 of a placeholder (`password: Y2hhbmdlbWU=` in a Secret or Helm values) is the placeholder.
        const decoded = decodeBase64Text(value)
        if (decoded !== undefined && isMadeUp(decoded.trim())) continue
        yield { value, index: m.index + m[0].lastIndexOf(value) }
      }
    },
  }]
}

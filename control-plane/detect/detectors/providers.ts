/**
 * Provider detectors: tokens whose shape (prefix, length, alphabet, checksum) says who issued
 * them. Patterns are bounded on both sides so that a token inside a longer identifier does not
 * match, and every quantifier is bounded so that a megabyte-long line costs linear time.
 */
import { regexRule, type Candidate, type Rule } from '../rule.js'
import { hasValidCrc32Checksum } from './checksums.js'
import { charClasses } from '../entropy.js'
import { providerRule } from './provider-spec.js'
import { PROVIDER_SPECS } from './providers/index.js'
import { slackSecretPart } from './providers/s-z.js'

/** Start boundary: not inside a longer word. */
const B = '(?<![A-Za-z0-9_])'
/** End boundary. */
const E = '(?![A-Za-z0-9_])'
/** End boundary for alphabets that include '-'. */
const E2 = '(?![A-Za-z0-9_-])'

const re = (source: string, flags = ''): RegExp => new RegExp(source, flags)

/** The built-in provider detectors. */
export function providerRules(): Rule[] {
  return [
    regexRule({
      id: 'github-pat', kind: 'github_pat', severity: 'critical', description: 'GitHub classic token (ghp_, gho_, ghu_, ghs_, ghr_) with a valid CRC32 checksum',
      regex: re(`${B}gh[pousr]_[A-Za-z0-9]{36}${E}`), keywords: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'],
      validate: hasValidCrc32Checksum, skipPlaceholderCheck: true, format: 'checksum',
    }),
    regexRule({
      id: 'github-fine-grained-pat', kind: 'github_pat', severity: 'critical', description: 'GitHub fine-grained personal access token',
      regex: re(`${B}github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}${E}`), keywords: ['github_pat_'], entropy: 4, format: 'prefix',
    }),
    regexRule({
      id: 'gitlab-token', kind: 'gitlab_token', severity: 'critical', description: 'GitLab token (personal, deploy, runner, pipeline trigger, OAuth, feed...)',
      regex: re(`${B}gl(?:pat|dt|rt|cbt|ptt|soat|ffct|imt|oas|agent|ft|wt)-[A-Za-z0-9_.-]{20,80}${E2}`),
      keywords: ['glpat-', 'gldt-', 'glrt-', 'glcbt-', 'glptt-', 'glsoat-', 'glffct-', 'glimt-', 'gloas-', 'glagent-', 'glft-', 'glwt-'], entropy: 3, format: 'prefix',
    }),
    regexRule({
      id: 'gitlab-runner-registration', kind: 'gitlab_token', severity: 'high', description: 'GitLab runner registration token',
      regex: re(`${B}GR1348941[A-Za-z0-9_-]{20,40}${E2}`), keywords: ['gr1348941'], entropy: 3,
    }),
    regexRule({
      id: 'aws-access-key-id', kind: 'aws_access_key', severity: 'critical', description: 'AWS access key id',
      regex: re(`${B}(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16}${E}`), keywords: ['akia', 'asia', 'abia', 'acca', 'a3t'],
      validate: (s) => !s.endsWith('EXAMPLE'), entropy: 3, format: 'prefix',
    }),
    // Two kinds, so that the control plane's risk scoring tells a live key from a test-mode one.
    regexRule({
      id: 'stripe-secret-key', kind: 'stripe_secret_live', severity: 'critical', description: 'Stripe live secret or restricted key (publishable pk_ keys are public)',
      regex: re(`${B}(?:sk|rk)_(?:live|prod)_[A-Za-z0-9]{16,247}${E}`), keywords: ['sk_live_', 'rk_live_', 'sk_prod_', 'rk_prod_'], entropy: 3.5, format: 'prefix',
    }),
    regexRule({
      id: 'stripe-test-key', kind: 'stripe_secret_test', severity: 'low', description: 'Stripe test-mode secret or restricted key',
      regex: re(`${B}(?:sk|rk)_test_[A-Za-z0-9]{16,247}${E}`), keywords: ['sk_test_', 'rk_test_'], entropy: 3.5,
    }),
    regexRule({
      // Configuration tokens (xoxe.xoxp-), refresh tokens (xoxe-1-) and short workspace tokens are specs of their own (providers/s-z.ts).
      id: 'slack-token', kind: 'slack_token', severity: 'high', description: 'Slack bot, user, app or legacy token',
      regex: re(`${B}(?:xox[bpaoesr]-[0-9]{8,14}-[A-Za-z0-9-]{8,250}|xox[os]-[0-9]{1,14}(?:-[0-9]{1,14}){2}-[a-fA-F0-9]{8,80}|xapp-[0-9]-[A-Za-z0-9]{8,14}-[0-9]{8,14}-[A-Za-z0-9]{20,80})${E2}`),
      keywords: ['xoxb-', 'xoxp-', 'xoxa-', 'xoxo-', 'xoxs-', 'xoxr-', 'xoxe-', 'xapp-'], entropy: 3,
      // The numeric parts are workspace, user and app ids, which may hold any digits (`123456` too);
      // only the last part is the secret, and only it must not look typed.
      validate: slackSecretPart, skipPlaceholderCheck: true, format: 'prefix',
    }),
    regexRule({
      id: 'slack-webhook', kind: 'slack_webhook', severity: 'medium', description: 'Slack incoming webhook or workflow trigger URL',
      regex: re(`https://hooks\\.slack(?:-gov)?\\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_-]{20,160}`), keywords: ['hooks.slack'],
      validate: (s) => /\/(?:T|E)[A-Z0-9]{6,}\/[A-Z0-9]{6,}\/[A-Za-z0-9]{16,}/.test(s) || /\/(?:workflows|triggers)\//.test(s),
    }),
    regexRule({
      id: 'google-api-key', kind: 'google_api_key', severity: 'high', description: 'Google API key',
      regex: re(`${B}AIza[A-Za-z0-9_-]{35}${E2}`), keywords: ['aiza'], entropy: 3.5, format: 'prefix',
    }),
    regexRule({
      id: 'anthropic-api-key', kind: 'anthropic_api_key', severity: 'critical', description: 'Anthropic API or admin key',
      regex: re(`${B}sk-ant-(?:api|admin|sid)[0-9]{2}-[A-Za-z0-9_-]{80,120}${E2}`), keywords: ['sk-ant-'], entropy: 4, format: 'prefix',
    }),
    regexRule({
      id: 'openai-api-key', kind: 'openai_api_key', severity: 'critical', description: 'OpenAI API key (legacy, project, service account, admin)',
      regex: re(`${B}sk-(?:(?:proj|svcacct|service|admin|None)-[A-Za-z0-9_-]{40,200}|[A-Za-z0-9]{8,100}T3BlbkFJ[A-Za-z0-9_-]{8,200}|[A-Za-z0-9]{48})${E2}`),
      keywords: ['sk-'], entropy: 4, validate: (s) => !s.startsWith('sk-ant-') && charClasses(s.slice(3)) >= 2,
    }),
    regexRule({
      id: 'npm-token', kind: 'npm_token', severity: 'high', description: 'npm access token with a valid checksum',
      regex: re(`${B}npm_[A-Za-z0-9]{36}${E}`), keywords: ['npm_'], validate: hasValidCrc32Checksum, skipPlaceholderCheck: true, format: 'checksum',
    }),
    regexRule({
      id: 'pypi-token', kind: 'pypi_token', severity: 'high', description: 'PyPI upload token',
      regex: re(`${B}pypi-AgE[A-Za-z0-9_-]{50,400}${E2}`), keywords: ['pypi-age'], entropy: 4, format: 'prefix',
    }),
    regexRule({
      id: 'twilio-api-key', kind: 'twilio_api_key', severity: 'high', description: 'Twilio API key SID (SK…)',
      regex: re(`${B}SK[0-9a-f]{32}${E}`), keywords: ['sk'], entropy: 3,
    }),
    regexRule({
      id: 'twilio-auth-token', kind: 'twilio_auth_token', severity: 'high', description: 'Twilio auth token next to the word twilio',
      regex: re(`twilio[A-Za-z0-9_.-]{0,30}(?:token|secret|auth)[A-Za-z0-9_.-]{0,20}\\\\?["']?\\s{0,4}[:=]{1,2}>?\\s{0,4}\\\\?["']?([0-9a-f]{32})${E}`, 'i'),
      group: 1, keywords: ['twilio'], entropy: 3,
    }),
    regexRule({
      id: 'sendgrid-api-key', kind: 'sendgrid_api_key', severity: 'high', description: 'SendGrid API key',
      regex: re(`${B}SG\\.[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43}${E2}`), keywords: ['sg.'], entropy: 4, format: 'prefix',
    }),
    regexRule({
      id: 'mailgun-api-key', kind: 'mailgun_api_key', severity: 'high', description: 'Mailgun private API key',
      regex: re(`${B}key-[0-9a-zA-Z]{32}${E}`), keywords: ['key-'], entropy: 3.3,
    }),
    regexRule({
      id: 'mailgun-signing-key', kind: 'mailgun_api_key', severity: 'high', description: 'Mailgun API key (new format) next to the word mailgun',
      regex: re(`mailgun[\\s\\S]{0,80}?${B}([0-9a-f]{32}-[0-9a-f]{8}-[0-9a-f]{8})${E}`, 'i'), group: 1, keywords: ['mailgun'], entropy: 3,
    }),
    regexRule({
      id: 'shopify-token', kind: 'shopify_token', severity: 'high', description: 'Shopify access token, custom app, private app or shared secret',
      regex: re(`${B}shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}${E}`), keywords: ['shpat_', 'shpca_', 'shppa_', 'shpss_'], entropy: 3,
    }),
    regexRule({
      id: 'huggingface-token', kind: 'huggingface_token', severity: 'high', description: 'Hugging Face access or organization token',
      regex: re(`${B}(?:hf_[A-Za-z0-9]{34,40}|api_org_[A-Za-z0-9]{34})${E}`), keywords: ['hf_', 'api_org_'], entropy: 3.5,
    }),
    regexRule({
      id: 'digitalocean-token', kind: 'digitalocean_token', severity: 'critical', description: 'DigitalOcean personal, OAuth or refresh token',
      regex: re(`${B}do[opr]_v1_[a-f0-9]{64}${E}`), keywords: ['dop_v1_', 'doo_v1_', 'dor_v1_'], entropy: 3,
    }),
    regexRule({
      id: 'dockerhub-token', kind: 'dockerhub_token', severity: 'high', description: 'Docker Hub personal or organization access token',
      regex: re(`${B}dckr_(?:pat|oat)_[A-Za-z0-9_-]{27,40}${E2}`), keywords: ['dckr_pat_', 'dckr_oat_'], entropy: 3,
    }),
    regexRule({
      id: 'vault-token', kind: 'vault_token', severity: 'critical', description: 'HashiCorp Vault service, batch or recovery token',
      regex: re(`${B}hv[sbr]\\.[A-Za-z0-9_-]{24,200}${E2}`), keywords: ['hvs.', 'hvb.', 'hvr.'], entropy: 3.5,
    }),
    regexRule({
      id: 'vault-legacy-token', kind: 'vault_token', severity: 'critical', description: 'HashiCorp Vault legacy token (s.…) next to the word vault',
      regex: re(`vault[A-Za-z0-9_.-]{0,30}\\\\?["']?\\s{0,4}[:=]{1,2}\\s{0,4}\\\\?["']?(s\\.[A-Za-z0-9]{24})${E}`, 'i'), group: 1, keywords: ['vault'], entropy: 3.5,
    }),
    regexRule({
      id: 'databricks-token', kind: 'databricks_token', severity: 'critical', description: 'Databricks personal access token',
      regex: re(`${B}dapi[a-f0-9]{32}(?:-[0-9])?${E2}`), keywords: ['dapi'], entropy: 3,
    }),
    regexRule({
      id: 'azure-ad-client-secret', kind: 'azure_client_secret', severity: 'critical', description: 'Azure AD (Entra ID) application client secret',
      regex: re(`(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])`), keywords: ['q~'], entropy: 3.5,
    }),
    regexRule({
      id: 'azure-storage-key', kind: 'azure_storage_key', severity: 'critical', description: 'Azure storage account key',
      // Separators and quotes of every language: `=>` (PHP, Ruby), template literals (JS, Go raw strings).
      regex: re(`(?:AccountKey=|(?:azure|storage|account)[A-Za-z0-9_.-]{0,30}key[A-Za-z0-9_.-]{0,10}\\\\?["'\`]?\\s{0,4}(?:=>|[:=]{1,2})\\s{0,4}\\\\?["'\`]?)([A-Za-z0-9+/]{86}==)`, 'i'),
      group: 1, keywords: ['accountkey', 'azure', 'storage', 'account'], entropy: 4.5,
    }),
    regexRule({
      id: 'age-secret-key', kind: 'age_secret_key', severity: 'high', description: 'age encryption secret key',
      regex: re(`AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}`), keywords: ['age-secret-key-1'], skipPlaceholderCheck: true,
    }),
    jwtRule(),
    ...PROVIDER_SPECS.map(providerRule),
  ]
}

/**
 * JSON Web Tokens: signed (`header.claims.signature`), unsigned (`alg: none`, nothing after the
 * second dot), with a pretty-printed header (`{\n  "alg"` encodes to `ewog…`), and a whole token
 * base64-encoded once more (`ZXlK…`, as Kubernetes Secrets and CI variables hold them), reported as written.
 */
function jwtRule(): Rule {
  const part = 'e[wy][A-Za-z0-9_-]'
  const token = `${B}${part}{10,500}\\.${part}{10,4000}\\.(?:[A-Za-z0-9_-]{16,1000})?(?![A-Za-z0-9_=-])`
  // base64 of "eyJ" or of "ewo": a JWT encoded again.
  const wrapped = `${B}(?:ZXlK|ZXdv)[A-Za-z0-9+/]{40,8000}={0,2}(?![A-Za-z0-9+/=])`
  return {
    id: 'jwt', kind: 'jwt', severity: 'medium', description: 'JSON Web Token (signed, unsigned, or base64-encoded whole)',
    keywords: ['eyj', 'eyi', 'eya', 'ewog', 'zxlk', 'zxdv'], priority: 2,
    *find(text: string): Iterable<Candidate> {
      const direct = new RegExp(token, 'g')
      for (let m = direct.exec(text); m !== null; m = direct.exec(text)) {
        if (isJwt(m[0])) yield { value: m[0], index: m.index }
      }
      const again = new RegExp(wrapped, 'g')
      for (let m = again.exec(text); m !== null; m = again.exec(text)) {
        const decoded = Buffer.from(m[0], 'base64').toString('utf8').trim()
        if (/^e[wy][A-Za-z0-9_-]{10,500}\.e[wy][A-Za-z0-9_-]{10,4000}\.(?:[A-Za-z0-9_-]{16,1000})?$/.test(decoded) && isJwt(decoded)) yield { value: m[0], index: m.index }
      }
    },
  }
}

/**
 * A JWT whose header decodes to a JSON object naming an algorithm, and that is not the jwt.io
 * example; without a signature, only if its header says `alg: none` (else it is a truncated token).
 */
function isJwt(token: string): boolean {
  const [header, payload, signature] = token.split('.')
  if (header === undefined || payload === undefined || signature === undefined) return false
  if (signature === 'SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c') return false
  try {
    const h = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as unknown
    const claims = Buffer.from(payload, 'base64url').toString('utf8')
    const c = JSON.parse(claims) as unknown
    if (c === null || typeof c !== 'object') return false
    // Documentation's sample claims (jwt.io's John Doe, subject 1234567890).
    if (/"name"\s*:\s*"John Doe"|"sub"\s*:\s*"1234567890"/.test(claims)) return false
    if (h === null || typeof h !== 'object' || !('alg' in h)) return false
    return signature !== '' || String((h as { alg: unknown }).alg).toLowerCase() === 'none'
  } catch {
    return false
  }
}

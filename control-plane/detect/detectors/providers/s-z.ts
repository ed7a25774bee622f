/**
 * Provider detectors, providers named S-Z (by the provider's name; digits go with A-D).
 * See ../provider-spec.ts for what a spec holds and how its samples are written.
 *
 * Most specs here are made by two helpers, `prefixed` (a token whose prefix names its issuer) and
 * `named` (a value recognisable only by the provider's name written before it), which fill in the
 * samples every spec of that shape needs: the token bare, assigned and in JSON; in the
 * assignments of several languages, an XML element and a log line for a named value; and as
 * false samples a value one character short, a run of x's, and a named value without its name.
 */
import type { Severity } from '../../rule.js'
import { shannonEntropy } from '../../entropy.js'
import { isEnvReference, isPlaceholder, isTemplated } from '../../suppress.js'
import type { Rng } from '../../corpus/random.js'
import { PRIORITY_OVER_SHAPE, bare, jwtClaims, jwtSample, named as namedSamples, withoutName, type ProviderSpec, type Sample } from '../provider-spec.js'

/** What the two helpers need to know of a spec. */
interface Base {
  id: string
  kind: string
  description: string
  severity: Severity
  pattern: string
  keywords: readonly string[]
  /** One true token (a sample template: `sk_{a62:32}`). */
  sample: string
  /** A too-short token, where one character less is still a valid length. */
  short?: string
  entropy?: number
  validate?: (token: string) => boolean
  skipPlaceholderCheck?: boolean
  boundaries?: 'strict' | 'word'
  /** True samples besides the generated ones. */
  valid?: readonly Sample[]
  /** False samples besides the generated ones (a wrong alphabet, a wrong prefix). */
  invalid?: readonly Sample[]
}

/** The sample with its last placeholder one character shorter: a wrong length. */
function shorter(sample: string): string {
  if (sample.includes('{uuid}')) return sample.replace('{uuid}', '{hex:8}-{hex:4}-{hex:4}-{hex:4}-{hex:11}')
  const all = [...sample.matchAll(/\{(\w+):(\d+)\}/g)]
  const last = all[all.length - 1]
  if (last === undefined || last.index === undefined) return sample.slice(0, -1)
  const length = Number(last[2]) - 1
  return sample.slice(0, last.index) + `{${last[1]}:${length}}` + sample.slice(last.index + last[0].length)
}

/** The sample with every placeholder written as x's: what documentation writes instead of a key. */
function placeholder(sample: string): string {
  return sample.replace(/\{(\w+):(\d+)\}/g, (_, _name: string, n: string) => 'x'.repeat(Number(n))).replace(/\{uuid\}/g, 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx')
}

function optional(base: Base): Partial<ProviderSpec> {
  return {
    ...(base.entropy === undefined ? {} : { entropy: base.entropy }),
    ...(base.validate === undefined ? {} : { validate: base.validate }),
    ...(base.skipPlaceholderCheck === undefined ? {} : { skipPlaceholderCheck: base.skipPlaceholderCheck }),
    ...(base.boundaries === undefined ? {} : { boundaries: base.boundaries }),
  }
}

/** A token whose prefix says who issued it. */
function prefixed(base: Base): ProviderSpec {
  const s = base.sample
  return {
    id: base.id, kind: base.kind, description: base.description, severity: base.severity, pattern: base.pattern, keywords: base.keywords,
    ...optional(base),
    samples: {
      valid: [...bare(s), `${base.kind.toUpperCase()}=${s}`, `    auth_token: '${s}'`, ...(base.valid ?? [])],
      invalid: [base.short ?? shorter(s), placeholder(s), ...(base.invalid ?? [])],
    },
  }
}

/** A value recognisable only by the provider's name before it. */
function named(base: Base & {
  /** Name regexes (case-insensitive), e.g. `snyk`. */
  near: readonly string[]
  /** The provider's name as the samples write it (it must match one of `near`): `snyk`. */
  label: string
}): ProviderSpec {
  const s = base.sample
  const n = base.label
  return {
    id: base.id, kind: base.kind, description: base.description, severity: base.severity, pattern: base.pattern, keywords: base.keywords,
    near: base.near,
    ...optional(base),
    samples: {
      valid: [
        ...namedSamples(n, s),
        ...(base.valid ?? []),
      ],
      invalid: [`${n}_key = "${base.short ?? shorter(s)}"`, `${n}_key = "${placeholder(s)}"`, `id = "${s}"`, ...(base.invalid ?? [])],
    },
  }
}

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'

/** A JSON object in base64 (padding dropped), as tokens that carry their claims write it. */
function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64').replace(/=+$/, '')
}

/** The claims part of a Sentry organization token: base64 JSON naming the region the token is for. */
function sentryClaims(token: string): boolean {
  const body = token.slice('sntrys_'.length, token.lastIndexOf('_'))
  try {
    const claims = JSON.parse(Buffer.from(body, 'base64').toString('utf8')) as unknown
    return claims !== null && typeof claims === 'object' && 'region_url' in claims
  } catch {
    return false
  }
}

/**
 * A Twitter app bearer token starts with a run of A's (leading zero bytes, encoded), and its body has runs
 * of A's too, so the generic placeholder checks (a character repeated) do not apply: the part
 * after the prefix must look random instead.
 */
function twitterBearerBody(token: string): boolean {
  const body = token.replace(/^A+/, '')
  return shannonEntropy(body) >= 4 && !/x{6,}|X{6,}/.test(body)
}

/**
 * For tokens whose prefix and shape are proof enough, the generic placeholder checks are too
 * strict (they refuse `123456` anywhere, and published samples of these formats are full of such
 * runs); what a made-up value still shows is a long run of one character or of x's.
 */
function noFillerRun(token: string): boolean {
  return !/(.)\1{5,}|x{4,}|X{4,}/.test(token)
}

/**
 * The generic placeholder checks, except that counting runs (`123456`, `ABCDEF`) are let through:
 * for a value already anchored by its name, such runs are how people write real-looking samples
 * of it, and the other marks of a made-up value (x's, words, one character repeated) still apply.
 */
function notMadeUp(token: string): boolean {
  const masked = token.replace(/012345|123456|234567|abcdef|ABCDEF/g, 'q7Zk2w')
  return !isPlaceholder(masked) && !isEnvReference(token) && !isTemplated(token)
}

/**
 * A Slack workspace token: the numeric parts are ids (a workspace's, an app's) and may be anything;
 * the last part is the secret and must not be a placeholder.
 */
export function slackSecretPart(token: string): boolean {
  const last = token.slice(token.lastIndexOf('-') + 1)
  return !isPlaceholder(last) && !/x{4,}|X{4,}/.test(token)
}

/** The specs of this group. */
export const SPECS: ProviderSpec[] = [
  prefixed({
    id: 'saladcloud-api-key', kind: 'saladcloud_api_key', severity: 'critical',
    description: 'SaladCloud API key (GPU cloud)',
    pattern: 'salad_cloud_[0-9A-Za-z]{1,7}_[0-9A-Za-z]{7,235}', keywords: ['salad_cloud_'], entropy: 3.5,
    sample: 'salad_cloud_{a62:4}_{a62:44}', short: 'salad_cloud_{a62:4}_{a62:5}',
  }),
  prefixed({
    id: 'salesforce-access-token', kind: 'salesforce_access_token', severity: 'critical',
    description: 'Salesforce session or OAuth access token (organization id, `!`, session key)',
    pattern: '00[A-Za-z0-9]{13}![A-Za-z0-9._]{96}', keywords: ['00'], entropy: 4, boundaries: 'word',
    sample: '00D{a62:12}!AQ{a62:94}',
  }),
  prefixed({
    id: 'salesforce-refresh-token', kind: 'salesforce_refresh_token', severity: 'critical',
    description: 'Salesforce OAuth refresh token',
    pattern: '5Aep861[A-Za-z0-9._]{80,100}', keywords: ['5aep861'], entropy: 4, boundaries: 'word',
    sample: '5Aep861{a62:80}',
    invalid: ['5Aep861{a62:60}'],
  }),
  named({
    id: 'sanity-auth-token', kind: 'sanity_token', severity: 'high',
    description: 'Sanity API token (sk…, 81 characters) next to the word sanity',
    pattern: 'sk[A-Za-z0-9]{79}', near: ['sanity'], label: 'sanity', keywords: ['sanity'], entropy: 4,
    sample: 'sk{a62:79}',
  }),
  prefixed({
    id: 'scalingo-api-token', kind: 'scalingo_api_token', severity: 'critical',
    description: 'Scalingo API token',
    pattern: 'tk-us-[A-Za-z0-9_-]{48}', keywords: ['tk-us-'], entropy: 3.5,
    sample: 'tk-us-{b64u:48}',
  }),
  prefixed({
    id: 'scaleway-access-key', kind: 'scaleway_access_key', severity: 'medium',
    description: 'Scaleway access key id (SCW…; the secret is a UUID next to it)',
    pattern: 'SCW[A-Z0-9]{17}', keywords: ['scw'], entropy: 3,
    // Generated ids mix letters and digits; an upper-case constant name (SCWINDOWSTATEMANAGER) does not.
    validate: (s) => /[0-9]/.test(s.slice(3)) && /[A-Z]/.test(s.slice(3)),
    sample: 'SCW{uc:17}',
    invalid: ['SCW{lower:17}', 'SCWINDOWSTATEMANAGER'],
  }),
  named({
    id: 'scaleway-secret-key', kind: 'scaleway_secret_key', severity: 'critical',
    description: 'Scaleway secret key (a UUID) next to the word scaleway or SCW_SECRET_KEY',
    pattern: UUID, near: ['scaleway', 'scw_secret'], label: 'scaleway', keywords: ['scaleway', 'scw_secret'],
    sample: '{uuid}', valid: ['SCW_SECRET_KEY={uuid}'],
  }),
  prefixed({
    id: 'segment-public-api-token', kind: 'segment_api_token', severity: 'high',
    description: 'Segment public API token',
    pattern: 'sgp_[A-Za-z0-9]{64}', keywords: ['sgp_'], entropy: 4,
    sample: 'sgp_{a62:64}',
  }),
  named({
    id: 'sendbird-access-id', kind: 'sendbird_application_id', severity: 'low',
    description: 'Sendbird application id (a UUID) next to the word sendbird',
    pattern: '[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}', near: ['sendbird'], label: 'sendbird', keywords: ['sendbird'],
    sample: '{uuid}',
  }),
  named({
    id: 'sendbird-access-token', kind: 'sendbird_access_token', severity: 'high',
    description: 'Sendbird API or organization token (40 hex) next to the word sendbird',
    pattern: '[0-9a-f]{40}', near: ['sendbird'], label: 'sendbird', keywords: ['sendbird'], entropy: 3,
    sample: '{hex:40}',
  }),
  prefixed({
    id: 'sendinblue-api-token', kind: 'sendinblue_api_key', severity: 'high',
    description: 'Brevo (Sendinblue) API key',
    pattern: 'xkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}', keywords: ['xkeysib-'], entropy: 3,
    sample: 'xkeysib-{hex:64}-{a62:16}',
    invalid: ['xkeysib-{hex:64}'],
  }),
  prefixed({
    id: 'sendinblue-smtp-key', kind: 'sendinblue_smtp_key', severity: 'high',
    description: 'Brevo (Sendinblue) SMTP key',
    pattern: 'xsmtpsib-[a-f0-9]{64}-[A-Za-z0-9]{16}', keywords: ['xsmtpsib-'], entropy: 3,
    sample: 'xsmtpsib-{hex:64}-{a62:16}',
  }),
  named({
    id: 'sentry-access-token', kind: 'sentry_access_token', severity: 'high',
    description: 'Sentry auth token, old format (64 hex) next to the word sentry',
    pattern: '[a-f0-9]{64}', near: ['sentry'], label: 'sentry', keywords: ['sentry'], entropy: 3,
    sample: '{hex:64}',
  }),
  {
    id: 'sentry-dsn', kind: 'sentry_dsn', severity: 'low',
    description: 'Sentry DSN (a project key in a URL: lets anyone send events, often public in front ends)',
    pattern: 'https?://[0-9a-f]{32}(?::[0-9a-f]{32})?@(?:o[0-9]{1,12}\\.)?(?:ingest\\.(?:[a-z]{2}\\.)?)?sentry\\.io/[0-9]{1,12}',
    keywords: ['sentry.io'], boundaries: 'word',
    samples: {
      valid: ['SENTRY_DSN=https://{hex:32}@o{d:6}.ingest.sentry.io/{d:7}', 'dsn: "https://{hex:32}@o{d:6}.ingest.us.sentry.io/{d:7}"', 'Sentry.init({ dsn: \'https://{hex:32}@sentry.io/{d:6}\' })'],
      invalid: ['SENTRY_DSN=https://{hex:31}@o{d:6}.ingest.sentry.io/{d:7}', 'https://{hex:32}@example.com/{d:6}', 'https://public@sentry.io/1'],
    },
  },
  {
    id: 'sentry-org-token', kind: 'sentry_org_token', severity: 'high',
    description: 'Sentry organization auth token (sntrys_: base64 claims naming a region, then a signature)',
    pattern: 'sntrys_eyJpYXQiO[A-Za-z0-9+/]{10,400}={0,2}_[A-Za-z0-9+/]{43}', keywords: ['sntrys_'], validate: sentryClaims, skipPlaceholderCheck: true,
    samples: {
      valid: [sentryToken, (rng) => `SENTRY_AUTH_TOKEN=${sentryToken(rng)}`, (rng) => `{"token": "${sentryToken(rng)}"}`],
      invalid: [
        (rng) => `sntrys_${b64json({ iat: rng.int(1.6e9, 1.8e9), url: 'https://sentry.io', org: rng.chars(8, 'abcdefghij') })}_${rng.chars(43, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789')}`,
        'sntrys_eyJpYXQiO{a62:60}_{a62:43}',
        (rng) => sentryToken(rng).slice(0, -2),
      ],
    },
  },
  prefixed({
    id: 'sentry-user-token', kind: 'sentry_user_token', severity: 'high',
    description: 'Sentry user auth token',
    pattern: 'sntryu_[a-f0-9]{64}', keywords: ['sntryu_'], entropy: 3.5,
    sample: 'sntryu_{hex:64}',
    invalid: ['sntryu_{a62:64}'],
  }),
  prefixed({
    id: 'settlemint-application-access-token', kind: 'settlemint_application_access_token', severity: 'high',
    description: 'SettleMint application access token',
    pattern: 'sm_aat_[A-Za-z0-9]{16}', keywords: ['sm_aat'], entropy: 3,
    sample: 'sm_aat_{a62:16}',
  }),
  prefixed({
    id: 'settlemint-personal-access-token', kind: 'settlemint_personal_access_token', severity: 'high',
    description: 'SettleMint personal access token',
    pattern: 'sm_pat_[A-Za-z0-9]{16}', keywords: ['sm_pat'], entropy: 3,
    sample: 'sm_pat_{a62:16}',
  }),
  prefixed({
    id: 'settlemint-service-access-token', kind: 'settlemint_service_access_token', severity: 'high',
    description: 'SettleMint service access token',
    pattern: 'sm_sat_[A-Za-z0-9]{16}', keywords: ['sm_sat'], entropy: 3,
    sample: 'sm_sat_{a62:16}',
  }),
  prefixed({
    id: 'shippo-api-token', kind: 'shippo_live_token', severity: 'high',
    description: 'Shippo live API token',
    pattern: 'shippo_live_[a-fA-F0-9]{40}', keywords: ['shippo_live_'], entropy: 3,
    sample: 'shippo_live_{hex:40}',
    invalid: ['shippo_live_{a62:40}'],
  }),
  prefixed({
    id: 'shippo-test-api-token', kind: 'shippo_test_token', severity: 'low',
    description: 'Shippo test-mode API token',
    pattern: 'shippo_test_[a-fA-F0-9]{40}', keywords: ['shippo_test_'], entropy: 3,
    sample: 'shippo_test_{hex:40}',
  }),
  named({
    id: 'sidekiq-secret', kind: 'sidekiq_secret', severity: 'high',
    description: 'Sidekiq Pro/Enterprise gem server credentials (user:password in hex) in a Bundler setting',
    pattern: '[a-f0-9]{8}:[a-f0-9]{8}', near: ['bundle_enterprise__contribsys__com', 'bundle_gems__contribsys__com'], label: 'bundle_gems__contribsys__com',
    keywords: ['bundle_enterprise__contribsys__com', 'bundle_gems__contribsys__com'], entropy: 2.5,
    sample: '{hex:8}:{hex:8}',
    valid: ['export BUNDLE_ENTERPRISE__CONTRIBSYS__COM={hex:8}:{hex:8}'],
  }),
  {
    id: 'sidekiq-sensitive-url', kind: 'sidekiq_url', severity: 'high',
    description: 'Sidekiq Pro/Enterprise gem server URL carrying its credentials',
    pattern: 'https?://([a-f0-9]{8}:[a-f0-9]{8})@(?:gems|enterprise)\\.contribsys\\.com(?=[/#?:]|$|[\\s"\'])', group: 1, flags: 'i',
    keywords: ['gems.contribsys.com', 'enterprise.contribsys.com'], boundaries: 'word',
    samples: {
      valid: ['source "https://{hex:8}:{hex:8}@gems.contribsys.com/" do', 'https://{hex:8}:{hex:8}@enterprise.contribsys.com/'],
      invalid: ['source "https://{hex:8}:{hex:7}@gems.contribsys.com/"', 'https://{hex:8}:{hex:8}@gems.example.com/'],
    },
  },
  named({
    id: 'shortcut-api-token', kind: 'shortcut_api_token', severity: 'high',
    description: 'Shortcut (formerly Clubhouse) API token (a UUID) next to the word shortcut',
    pattern: UUID, near: ['shortcut', 'clubhouse'], label: 'shortcut', keywords: ['shortcut', 'clubhouse'],
    sample: '{uuid}',
  }),
  prefixed({
    id: 'slack-config-access-token', kind: 'slack_config_token', severity: 'high',
    description: 'Slack app configuration access token (xoxe.xoxb-/xoxe.xoxp-)',
    pattern: 'xoxe\\.xox[bp]-[0-9]-[A-Za-z0-9]{146,200}', keywords: ['xoxe.xoxb-', 'xoxe.xoxp-'], entropy: 4,
    sample: 'xoxe.xoxp-1-{a62:166}', short: 'xoxe.xoxp-1-{a62:120}',
    invalid: ['xoxe.xoxp-1-{a62:60}'],
  }),
  prefixed({
    id: 'slack-config-refresh-token', kind: 'slack_refresh_token', severity: 'high',
    description: 'Slack configuration or rotating refresh token (xoxe-)',
    pattern: 'xoxe-[0-9]-[A-Za-z0-9]{140,160}', keywords: ['xoxe-'], entropy: 4,
    sample: 'xoxe-1-{a62:146}', short: 'xoxe-1-{a62:120}',
    invalid: ['xoxe-1-{a62:100}'],
  }),
  prefixed({
    id: 'slack-legacy-workspace-token', kind: 'slack_workspace_token', severity: 'high',
    description: 'Slack legacy workspace app access or refresh token (xoxa-, xoxr-)',
    pattern: 'xox[ar]-(?:[0-9]-)?[A-Za-z0-9]{8,48}(?:-[A-Za-z0-9]{4,48}){0,4}', keywords: ['xoxa-', 'xoxr-'], entropy: 2.5,
    validate: slackSecretPart, skipPlaceholderCheck: true,
    sample: 'xoxa-2-{a62:40}', short: 'xoxa-2-{a62:6}',
    valid: ['xoxr-{a62:32}', '"access_token": "xoxa-2-{d:9}-{d:11}-{d:13}-{hex:18}"'],
    invalid: ['xoxa-2-{a62:5}', 'xoxq-2-{a62:40}'],
  }),
  named({
    id: 'snyk-api-token', kind: 'snyk_api_token', severity: 'high',
    description: 'Snyk API or OAuth token (UUID-shaped) next to the word snyk',
    pattern: '[0-9a-zA-Z]{8}-[0-9a-zA-Z]{4}-[0-9a-zA-Z]{4}-[0-9a-zA-Z]{4}-[0-9a-zA-Z]{12}', near: ['snyk'], label: 'snyk', keywords: ['snyk'],
    sample: '{uuid}',
  }),
  named({
    id: 'sonar-api-token', kind: 'sonar_token', severity: 'high',
    description: 'SonarQube or SonarCloud token (40 characters) next to sonar login/token',
    pattern: '(?:sq[upa]_)?[A-Za-z0-9=_-]{40}', near: ['sonar(?:qube|cloud)?[_. -]?(?:api[_. -]?)?(?:login|token|key|auth|secret)', 'sonar(?:qube|cloud)'], label: 'sonar', keywords: ['sonar'], entropy: 3,
    validate: notMadeUp, skipPlaceholderCheck: true,
    sample: '{hex:40}', valid: ['SONAR_TOKEN={a62:40}', 'mvn sonar:sonar -Dsonar.login={hex:40}', 'SONAR_LOGIN := "sqp_{a62:40}"'],
    invalid: ['SONAR_TOKEN=${{ secrets.SONAR_TOKEN }}', 'sonar_token = "YOUR_SONAR_TOKEN_HERE_{upper:19}"'],
  }),
  prefixed({
    id: 'sonarqube-analysis-token', kind: 'sonarqube_analysis_token', severity: 'high',
    description: 'SonarQube global analysis token',
    pattern: 'sqa_[a-f0-9]{40}', keywords: ['sqa_'], entropy: 3,
    sample: 'sqa_{hex:40}', invalid: ['sqa_{upper:40}'],
  }),
  prefixed({
    id: 'sonarqube-project-token', kind: 'sonarqube_project_token', severity: 'high',
    description: 'SonarQube project analysis token',
    pattern: 'sqp_[a-f0-9]{40}', keywords: ['sqp_'], entropy: 3,
    sample: 'sqp_{hex:40}',
  }),
  prefixed({
    id: 'sonarqube-user-token', kind: 'sonarqube_user_token', severity: 'critical',
    description: 'SonarQube user token (acts as the user: admin rights where the user has them)',
    pattern: 'squ_[a-f0-9]{40}', keywords: ['squ_'], entropy: 3,
    sample: 'squ_{hex:40}',
  }),
  prefixed({
    id: 'sourcegraph-access-token', kind: 'sourcegraph_access_token', severity: 'critical',
    description: 'Sourcegraph access token (sgp_, sgp_local_, or instance-scoped sgp_<16 hex>_)',
    pattern: 'sgp_(?:(?:[a-fA-F0-9]{16}|local)_)?[a-fA-F0-9]{40}', keywords: ['sgp_'], entropy: 3, validate: noFillerRun, skipPlaceholderCheck: true,
    sample: 'sgp_{hex:16}_{hex:40}',
    valid: ['sgp_local_{hex:40}', 'SRC_ACCESS_TOKEN=sgp_{hex:40}'],
    invalid: ['sgp_local_{a62:40}', 'sgp_{hex:16}_0000000000{hex:30}'],
  }),
  named({
    id: 'sourcegraph-legacy-access-token', kind: 'sourcegraph_access_token', severity: 'critical',
    description: 'Sourcegraph access token, unprefixed (40 hex) next to the word sourcegraph or SRC_ACCESS_TOKEN',
    pattern: '[a-f0-9]{40}', near: ['sourcegraph', 'src_access_token'], label: 'sourcegraph', keywords: ['sourcegraph', 'src_access_token'], entropy: 3,
    sample: '{hex:40}',
  }),
  prefixed({
    id: 'sourcegraph-cody-token', kind: 'sourcegraph_cody_token', severity: 'high',
    description: 'Sourcegraph Cody gateway token',
    pattern: 'slk_[a-f0-9]{64}', keywords: ['slk_'], entropy: 3,
    sample: 'slk_{hex:64}',
  }),
  prefixed({
    id: 'square-access-token', kind: 'square_access_token', severity: 'critical',
    description: 'Square production access token (EAAA…) or legacy personal access token (sq0atp-)',
    pattern: '(?:EAAA|sq0atp-)[A-Za-z0-9_-]{22,60}', keywords: ['eaaa', 'sq0atp-'], entropy: 3.5,
    sample: 'EAAA{b64u:60}', short: 'EAAA{b64u:16}',
    valid: ['sq0atp-{b64u:22}'],
    invalid: ['sq0atp-{b64u:12}'],
  }),
  prefixed({
    id: 'square-secret', kind: 'square_oauth_secret', severity: 'critical',
    description: 'Square application OAuth secret',
    pattern: 'sq0c[a-z]{2}-[A-Za-z0-9_-]{40,50}', keywords: ['sq0c'], entropy: 3.5,
    sample: 'sq0csp-{b64u:43}', short: 'sq0csp-{b64u:30}',
  }),
  named({
    id: 'squarespace-access-token', kind: 'squarespace_access_token', severity: 'high',
    description: 'Squarespace API key (a UUID) next to the word squarespace',
    pattern: UUID, near: ['squarespace'], label: 'squarespace', keywords: ['squarespace'],
    sample: '{uuid}',
  }),
  named({
    id: 'storyblok-access-token', kind: 'storyblok_token', severity: 'high',
    description: 'Storyblok content delivery token (…tt) or personal access token (…tt-<digits>-…) next to the word storyblok',
    pattern: '[0-9A-Za-z]{22}tt(?:-[0-9]{6}-[A-Za-z0-9_-]{20})?', near: ['storyblok'], label: 'storyblok', keywords: ['storyblok'], entropy: 3.5,
    sample: '{a62:22}tt', valid: ['STORYBLOK_PERSONAL_TOKEN={a62:22}tt-{d:6}-{b64u:20}'],
  }),
  prefixed({
    id: 'stripe-webhook-secret', kind: 'stripe_webhook_secret', severity: 'medium',
    description: 'Stripe webhook signing secret',
    pattern: 'whsec_[A-Za-z0-9+/]{32,88}={0,2}', keywords: ['whsec_'], entropy: 3.5, boundaries: 'word',
    sample: 'whsec_{a62:32}',
    invalid: ['whsec_{a62:16}'],
  }),
  named({
    id: 'sumologic-access-id', kind: 'sumologic_access_id', severity: 'medium',
    description: 'Sumo Logic access id (su…) next to the word sumo',
    pattern: 'su[A-Za-z0-9]{12}', near: ['(?<![A-Za-z])(?:[S][U][M][O]|[Ss][u][m][o])'], label: 'sumo', keywords: ['sumo'], entropy: 3,
    sample: 'su{a62:12}',
    // Written in one case on purpose: `sumOfValues = sumOfValues` is code, not a Sumo Logic id.
    invalid: ['sumOfExposures = sumOfExposures;'],
  }),
  named({
    id: 'sumologic-access-token', kind: 'sumologic_access_key', severity: 'high',
    description: 'Sumo Logic access key (64 characters) next to the word sumo',
    pattern: '[A-Za-z0-9]{64}', near: ['(?<![A-Za-z])(?:[S][U][M][O]|[Ss][u][m][o])'], label: 'sumo', keywords: ['sumo'], entropy: 3.5,
    sample: '{a62:64}',
  }),
  prefixed({
    id: 'supabase-personal-access-token', kind: 'supabase_access_token', severity: 'critical',
    description: 'Supabase personal access token (management API)',
    pattern: 'sbp_[a-z0-9]{40}', keywords: ['sbp_'], entropy: 3,
    sample: 'sbp_{lc:40}', invalid: ['sbp_{upper:40}'],
  }),
  prefixed({
    id: 'supabase-secret-key', kind: 'supabase_secret_key', severity: 'critical',
    description: 'Supabase secret API key (sb_secret_: bypasses row-level security)',
    pattern: 'sb_secret_[A-Za-z0-9_-]{28,64}', keywords: ['sb_secret_'], entropy: 3.5,
    sample: 'sb_secret_{b64u:31}', short: 'sb_secret_{b64u:16}',
  }),
  {
    // The service-role key is a JWT whose claims say so; the anon key (role anon) is public by design.
    id: 'supabase-service-role-key', kind: 'supabase_service_role_key', severity: 'critical',
    description: 'Supabase service-role key (a JWT with role service_role: bypasses row-level security) next to a Supabase or service-role name',
    pattern: 'ey[A-Za-z0-9_-]{10,500}\\.ey[A-Za-z0-9_-]{10,2000}\\.[A-Za-z0-9_-]{16,500}', near: ['supabase', 'service[_-]?role'],
    keywords: ['supabase', 'service_role', 'service-role', 'servicerole'], priority: PRIORITY_OVER_SHAPE,
    validate: (token) => jwtClaims(token)?.role === 'service_role',
    samples: {
      valid: ['SUPABASE_SERVICE_ROLE_KEY={jwt}', 'supabaseKey := "{jwt}"', '{"service_role": "{jwt}"}', 'const supabase = createClient(url, "{jwt}")'].map((line) => (rng: Rng) => line.replace('{jwt}', jwtSample({ iss: 'supabase', ref: rng.chars(20, 'abcdefghijklmnopqrstuvwxyz'), role: 'service_role', iat: rng.int(1.6e9, 1.7e9), exp: rng.int(1.9e9, 2.1e9) })(rng))),
      invalid: [
        (rng) => `SUPABASE_ANON_KEY=${jwtSample({ iss: 'supabase', ref: rng.chars(20, 'abcdefghijklmnopqrstuvwxyz'), role: 'anon', iat: rng.int(1.6e9, 1.7e9) })(rng)}`,
        (rng) => withoutName(jwtSample({ iss: 'supabase', role: 'service_role', iat: rng.int(1.6e9, 1.7e9) })(rng)),
      ],
    },
  },
  prefixed({
    id: 'tailscale-api-key', kind: 'tailscale_api_key', severity: 'critical',
    description: 'Tailscale API access token or OAuth client secret',
    pattern: 'tskey-(?:api|client|oauth|scim|webhook)-[A-Za-z0-9_]{6,40}-[A-Za-z0-9_]{16,64}', keywords: ['tskey-'], entropy: 3.5,
    sample: 'tskey-api-k{a62:11}-{a62:33}', short: 'tskey-api-k{a62:11}-{a62:9}',
    valid: ['tskey-client-k{a62:11}-{a62:33}'],
    invalid: ['tskey-api-k{a62:11}-{a62:8}'],
  }),
  prefixed({
    id: 'tailscale-auth-key', kind: 'tailscale_auth_key', severity: 'high',
    description: 'Tailscale auth key (joins a device to a tailnet)',
    pattern: 'tskey-auth-[A-Za-z0-9_]{6,40}-[A-Za-z0-9_]{16,64}', keywords: ['tskey-auth-'], entropy: 3.5,
    sample: 'tskey-auth-k{a62:11}-{a62:33}', short: 'tskey-auth-k{a62:11}-{a62:9}',
    valid: ['tskey-auth-k{a62:11}CNTRL-{a62:33}'],
    invalid: ['tskey-auth-k{a62:11}-{a62:8}'],
  }),
  prefixed({
    id: 'tavily-api-key', kind: 'tavily_api_key', severity: 'high',
    description: 'Tavily search API key',
    pattern: 'tvly-(?:dev-|prod-)?[A-Za-z0-9]{32}', keywords: ['tvly-'], entropy: 3.5,
    sample: 'tvly-{a62:32}', valid: ['tvly-dev-{a62:32}'],
  }),
  named({
    id: 'telegram-bot-api-token', kind: 'telegram_bot_token', severity: 'high',
    description: 'Telegram bot token (bot id, colon, 35-character secret) next to the word telegram',
    pattern: '[0-9]{5,16}:[A-Za-z0-9_-]{35}', near: ['telegr', 'tgram', 'tg[_-]?bot'], label: 'telegram', keywords: ['telegr', 'tgram', 'tg_bot', 'tg-bot', 'tgbot'],
    sample: '{d:10}:AA{b64u:33}',
    invalid: ['telegram_token = "{d:10}:{b64u:10}"'],
  }),
  prefixed({
    id: 'tencent-cloud-secret-id', kind: 'tencent_cloud_secret_id', severity: 'high',
    description: 'Tencent Cloud API SecretId (AKID…), the id half of a key pair whose secret is usually beside it',
    pattern: 'AKID[A-Za-z0-9]{32}', keywords: ['akid'], entropy: 3.5,
    sample: 'AKID{a62:32}', invalid: ['AKID{upper:20}'],
  }),
  named({
    id: 'telnyx-api-key', kind: 'telnyx_api_key', severity: 'high',
    description: 'Telnyx API v2 key (KEY…) next to the word telnyx',
    pattern: 'KEY[0-9A-Za-z_-]{55}', near: ['telnyx'], label: 'telnyx', keywords: ['telnyx'], entropy: 4,
    sample: 'KEY{uc:32}_{a62:22}',
  }),
  {
    id: 'tines-webhook-url', kind: 'tines_webhook', severity: 'medium',
    description: 'Tines webhook URL (path and secret: anyone holding it can start the story)',
    pattern: 'https://[A-Za-z0-9-]{1,63}\\.tines\\.com/webhook/[a-z0-9]{32}/[a-z0-9]{32}', keywords: ['tines.com'], boundaries: 'word',
    samples: {
      valid: ['TINES_WEBHOOK=https://{lower:8}-{lower:5}.tines.com/webhook/{lc:32}/{lc:32}', '"url": "https://{lower:9}.tines.com/webhook/{lc:32}/{lc:32}"'],
      invalid: ['https://{lower:9}.tines.com/webhook/{lc:32}/{lc:31}', 'https://{lower:9}.tines.com/webhook/{lc:32}'],
    },
  },
  named({
    id: 'travisci-access-token', kind: 'travisci_token', severity: 'critical',
    description: 'Travis CI API token (22 characters) next to the word travis',
    pattern: '[A-Za-z0-9]{22}', near: ['travis'], label: 'travis', keywords: ['travis'], entropy: 3.5,
    sample: '{a62:22}',
  }),
  named({
    id: 'trello-api-key', kind: 'trello_api_key', severity: 'medium',
    description: 'Trello API key (32 hex) next to the word trello',
    pattern: '[0-9a-f]{32}', near: ['trello'], label: 'trello', keywords: ['trello'], entropy: 3,
    sample: '{hex:32}',
  }),
  prefixed({
    id: 'trello-token', kind: 'trello_token', severity: 'high',
    description: 'Trello user token (ATTA…)',
    pattern: 'ATTA[A-Fa-f0-9]{64}(?:[A-F0-9]{8})?', keywords: ['atta'], entropy: 3,
    sample: 'ATTA{hex:64}{HEX:8}', valid: ['ATTA{hex:64}'],
    invalid: ['ATTA{hex:40}'],
  }),
  named({
    id: 'trello-legacy-token', kind: 'trello_token', severity: 'high',
    description: 'Trello user token, unprefixed (64 hex) next to the word trello',
    pattern: '[0-9a-f]{64}', near: ['trello'], label: 'trello', keywords: ['trello'], entropy: 3,
    sample: '{hex:64}',
  }),
  {
    // Two parts: the account SID (AC…) is an id, the auth token beside it is what grants access.
    id: 'twilio-auth-token-near-sid', kind: 'twilio_auth_token', severity: 'high',
    description: 'Twilio auth token (32 hex) next to the word twilio or within a few lines of an account SID',
    pattern: '[0-9a-f]{32}', near: ['twill?io'], keywords: ['twilio', 'twillio'], entropy: 3,
    pairedWith: { id: 'AC[0-9a-f]{32}', keywords: ['account_sid', 'accountsid', 'account sid'] },
    samples: {
      valid: [
        ...namedSamples('twilio', '{hex:32}'),
        'You can find a twillio secret {hex:32} within',
        'TWILIO_ACCOUNT_SID=AC{hex:32}\nAUTH="{hex:32}"',
        'from twilio.rest import Client\n\nclient = Client("AC{hex:32}", "{hex:32}")',
      ],
      invalid: [withoutName('{hex:32}'), 'twilio_token = "{hex:31}"', 'commit {hex:32}\nsid: 12\n\n'],
    },
  },
  named({
    id: 'twitch-api-token', kind: 'twitch_api_token', severity: 'high',
    description: 'Twitch client secret or OAuth token (30 characters) next to the word twitch',
    pattern: '(?:oauth:)?[a-z0-9]{30}', near: ['twitch'], label: 'twitch', keywords: ['twitch'], entropy: 3.5,
    sample: '{lc:30}', valid: ['TWITCH_OAUTH=oauth:{lc:30}'],
  }),
  named({
    id: 'twitter-access-secret', kind: 'twitter_access_secret', severity: 'high',
    description: 'Twitter (X) access token secret (45 characters) next to the word twitter',
    pattern: '[A-Za-z0-9]{45}', near: ['twitter'], label: 'twitter', keywords: ['twitter'], entropy: 4,
    sample: '{a62:45}',
  }),
  named({
    id: 'twitter-access-token', kind: 'twitter_access_token', severity: 'high',
    description: 'Twitter (X) user access token (user id, dash, secret) next to the word twitter',
    pattern: '[0-9]{15,25}-[A-Za-z0-9]{20,40}', near: ['twitter'], label: 'twitter', keywords: ['twitter'], entropy: 3.5,
    sample: '{d:19}-{a62:31}', short: '{d:19}-{a62:10}',
  }),
  named({
    id: 'twitter-api-key', kind: 'twitter_api_key', severity: 'medium',
    description: 'Twitter (X) API (consumer) key (25 characters) next to the word twitter',
    pattern: '[A-Za-z0-9]{25}', near: ['twitter'], label: 'twitter', keywords: ['twitter'], entropy: 3.5,
    sample: '{a62:25}',
  }),
  named({
    id: 'twitter-api-secret', kind: 'twitter_api_secret', severity: 'high',
    description: 'Twitter (X) API (consumer) secret (50 characters) next to the word twitter',
    pattern: '[A-Za-z0-9]{50}', near: ['twitter'], label: 'twitter', keywords: ['twitter'], entropy: 4,
    sample: '{a62:50}',
  }),
  {
    id: 'twitter-bearer-token', kind: 'twitter_bearer_token', severity: 'high',
    description: 'Twitter (X) app-only bearer token (a run of A\'s, then the encoded key)',
    pattern: 'A{20}[A-Za-z0-9%]{80,124}', keywords: ['aaaaaaaaaaaaaaaaaaaa'], validate: twitterBearerBody, skipPlaceholderCheck: true,
    samples: {
      valid: [
        'AAAAAAAAAAAAAAAAAAAAA{a62:9}AAAAAAA{a62:20}%3D{a62:50}',
        'TWITTER_BEARER_TOKEN=AAAAAAAAAAAAAAAAAAAAA{a62:9}AAAAAAA{a62:20}%2F{a62:50}',
        '"bearer_token": "AAAAAAAAAAAAAAAAAAAAA{a62:9}AAAAAAA{a62:70}"',
      ],
      invalid: ['AAAAAAAAAAAAAAAAAAAAA{a62:9}AAAAAAA{a62:20}', 'AAAAAAAAAAAAAAAAAAAAAAxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'AAAAAAAAAAAAAAAAAAAAAA{a62:4}AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
    },
  },
  named({
    id: 'twitter-bearer-token-named', kind: 'twitter_bearer_token', severity: 'high',
    description: 'Twitter (X) bearer token with URL-encoded parts, next to the word twitter',
    pattern: '[A-Za-z0-9]{20,60}%[A-Za-z0-9%]{40,140}', near: ['twitter'], label: 'twitter', keywords: ['twitter'], entropy: 4,
    sample: '{upper:22}%{a62:23}%{a62:6}%{a62:3}%{a62:9}%{a62:52}', short: '{upper:22}%{a62:10}',
  }),
  prefixed({
    id: 'typeform-api-token', kind: 'typeform_api_token', severity: 'high',
    description: 'Typeform personal access token',
    pattern: 'tfp_[A-Za-z0-9_.=-]{40,64}', keywords: ['tfp_'], entropy: 3.5,
    sample: 'tfp_{a62:44}_{a62:14}', short: 'tfp_{a62:30}',
    valid: ['typeformToken := "tfp_{b64u:59}"'],
    invalid: ['tfp_{a62:20}'],
  }),
  prefixed({
    id: 'ubidots-token', kind: 'ubidots_token', severity: 'medium',
    description: 'Ubidots API token',
    pattern: 'BBFF-[A-Za-z0-9]{30}', keywords: ['bbff-'], entropy: 3.5,
    sample: 'BBFF-{a62:30}',
  }),
  named({
    id: 'uptimerobot-api-key', kind: 'uptimerobot_api_key', severity: 'medium',
    description: 'UptimeRobot account, monitor or read-only API key next to the word uptimerobot',
    pattern: '[A-Za-z0-9]{7,11}-[A-Za-z0-9]{24}', near: ['uptime[_.-]?robot'], label: 'uptimerobot', keywords: ['uptimerobot', 'uptime_robot', 'uptime-robot', 'uptime.robot'], entropy: 3,
    sample: 'u{d:7}-{hex:24}', valid: ['UPTIME_ROBOT_KEY=m{d:9}-{hex:24}'],
  }),
  named({
    id: 'vercel-api-token', kind: 'vercel_token', severity: 'critical',
    description: 'Vercel access token (24 characters) next to the word vercel',
    pattern: '[A-Za-z0-9]{24}', near: ['vercel'], label: 'vercel', keywords: ['vercel'], entropy: 3.5,
    sample: '{a62:24}',
  }),
  prefixed({
    id: 'voiceflow-api-key', kind: 'voiceflow_api_key', severity: 'high',
    description: 'Voiceflow Dialog Manager or workspace API key (VF.DM.…, VF.WS.…)',
    pattern: 'VF\\.(?:(?:DM|WS)\\.)?[a-fA-F0-9]{24}\\.[A-Za-z0-9]{16}', keywords: ['vf.'], entropy: 3.5,
    sample: 'VF.DM.{hex:24}.{a62:16}', valid: ['VF.WS.{hex:24}.{a62:16}', 'VF.{hex:24}.{a62:16}'],
    invalid: ['VF.DM.{a62:24}.{a62:16}'],
  }),
  prefixed({
    id: 'volcengine-access-key-id', kind: 'volcengine_access_key', severity: 'high',
    description: 'Volcengine (ByteDance cloud) access key id (AKLT…; the secret is near it)',
    pattern: 'AKLT[A-Za-z0-9_-]{36,60}', keywords: ['aklt'], entropy: 3.5,
    sample: 'AKLT{a62:43}', short: 'AKLT{a62:24}',
    invalid: ['AKLT{a62:20}'],
  }),
  named({
    id: 'volcengine-secret-key', kind: 'volcengine_secret_key', severity: 'critical',
    description: 'Volcengine secret access key (base64) next to the word volcengine or VOLC_SECRETKEY',
    pattern: '[A-Za-z0-9+/]{40,64}={0,2}', near: ['volc(?:engine)?[_.-]?(?:secret|sk)', 'volcengine'], label: 'volcengine', keywords: ['volc'], entropy: 4,
    sample: '{b64:60}==', short: '{b64:30}', valid: ['VOLC_SECRETKEY={b64:58}'],
  }),
  named({
    id: 'vultr-api-key', kind: 'vultr_api_key', severity: 'critical',
    description: 'Vultr API key (36 upper-case characters) next to the word vultr',
    pattern: '[A-Z0-9]{36}', near: ['vultr'], label: 'vultr', keywords: ['vultr'], entropy: 3.5,
    sample: '{uc:36}',
  }),
  named({
    id: 'wiz-client-id', kind: 'wiz_client_id', severity: 'medium',
    description: 'Wiz service account client id (53 characters) next to the word wiz',
    pattern: '[A-Za-z0-9]{53}', near: ['(?<![A-Za-z])wiz(?![a-z]{2})'], label: 'wiz', keywords: ['wiz'], entropy: 4,
    sample: '{a62:53}', invalid: ['wizard_key = "{a62:53}"'],
  }),
  named({
    id: 'wiz-client-secret', kind: 'wiz_client_secret', severity: 'critical',
    description: 'Wiz service account client secret (64 characters) next to the word wiz',
    pattern: '[A-Za-z0-9]{64}', near: ['(?<![A-Za-z])wiz(?![a-z]{2})'], label: 'wiz', keywords: ['wiz'], entropy: 4,
    sample: '{a62:64}', invalid: ['wizard_secret = "{a62:64}"'],
  }),
  prefixed({
    id: 'wakatime-api-key', kind: 'wakatime_api_key', severity: 'medium',
    description: 'WakaTime API key (waka_ and a UUID)',
    pattern: 'waka_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', keywords: ['waka_'], entropy: 3,
    sample: 'waka_{uuid}', short: 'waka_{hex:8}-{hex:4}-{hex:4}-{hex:4}-{hex:10}',
  }),
  {
    // WorkOS keys start like Stripe's (`sk_live_`, `sk_test_`): the name before them says whose.
    id: 'workos-api-key', kind: 'workos_api_key', severity: 'critical',
    description: 'WorkOS API key (sk_live_/sk_test_) next to the word workos',
    pattern: 'sk_(?:live|test)_[A-Za-z0-9]{20,100}', near: ['work[_-]?os'], keywords: ['workos', 'work_os', 'work-os'], entropy: 3.5, priority: PRIORITY_OVER_SHAPE,
    samples: { valid: [...namedSamples('workos', 'sk_live_{a62:60}'), 'WORKOS_API_KEY=sk_test_{a62:60}'], invalid: [withoutName('sk_live_{a62:60}'), 'workos_key = "sk_live_{a62:10}"'] },
  },
  named({
    id: 'wandb-api-key', kind: 'wandb_api_key', severity: 'high',
    description: 'Weights & Biases API key (40 hex) next to wandb',
    pattern: '[a-f0-9]{40}', near: ['wandb', 'weights[_ -]?(?:and|&)[_ -]?biases'], label: 'wandb', keywords: ['wandb', 'biases'], entropy: 3,
    sample: '{hex:40}', valid: ['wandb login {hex:40}'],
  }),
  prefixed({
    id: 'xai-api-key', kind: 'xai_api_key', severity: 'critical',
    description: 'xAI (Grok) API key',
    pattern: 'xai-[A-Za-z0-9]{80}', keywords: ['xai-'], entropy: 4,
    sample: 'xai-{a62:80}',
  }),
  prefixed({
    id: 'xata-api-key', kind: 'xata_api_key', severity: 'high',
    description: 'Xata API key',
    pattern: 'xau_[A-Za-z0-9]{32,40}', keywords: ['xau_'], entropy: 3.5,
    sample: 'xau_{a62:36}', short: 'xau_{a62:24}',
  }),
  prefixed({
    id: 'yandex-access-token', kind: 'yandex_iam_token', severity: 'high',
    description: 'Yandex Cloud IAM token (t1.…)',
    pattern: 't1\\.[A-Za-z0-9_-]{8,400}={0,2}\\.[A-Za-z0-9_-]{86}={0,2}', keywords: ['t1.'], entropy: 4, boundaries: 'word',
    sample: 't1.{b64u:120}.{b64u:86}',
    invalid: ['t1.{b64u:120}.{b64u:40}'],
  }),
  prefixed({
    id: 'yandex-api-key', kind: 'yandex_api_key', severity: 'high',
    description: 'Yandex Cloud API key (AQVN…)',
    pattern: 'AQVN[A-Za-z0-9_-]{35,38}', keywords: ['aqvn'], entropy: 3.5,
    sample: 'AQVN{b64u:36}', short: 'AQVN{b64u:20}',
  }),
  named({
    id: 'yandex-legacy-api-key', kind: 'yandex_api_key', severity: 'medium',
    description: 'Yandex service API key (83 characters: Dictionary, Translate) next to the word yandex',
    pattern: '[A-Za-z0-9.]{83}', near: ['yandex'], label: 'yandex', keywords: ['yandex'], entropy: 3.5,
    sample: 'dict.1.1.{d:8}T{d:6}Z.{hex:16}.{hex:40}',
  }),
  named({
    id: 'yandex-aws-access-token', kind: 'yandex_static_key', severity: 'high',
    description: 'Yandex Cloud static access key (YC…, the S3-compatible key) next to the word yandex',
    pattern: 'YC[A-Za-z0-9_-]{38}', near: ['yandex'], label: 'yandex', keywords: ['yandex'], entropy: 3.5,
    sample: 'YC{b64u:38}',
  }),
  {
    id: 'zapier-webhook-url', kind: 'zapier_webhook', severity: 'medium',
    description: 'Zapier catch hook URL (anyone holding it can trigger the Zap)',
    pattern: 'https://hooks\\.zapier\\.com/hooks/catch/[0-9]{4,12}/[a-z0-9]{5,12}/?', keywords: ['hooks.zapier.com'], boundaries: 'word',
    samples: {
      valid: ['ZAPIER_HOOK=https://hooks.zapier.com/hooks/catch/{d:7}/{lc:7}/', '"url": "https://hooks.zapier.com/hooks/catch/{d:8}/{lc:6}"'],
      invalid: ['https://hooks.zapier.com/hooks/catch/', 'https://hooks.zapier.com/hooks/catch/{d:2}/{lc:7}/'],
    },
  },
  named({
    id: 'zendesk-secret-key', kind: 'zendesk_api_token', severity: 'high',
    description: 'Zendesk API token or OAuth secret (40 characters) next to the word zendesk',
    pattern: '[A-Za-z0-9_-]{40}', near: ['zendesk'], label: 'zendesk', keywords: ['zendesk'], entropy: 3.5,
    sample: '{a62:40}',
  }),
  prefixed({
    id: 'zoho-oauth-token', kind: 'zoho_token', severity: 'high',
    description: 'Zoho OAuth access or refresh token (1000.<32 hex>.<32 hex>)',
    pattern: '1000\\.[a-f0-9]{32}\\.[a-f0-9]{32}', keywords: ['1000.'], entropy: 3,
    sample: '1000.{hex:32}.{hex:32}',
  }),
  named({
    id: 'zoom-client-secret', kind: 'zoom_client_secret', severity: 'high',
    description: 'Zoom OAuth client secret or JWT app secret (32-36 characters) next to the word zoom',
    pattern: '[A-Za-z0-9]{32,36}', near: ['zoom[_. -]?(?:(?:client|api|sdk|jwt)[_. -]?)?(?:secret|key|token)'], label: 'zoom', keywords: ['zoom'], entropy: 3.5,
    sample: '{a62:32}', valid: ['ZOOM_CLIENT_SECRET={a62:32}'],
  }),
  ...namedApiKeys(),
]

/**
 * Services whose keys carry no prefix: a fixed-length value next to the service's name is all a
 * scanner can go on (the shapes are the services' own: 32 hex, 64 hex, 40 hex, base62).
 */
function namedApiKeys(): ProviderSpec[] {
  const rows: readonly [id: string, kind: string, name: string, keywords: readonly string[], near: string, pattern: string, sample: string, severity: Severity, description: string][] = [
    ['sparkpost-api-key', 'sparkpost_api_key', 'sparkpost', ['sparkpost'], 'spark[_.-]?post', '[A-Za-z0-9]{40}', '{a62:40}', 'high', 'SparkPost API key'],
    ['spotify-client-secret', 'spotify_client_secret', 'spotify', ['spotify'], 'spotify', '[A-Za-z0-9]{32}', '{a62:32}', 'medium', 'Spotify client secret'],
    ['stytch-secret', 'stytch_secret', 'stytch', ['stytch'], 'stytch', 'secret-(?:live|test)-[A-Za-z0-9_-]{36}=?|[A-Za-z0-9_-]{47}=', 'secret-live-{b64u:36}', 'critical', 'Stytch project secret'],
    ['saucelabs-access-key', 'saucelabs_access_key', 'saucelabs', ['sauce'], 'sauce[_.-]?labs', '[a-z0-9]{8}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{12}', '{uuid}', 'high', 'Sauce Labs access key'],
    ['scraperapi-api-key', 'scraperapi_api_key', 'scraperapi', ['scraper'], 'scraper[_.-]?api', '[a-z0-9]{32}', '{lc:32}', 'medium', 'ScraperAPI key'],
    ['scrapingbee-api-key', 'scrapingbee_api_key', 'scrapingbee', ['scraping'], 'scraping[_.-]?bee', '[A-Z0-9]{80}', '{uc:80}', 'medium', 'ScrapingBee API key'],
    ['securitytrails-api-key', 'securitytrails_api_key', 'securitytrails', ['security'], 'security[_.-]?trails', '[A-Za-z0-9]{32}', '{a62:32}', 'medium', 'SecurityTrails API key'],
    ['serpapi-api-key', 'serpapi_api_key', 'serpapi', ['serp'], 'serp[_.-]?api', '[a-f0-9]{64}', '{hex:64}', 'medium', 'SerpApi key'],
    ['shodan-api-key', 'shodan_api_key', 'shodan', ['shodan'], 'shodan', '[A-Za-z0-9]{32}', '{a62:32}', 'high', 'Shodan API key'],
    ['smartsheet-api-token', 'smartsheet_token', 'smartsheet', ['smartsheet'], 'smartsheets?', '[A-Za-z0-9]{37}', '{a62:37}', 'high', 'Smartsheet API access token'],
    ['tiingo-api-key', 'tiingo_api_key', 'tiingo', ['tiingo'], 'tiingo', '[a-f0-9]{40}', '{hex:40}', 'low', 'Tiingo market data API key'],
    ['todoist-api-token', 'todoist_token', 'todoist', ['todoist'], 'todoist', '[a-f0-9]{40}', '{hex:40}', 'medium', 'Todoist API token'],
    ['tomtom-api-key', 'tomtom_api_key', 'tomtom', ['tomtom'], 'tomtom', '[A-Za-z0-9]{32}', '{a62:32}', 'low', 'TomTom maps API key'],
    ['twelvedata-api-key', 'twelvedata_api_key', 'twelvedata', ['twelve'], 'twelve[_.-]?data', '[a-z0-9]{32}', '{lc:32}', 'low', 'Twelve Data API key'],
    ['uploadcare-secret-key', 'uploadcare_secret_key', 'uploadcare', ['uploadcare'], 'uploadcare', '[a-z0-9]{20}', '{lc:20}', 'medium', 'Uploadcare secret key'],
    ['unsplash-access-key', 'unsplash_access_key', 'unsplash', ['unsplash'], 'unsplash', '[A-Za-z0-9_-]{43}', '{b64u:43}', 'low', 'Unsplash access key'],
    ['userstack-api-key', 'userstack_api_key', 'userstack', ['userstack'], 'userstack', '[a-f0-9]{32}', '{hex:32}', 'low', 'userstack API key'],
    ['virustotal-api-key', 'virustotal_api_key', 'virustotal', ['virus', 'vt_api', 'vt-api', 'vt.api', 'vtapi'], 'virus[_.-]?total|\\bvt[_.-]?api', '[a-f0-9]{64}', '{hex:64}', 'medium', 'VirusTotal API key'],
    ['weatherstack-api-key', 'weatherstack_api_key', 'weatherstack', ['weatherstack'], 'weatherstack', '[a-f0-9]{32}', '{hex:32}', 'low', 'weatherstack API key'],
    ['webex-client-secret', 'webex_client_secret', 'webex', ['webex'], 'webex', '[a-f0-9]{64}', '{hex:64}', 'high', 'Webex integration client secret'],
    ['webflow-api-token', 'webflow_api_token', 'webflow', ['webflow'], 'webflow', '[a-f0-9]{64}', '{hex:64}', 'high', 'Webflow API token'],
    ['yelp-api-key', 'yelp_api_key', 'yelp', ['yelp'], 'yelp', '[A-Za-z0-9_=.-]{128}', '{b64u:128}', 'medium', 'Yelp Fusion API key'],
    ['zenrows-api-key', 'zenrows_api_key', 'zenrows', ['zenrows'], 'zenrows', '[a-f0-9]{40}', '{hex:40}', 'medium', 'ZenRows API key'],
    ['zerobounce-api-key', 'zerobounce_api_key', 'zerobounce', ['zero'], 'zero[_.-]?bounce', '[a-f0-9]{32}', '{hex:32}', 'medium', 'ZeroBounce API key'],
    ['zerotier-api-token', 'zerotier_api_token', 'zerotier', ['zerotier'], 'zerotier', '[A-Za-z0-9]{32}', '{a62:32}', 'high', 'ZeroTier Central API token'],
    ['zulip-api-key', 'zulip_api_key', 'zulip', ['zulip'], 'zulip', '[A-Za-z0-9]{32}', '{a62:32}', 'high', 'Zulip bot or user API key'],
  ]
  return rows.map(([id, kind, label, keywords, near, pattern, sample, severity, description]) => named({
    id, kind, severity, description: `${description} next to the service's name`, pattern, near: [near], label, keywords,
    sample, entropy: /a-f0-9|\{8\}-/.test(pattern) ? 3 : 3.5,
  }))
}

/** A Sentry organization token with claims naming a region, and a random signature. */
function sentryToken(rng: Rng): string {
  const claims = b64json({ iat: rng.int(1.6e9, 1.8e9), url: 'https://sentry.io', region_url: 'https://us.sentry.io', org: rng.chars(8, 'abcdefghij') })
  return `sntrys_${claims}_${rng.chars(43, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789')}`
}

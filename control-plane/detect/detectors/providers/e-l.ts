/**
 * Provider detectors, providers named E-L (by the provider's name; digits go with A-D).
 * See ../provider-spec.ts for what a spec holds and how its samples are written.
 */
import { bare, named, unnamed, type ProviderSpec } from '../provider-spec.js'
import { crc32Base62, hasValidCrc32Checksum } from '../checksums.js'
import { ALPHA, type Rng } from '../../corpus/random.js'

/** A UUID in either case (providers print them upper or lower). */
const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}'

/** LaunchDarkly's prefixed keys: API, server SDK and mobile. */
const LAUNCHDARKLY_KEY = new RegExp(`^(?:api|sdk|mob)-${UUID}$`)

/** A base64 text that decodes to JSON starting with the given key (Grafana's keys are base64 JSON). */
function decodesToJsonWith(token: string, prefix: string, key: string): boolean {
  const body = token.slice(prefix.length).replace(/=+$/, '')
  if (body.length % 4 === 1) return false
  const text = Buffer.from(body, 'base64').toString('latin1')
  return text.startsWith(`{"${key}":"`)
}

/**
 * Tokens of a checksummed format whose checksum does not verify cannot have been issued, yet samples,
 * docs and other scanners' test suites are written with them, and a reviewer expects them reported
 * when they are assigned to the provider's name: found there at a lower severity. Alone on a line (a
 * fixture of made-up tokens) they are not reported.
 */
const GITHUB_UNVERIFIED: ProviderSpec = {
  id: 'github-pat-unverified', kind: 'github_pat', severity: 'medium',
  description: 'GitHub classic token format, assigned to a GitHub name, whose checksum does not verify (a sample, a copy with a typo)',
  pattern: 'gh[pousr]_[A-Za-z0-9]{36}', boundaries: 'word', near: ['git_?hub', 'gh_?(?:token|pat)'],
  keywords: ['github', 'gh_token', 'ghtoken', 'gh_pat', 'ghpat'], entropy: 3.5, validate: (s) => !hasValidCrc32Checksum(s),
  samples: {
    valid: ['GITHUB_TOKEN=ghp_{a62:36}', 'var githubToken string = "gho_{a62:36}"', '<githubKey>\n    ghs_{a62:36}\n</githubKey>'],
    invalid: ['ghp_{a62:36}', (rng: Rng) => { const r = rng.chars(30, ALPHA.base62); return `GITHUB_TOKEN=ghp_${r}${crc32Base62(r)}` }, 'GITHUB_TOKEN=ghp_{a62:30}'],
  },
}

/** The specs of this group. */
export const SPECS: ProviderSpec[] = [
  GITHUB_UNVERIFIED,
  {
    id: 'easypost-api-token', kind: 'easypost_api_token', severity: 'high',
    description: 'EasyPost production API key (EZAK…)',
    pattern: 'EZAK[A-Za-z0-9]{54}', keywords: ['ezak'], entropy: 3,
    samples: {
      valid: [...bare('EZAK{a62:54}'), 'https://example.com?t=EZAK{a62:54}&q=1'],
      invalid: ['EZAK{a62:50}', '+EZAK{a62:60}/', 'EZAKxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
    },
  },
  {
    id: 'easypost-test-api-token', kind: 'easypost_test_api_token', severity: 'low',
    description: 'EasyPost test-mode API key (EZTK…)',
    pattern: 'EZTK[A-Za-z0-9]{54}', keywords: ['eztk'], entropy: 3,
    samples: { valid: bare('EZTK{a62:54}'), invalid: ['EZTK{a62:53}', 'EZTK{a62:54}-{a62:3}'] },
  },
  {
    id: 'elasticemail-api-key', kind: 'elasticemail_api_key', severity: 'high',
    description: 'Elastic Email API key next to the name',
    pattern: '[A-F0-9]{96}', near: ['elastic[_.-]?email'], keywords: ['elasticemail', 'elastic_email', 'elastic-email', 'elastic.email'], entropy: 3,
    samples: { valid: named('elasticEmail', '{HEX:96}'), invalid: unnamed('elasticEmail', '{HEX:96}', '{HEX:90}') },
  },
  {
    id: 'elevenlabs-api-key', kind: 'elevenlabs_api_key', severity: 'high',
    description: 'ElevenLabs API key (sk_ and 48 hex characters)',
    pattern: 'sk_[a-f0-9]{48}', keywords: ['sk_'], entropy: 3,
    samples: { valid: bare('sk_{hex:48}'), invalid: ['sk_{hex:40}', 'sk_{a62:48}', 'sk_live_{hex:48}'] },
  },
  {
    id: 'elevenlabs-api-key-legacy', kind: 'elevenlabs_api_key', severity: 'high',
    description: 'ElevenLabs API key, older format (32 hex characters) next to the name',
    pattern: '[a-f0-9]{32}', near: ['eleven[_.-]?labs', 'xi[_-]api[_-]key'], keywords: ['elevenlabs', 'eleven_labs', 'eleven-labs', 'xi-api-key', 'xi_api_key'], entropy: 3,
    samples: { valid: named('elevenlabs', '{hex:32}'), invalid: unnamed('elevenlabs', '{hex:32}', '{hex:30}') },
  },
  {
    id: 'endorlabs-api-key', kind: 'endorlabs_api_key', severity: 'high',
    description: 'Endor Labs API key or secret (endr+…) next to the name',
    pattern: 'endr\\+[A-Za-z0-9]{8,64}', near: ['endor'], keywords: ['endor'], entropy: 3,
    samples: { valid: named('endorlabs', 'endr+{a62:16}'), invalid: ['key = "endr+{a62:16}"', 'endorlabs_key = "endr+{a62:4}"'] },
  },
  {
    id: 'etherscan-api-key', kind: 'etherscan_api_key', severity: 'medium',
    description: 'Etherscan API key next to the name',
    pattern: '[A-Z0-9]{34}', near: ['etherscan'], keywords: ['etherscan'], entropy: 3,
    samples: { valid: named('etherscan', '{uc:34}'), invalid: unnamed('etherscan', '{uc:34}', '{uc:33}') },
  },
  {
    id: 'etsy-access-token', kind: 'etsy_access_token', severity: 'high',
    description: 'Etsy API key next to the name',
    pattern: '[A-Za-z0-9]{24}', near: ['etsy'], keywords: ['etsy'], entropy: 3,
    samples: { valid: named('etsy', '{lc:24}'), invalid: unnamed('etsy', '{lc:24}', '{lc:23}') },
  },
  {
    id: 'eventbrite-api-key', kind: 'eventbrite_api_key', severity: 'medium',
    description: 'Eventbrite private token next to the name',
    pattern: '[0-9A-Z]{20}', near: ['eventbrite'], keywords: ['eventbrite'], entropy: 3,
    samples: { valid: [...named('eventbrite', '{uc:20}'), 'You can find a eventbrite secret {uc:20} within'], invalid: unnamed('eventbrite', '{uc:20}', '{uc:19}') },
  },
  {
    id: 'exchangerate-api-key', kind: 'exchangerate_api_key', severity: 'low',
    description: 'ExchangeRate-API key next to the name',
    pattern: '[a-f0-9]{24}', near: ['exchange[_.-]?rate'], keywords: ['exchangerate', 'exchange_rate', 'exchange-rate', 'exchange.rate'], entropy: 2.8,
    samples: { valid: named('exchangerate', '{hex:24}'), invalid: unnamed('exchangerate', '{hex:24}', '{hex:20}') },
  },
  {
    id: 'facebook-access-token', kind: 'facebook_app_access_token', severity: 'high',
    description: 'Facebook (Meta) app access token (app id|secret) next to the name',
    pattern: '[0-9]{15,16}(?:\\||%7[Cc])[A-Za-z0-9_-]{27,40}', near: ['facebook', 'fb[_.-]'], keywords: ['facebook', 'fb_', 'fb.', 'fb-'], entropy: 3,
    samples: {
      valid: ['{"facebook access_token":"{d:15}|{b64u:27}","token_type":"bearer"}', 'facebook {d:16}|{b64u:27}', 'FB_APP_TOKEN={d:15}%7C{a62:30}'],
      invalid: ['access_token={d:15}|{b64u:27}', 'facebook {d:12}|{b64u:27}', 'facebook {d:15}|{b64u:20}'],
    },
  },
  {
    id: 'facebook-page-access-token', kind: 'facebook_access_token', severity: 'high',
    description: 'Facebook (Meta) Graph API user or page access token (EAA…)',
    // Not after base64 punctuation: `EAA` turns up inside base64 blobs.
    pattern: '(?<![+/])EAA[A-Za-z0-9]{100,400}', keywords: ['eaa'], entropy: 4,
    samples: {
      valid: [...bare('EAAM{a62:120}'), '- name: FACEBOOK_TOKEN\n  value: "EAACEd{a62:110}"', 'EAAG{a62:180}'],
      invalid: ['eaac{hex:120}', 'EAAM{a62:60}', 'abc+EAAM{a62:120}'],
    },
  },
  {
    id: 'facebook-secret', kind: 'facebook_app_secret', severity: 'high',
    description: 'Facebook (Meta) app secret or client token next to the name',
    pattern: '[a-fA-F0-9]{32}', near: ['facebook', 'fb[_.-]?(?:app[_.-]?)?(?:secret|client[_.-]?token)'],
    keywords: ['facebook', 'fb_', 'fb.', 'fb-', 'fbapp', 'fbsecret', 'fbclient'], entropy: 3,
    samples: {
      valid: [...named('facebook', '{hex:32}'), 'facebook_app_secret = "{hex:32}"', 'facebook_client_access_token: {hex:32}', 'FB_APP_SECRET={hex:32}'],
      invalid: unnamed('facebook', '{hex:32}', '{hex:31}'),
    },
  },
  {
    id: 'fastly-api-token', kind: 'fastly_api_token', severity: 'critical',
    description: 'Fastly API token next to the name',
    pattern: '[A-Za-z0-9_=-]{32}', near: ['fastly'], keywords: ['fastly'], entropy: 3,
    samples: { valid: named('fastly', '{b64u:32}'), invalid: unnamed('fastly', '{b64u:32}', '{b64u:31}') },
  },
  {
    id: 'figma-personal-access-token', kind: 'figma_pat', severity: 'high',
    description: 'Figma personal access token (figd_…)',
    pattern: 'figd_[A-Za-z0-9_-]{40}', keywords: ['figd_'], entropy: 3.5,
    samples: { valid: bare('figd_{b64u:40}'), invalid: ['figd_{b64u:30}', 'figd_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'] },
  },
  {
    id: 'figma-personal-access-token-legacy', kind: 'figma_pat', severity: 'high',
    description: 'Figma personal access token, older format (digits and a UUID) next to the name',
    pattern: `[0-9]{6}-${UUID}`, near: ['figma'], keywords: ['figma'], entropy: 3,
    samples: { valid: named('figma', '{d:6}-{uuid}'), invalid: unnamed('figma', '{d:6}-{uuid}', '{d:3}-{uuid}') },
  },
  {
    id: 'financialmodelingprep-api-key', kind: 'financialmodelingprep_api_key', severity: 'low',
    description: 'Financial Modeling Prep API key next to the name',
    pattern: '[A-Za-z0-9]{32}', near: ['financial[_.-]?modeling[_.-]?prep', 'fmp[_.-]?(?:api)?[_.-]?key'],
    keywords: ['financialmodelingprep', 'financial_modeling_prep', 'financial-modeling-prep', 'fmp'], entropy: 3.5,
    samples: { valid: [...named('financialmodelingprep', '{a62:32}'), 'FMP_API_KEY={a62:32}'], invalid: unnamed('financialmodelingprep', '{a62:32}', '{a62:30}') },
  },
  {
    id: 'finicity-api-token', kind: 'finicity_api_token', severity: 'high',
    description: 'Finicity API app key next to the name',
    pattern: '[a-fA-F0-9]{32}', near: ['finicity'], keywords: ['finicity'], entropy: 3,
    samples: { valid: named('finicity', '{hex:32}'), invalid: unnamed('finicity', '{hex:32}', '{hex:33}') },
  },
  {
    id: 'finicity-client-secret', kind: 'finicity_client_secret', severity: 'high',
    description: 'Finicity partner secret next to the name',
    pattern: '[A-Za-z0-9]{20}', near: ['finicity'], keywords: ['finicity'], entropy: 3,
    samples: { valid: named('finicity', '{lc:20}'), invalid: unnamed('finicity', '{lc:20}', '{lc:21}') },
  },
  {
    id: 'finnhub-access-token', kind: 'finnhub_access_token', severity: 'medium',
    description: 'Finnhub API key next to the name',
    pattern: '[A-Za-z0-9]{20}', near: ['finnhub'], keywords: ['finnhub'], entropy: 3,
    samples: { valid: named('finnhub', '{lc:20}'), invalid: unnamed('finnhub', '{lc:20}', '{lc:18}') },
  },
  {
    id: 'firebase-cloud-messaging-server-key', kind: 'firebase_fcm_server_key', severity: 'high',
    description: 'Firebase Cloud Messaging legacy server key (AAAA…:APA91b…)',
    pattern: 'AAAA[A-Za-z0-9_-]{7}:APA91b[A-Za-z0-9_-]{134}', keywords: ['apa91b'], entropy: 4,
    samples: { valid: bare('AAAA{b64u:7}:APA91b{b64u:134}'), invalid: ['AAAA{b64u:7}:APA91b{b64u:100}', 'AAAA{b64u:5}:APA91b{b64u:134}'] },
  },
  {
    id: 'fixerio-api-key', kind: 'fixerio_api_key', severity: 'medium',
    description: 'Fixer (exchange rates) API key next to the name',
    pattern: '[a-f0-9]{32}', near: ['fixer(?:[_.-]?io)?'], keywords: ['fixer'], entropy: 3,
    samples: { valid: named('fixer', '{hex:32}'), invalid: unnamed('fixer', '{hex:32}', '{hex:31}') },
  },
  {
    id: 'flagsmith-environment-key', kind: 'flagsmith_environment_key', severity: 'medium',
    description: 'Flagsmith environment key (22 characters, server-side keys prefixed ser.) next to the word flagsmith',
    pattern: '(?:ser\\.)?[A-Za-z0-9]{22}', near: ['flagsmith'], keywords: ['flagsmith'], entropy: 3.5,
    samples: { valid: [...named('flagsmith', '{a62:22}'), 'FLAGSMITH_SERVER_KEY=ser.{a62:22}'], invalid: unnamed('flagsmith', '{a62:22}', '{a62:16}') },
  },
  {
    id: 'flickr-access-token', kind: 'flickr_access_token', severity: 'medium',
    description: 'Flickr API key next to the name',
    pattern: '[A-Za-z0-9]{32}', near: ['flickr'], keywords: ['flickr'], entropy: 3,
    samples: { valid: named('flickr', '{lc:32}'), invalid: unnamed('flickr', '{lc:32}', '{lc:30}') },
  },
  {
    id: 'flutterwave-encryption-key', kind: 'flutterwave_encryption_key', severity: 'high',
    description: 'Flutterwave encryption key (FLWSECK… and 12 hex characters)',
    pattern: 'FLWSECK(?:_TEST)?-?[a-hA-H0-9]{12}', keywords: ['flwseck'], entropy: 2,
    samples: { valid: [...named('flutterwaveEncKey', 'FLWSECK_TEST-{hex:12}'), 'FLWSECK_TEST{hex:12}'], invalid: ['FLWSECK_TEST-{hex:10}', 'FLWSECK_TEST-{hex:14}'] },
  },
  {
    id: 'flutterwave-public-key', kind: 'flutterwave_public_key', severity: 'low',
    description: 'Flutterwave public key (FLWPUBK…-X)',
    pattern: 'FLWPUBK(?:_TEST)?-[a-hA-H0-9]{32}-X', keywords: ['flwpubk'], entropy: 2,
    samples: { valid: [...named('flutterwavePubKey', 'FLWPUBK_TEST-{hex:32}-X'), 'FLWPUBK-{hex:32}-X'], invalid: ['FLWPUBK_TEST-{hex:30}-X', 'FLWPUBK_TEST-{hex:32}'] },
  },
  {
    id: 'flutterwave-secret-key', kind: 'flutterwave_secret_key', severity: 'critical',
    description: 'Flutterwave secret key (FLWSECK…-X)',
    pattern: 'FLWSECK(?:_TEST)?-[a-hA-H0-9]{32}-X', keywords: ['flwseck'], entropy: 2,
    samples: { valid: [...named('flutterwaveSecKey', 'FLWSECK_TEST-{hex:32}-X'), 'FLWSECK-{hex:32}-X'], invalid: ['FLWSECK_TEST-{hex:31}-X', 'FLWSECK_TEST-{a62:32}-X'] },
  },
  {
    id: 'flyio-access-token', kind: 'flyio_access_token', severity: 'critical',
    description: 'Fly.io access token (fo1_, fm1a_, fm1r_, fm2_ macaroons)',
    pattern: '(?:fo1_[A-Za-z0-9_-]{43}|fm1[ar]_[A-Za-z0-9+/]{100,4000}={0,3}|fm2_[A-Za-z0-9+/]{100,4000}={0,3})',
    keywords: ['fo1_', 'fm1a_', 'fm1r_', 'fm2_'], entropy: 4, boundaries: 'word',
    samples: {
      valid: [...named('fly', 'fo1_{b64u:43}'), 'Fly access token: fo1_{b64u:43}\n', 'FLY_API_TOKEN="FlyV1 fm1r_{b64:160}="', 'FLY_API_TOKEN: FlyV1 fm2_{b64:200}==,fm2_{b64:180}'],
      invalid: ['api_key = "fo1_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"', 'value="7SWa-Fo1_{b64u:80}"', 'fm2_{b64:60}'],
    },
  },
  {
    id: 'foursquare-client-secret', kind: 'foursquare_client_secret', severity: 'medium',
    description: 'Foursquare client secret or API key next to the name',
    pattern: '[0-9A-Z]{48}', near: ['foursquare'], keywords: ['foursquare'], entropy: 3.5,
    samples: { valid: named('foursquare', '{uc:48}'), invalid: unnamed('foursquare', '{uc:48}', '{uc:44}') },
  },
  {
    id: 'frameio-api-token', kind: 'frameio_api_token', severity: 'high',
    description: 'Frame.io developer token (fio-u-…)',
    pattern: 'fio-u-[A-Za-z0-9_=-]{64}', keywords: ['fio-u-'], entropy: 3,
    samples: { valid: named('frameio', 'fio-u-{b64u:64}'), invalid: ['fio-u-{b64u:40}', 'fio-u-{b64u:70}'] },
  },
  {
    id: 'freemius-secret-key', kind: 'freemius_secret_key', severity: 'high',
    description: 'Freemius SDK secret key in a PHP config array ("secret_key" => "sk_…")',
    pattern: `["']secret_key["']\\s{0,5}=>\\s{0,5}["'](sk_[^\\s"']{29})["']`, group: 1, keywords: ['secret_key'], entropy: 3,
    samples: {
      valid: ['$config = array(\n    "secret_key" => "sk_{a62:29}",\n);', "'secret_key' => 'sk_{a62:20}#{a62:8}',"],
      invalid: ['secret_key => "sk_{a62:29}",', '"other_key" => "sk_{a62:29}",', '"secret_key" => sk_{a62:29},'],
    },
  },
  {
    id: 'freshbooks-access-token', kind: 'freshbooks_access_token', severity: 'high',
    description: 'FreshBooks access token next to the name',
    pattern: '[A-Za-z0-9]{64}', near: ['freshbooks'], keywords: ['freshbooks'], entropy: 3,
    samples: { valid: named('freshbooks', '{lc:64}'), invalid: unnamed('freshbooks', '{lc:64}', '{lc:60}') },
  },
  {
    id: 'freshdesk-api-key', kind: 'freshdesk_api_key', severity: 'high',
    description: 'Freshdesk API key next to the name',
    pattern: '[A-Za-z0-9]{20}', near: ['freshdesk'], keywords: ['freshdesk'], entropy: 3,
    samples: { valid: named('freshdesk', '{a62:20}'), invalid: unnamed('freshdesk', '{a62:20}', '{a62:22}') },
  },
  {
    id: 'gemini-api-key', kind: 'gemini_exchange_api_key', severity: 'critical',
    description: 'Gemini (crypto exchange) master or account API key next to the name',
    pattern: '(?:master|account)-[A-Za-z0-9]{20}', near: ['gemini'], keywords: ['gemini'], entropy: 3,
    samples: { valid: [...named('gemini', 'master-{a62:20}'), 'GEMINI_KEY=account-{a62:20}'], invalid: ['key = "master-{a62:20}"', 'gemini_key = "master-{a62:12}"'] },
  },
  {
    id: 'geoapify-api-key', kind: 'geoapify_api_key', severity: 'low',
    description: 'Geoapify API key next to the name',
    pattern: '[a-f0-9]{32}', near: ['geoapify'], keywords: ['geoapify'], entropy: 3,
    samples: { valid: named('geoapify', '{hex:32}'), invalid: unnamed('geoapify', '{hex:32}', '{hex:30}') },
  },
  {
    id: 'geocodio-api-key', kind: 'geocodio_api_key', severity: 'low',
    description: 'Geocodio API key next to the name',
    pattern: '[a-f0-9]{39}', near: ['geocodio'], keywords: ['geocodio'], entropy: 3,
    samples: { valid: named('geocodio', '{hex:39}'), invalid: unnamed('geocodio', '{hex:39}', '{hex:40}') },
  },
  {
    id: 'getresponse-api-key', kind: 'getresponse_api_key', severity: 'medium',
    description: 'GetResponse API key next to the name',
    pattern: '[a-z0-9]{32}', near: ['getresponse'], keywords: ['getresponse'], entropy: 3,
    samples: { valid: named('getresponse', '{lc:32}'), invalid: unnamed('getresponse', '{lc:32}', '{lc:30}') },
  },
  {
    id: 'github-oauth-client-secret', kind: 'github_oauth_client_secret', severity: 'high',
    description: 'GitHub OAuth or GitHub App client secret next to its name',
    // A bare "github" next to 40 hex characters is a commit id far more often than a secret.
    pattern: '[a-f0-9]{40}', near: ['github[_.-]?(?:oauth[_.-]?|app[_.-]?)?client[_.-]?secret', 'github[_.-]?oauth[_.-]?secret'],
    keywords: ['github'], entropy: 3,
    samples: {
      valid: ['GITHUB_CLIENT_SECRET={hex:40}', 'github_oauth_client_secret: "{hex:40}"', '{"githubClientSecret": "{hex:40}"}'],
      invalid: ['https://github.com/acme/api/commit/{hex:40}', 'GITHUB_CLIENT_SECRET={hex:38}'],
    },
  },
  {
    id: 'gitlab-session-cookie', kind: 'gitlab_session_cookie', severity: 'high',
    description: 'GitLab session cookie',
    pattern: '_gitlab_session=([0-9a-z]{32})', group: 1, keywords: ['_gitlab_session='], entropy: 3,
    samples: { valid: ['Cookie: _gitlab_session={lc:32}', ...named('gitlab', '_gitlab_session={lc:32}')], invalid: ['_gitlab_session={lc:20}', '_gitlab_session=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'] },
  },
  {
    id: 'gitter-access-token', kind: 'gitter_access_token', severity: 'medium',
    description: 'Gitter access token next to the name',
    pattern: '[A-Za-z0-9_-]{40}', near: ['gitter'], keywords: ['gitter'], entropy: 3,
    samples: { valid: named('gitter', '{lc:40}'), invalid: unnamed('gitter', '{lc:40}', '{lc:36}') },
  },
  {
    id: 'gocardless-api-token', kind: 'gocardless_api_token', severity: 'critical',
    description: 'GoCardless live access token next to the name',
    pattern: 'live_[A-Za-z0-9_=-]{40}', near: ['gocardless'], keywords: ['gocardless'], entropy: 3,
    samples: { valid: [...named('gocardless', 'live_{b64u:40}')], invalid: unnamed('gocardless', 'live_{b64u:40}', 'live_{b64u:30}') },
  },
  {
    id: 'gocardless-sandbox-token', kind: 'gocardless_sandbox_token', severity: 'low',
    description: 'GoCardless sandbox access token next to the name',
    pattern: 'sandbox_[A-Za-z0-9_=-]{40}', near: ['gocardless'], keywords: ['gocardless'], entropy: 3,
    samples: { valid: named('gocardless', 'sandbox_{b64u:40}'), invalid: unnamed('gocardless', 'sandbox_{b64u:40}', 'sandbox_{b64u:20}') },
  },
  {
    id: 'google-oauth-access-token', kind: 'google_oauth_access_token', severity: 'high',
    description: 'Google OAuth 2.0 access token (ya29.…)',
    pattern: 'ya29\\.[A-Za-z0-9_-]{30,2048}', keywords: ['ya29.'], entropy: 3.5,
    samples: { valid: [...bare('ya29.{b64u:120}')], invalid: ['ya29.{b64u:12}', 'ya29.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'] },
  },
  {
    id: 'google-oauth-client-id', kind: 'google_oauth_client_id', severity: 'low',
    description: 'Google OAuth client id (….apps.googleusercontent.com)',
    pattern: '[0-9]{6,14}-[a-z0-9]{32}\\.apps\\.googleusercontent\\.com', keywords: ['.apps.googleusercontent.com'], boundaries: 'word',
    samples: { valid: ['{d:12}-{lc:32}.apps.googleusercontent.com', '"client_id": "{d:12}-{lc:32}.apps.googleusercontent.com"'], invalid: ['{d:12}-{lc:20}.apps.googleusercontent.com', 'x{d:12}-{lc:32}.apps.googleusercontent.org'] },
  },
  {
    id: 'google-oauth-client-secret', kind: 'google_oauth_client_secret', severity: 'high',
    description: 'Google OAuth client secret (GOCSPX-…)',
    pattern: 'GOCSPX-[A-Za-z0-9_-]{28}', keywords: ['gocspx-'], entropy: 3,
    samples: { valid: [...bare('GOCSPX-{b64u:28}'), '"client_secret": "GOCSPX-{b64u:28}"'], invalid: ['GOCSPX-{b64u:20}', 'GOCSPX-{b64u:28}{a62:4}'] },
  },
  {
    id: 'grafana-api-key', kind: 'grafana_api_key', severity: 'high',
    description: 'Grafana API key (base64 JSON with a "k" field: eyJrIjoi…)',
    pattern: 'eyJrIjoi[A-Za-z0-9+/]{70,400}={0,3}', keywords: ['eyjrijoi'], entropy: 3, boundaries: 'word',
    validate: (s) => decodesToJsonWith(s, '', 'k'),
    samples: { valid: [...named('grafana-api-key', 'eyJrIjoi{a62:70}'), 'eyJrIjoi{a62:100}=='], invalid: ['eyJrIjoi{a62:40}', 'eyJrIjoi{a62:69}'] },
  },
  {
    id: 'grafana-cloud-api-token', kind: 'grafana_cloud_api_token', severity: 'high',
    description: 'Grafana Cloud access policy token (glc_…)',
    pattern: 'glc_[A-Za-z0-9+/]{32,400}={0,3}', keywords: ['glc_'], entropy: 3, boundaries: 'word',
    samples: {
      valid: [...named('grafana-cloud-api-token', 'glc_{a62:32}'), 'loki_key: glc_{b64:120}=='],
      invalid: ['glc_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'API_KEY="glc_111111111111111111111111111111111111111111="', 'static void GLC_CreateLightmapTextureArray(void);'],
    },
  },
  {
    id: 'grafana-service-account-token', kind: 'grafana_service_account_token', severity: 'high',
    description: 'Grafana service account token (glsa_…)',
    pattern: 'glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}', keywords: ['glsa_'], entropy: 3,
    samples: {
      valid: [...named('grafana-service-account-token', 'glsa_{a62:32}_{hex:8}'), "'Authorization': 'Bearer glsa_{a62:32}_{hex:8}'"],
      invalid: ['glsa_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX_AAAAAAAA', 'glsa_{a62:32}_{a62:8}x', 'glsa_{a62:30}_{hex:8}'],
    },
  },
  {
    id: 'graphhopper-api-key', kind: 'graphhopper_api_key', severity: 'low',
    description: 'GraphHopper API key (a UUID) next to the name',
    pattern: UUID, near: ['graphhopper'], keywords: ['graphhopper'], entropy: 3,
    samples: { valid: named('graphhopper', '{uuid}'), invalid: unnamed('graphhopper', '{uuid}', '{hex:8}-{hex:4}-{hex:12}') },
  },
  {
    id: 'groq-api-key', kind: 'groq_api_key', severity: 'high',
    description: 'Groq API key (gsk_…)',
    pattern: 'gsk_[A-Za-z0-9]{52}', keywords: ['gsk_'], entropy: 3.5,
    samples: { valid: bare('gsk_{a62:52}'), invalid: ['gsk_{a62:40}', 'gsk_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'] },
  },
  {
    id: 'gumroad-access-token', kind: 'gumroad_access_token', severity: 'medium',
    description: 'Gumroad access token next to the name',
    pattern: '[A-Za-z0-9-]{43}', near: ['gumroad'], keywords: ['gumroad'], entropy: 3.5,
    samples: { valid: named('gumroad', '{a62:43}'), invalid: unnamed('gumroad', '{a62:43}', '{a62:40}') },
  },
  {
    id: 'gyazo-access-token', kind: 'gyazo_access_token', severity: 'medium',
    description: 'Gyazo access token next to the name',
    pattern: '[A-Za-z0-9_-]{43}', near: ['gyazo'], keywords: ['gyazo'], entropy: 3.5,
    samples: { valid: named('gyazo', '{b64u:43}'), invalid: unnamed('gyazo', '{b64u:43}', '{b64u:40}') },
  },
  {
    id: 'harness-api-key', kind: 'harness_api_key', severity: 'critical',
    description: 'Harness personal access or service account token (pat./sat.…)',
    pattern: '(?:pat|sat)\\.[A-Za-z0-9_-]{22}\\.[A-Za-z0-9]{24}\\.[A-Za-z0-9]{20}', keywords: ['pat.', 'sat.'], entropy: 3,
    samples: { valid: [...bare('pat.{b64u:22}.{a62:24}.{a62:20}'), 'HARNESS_TOKEN=sat.{b64u:22}.{a62:24}.{a62:20}'], invalid: ['pat.{b64u:22}.{a62:20}.{a62:20}', 'pat.{b64u:22}.{a62:24}'] },
  },
  {
    id: 'harvest-access-token', kind: 'harvest_access_token', severity: 'high',
    description: 'Harvest personal access token next to the name',
    pattern: '[A-Za-z0-9._]{97}', near: ['harvest'], keywords: ['harvest'], entropy: 4,
    samples: { valid: named('harvest', '{d:7}.pt.{a62:86}'), invalid: unnamed('harvest', '{d:7}.pt.{a62:86}', '{d:7}.pt.{a62:80}') },
  },
  {
    id: 'hashicorp-tf-api-token', kind: 'terraform_cloud_token', severity: 'critical',
    description: 'HashiCorp Terraform Cloud / Enterprise user, team or organization token (….atlasv1.…)',
    pattern: '[A-Za-z0-9]{14}\\.atlasv1\\.[A-Za-z0-9_=-]{60,70}', keywords: ['atlasv1'], entropy: 3.5,
    samples: {
      valid: [...named('hashicorpToken', '{a62:14}.atlasv1.{b64u:64}'), '#token = "{a62:14}.atlasv1.{a62:67}"'],
      invalid: ['token = "xxxxxxxxxxxxxx.atlasv1.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"', '{a62:14}.atlasv1.{a62:40}'],
    },
  },
  {
    id: 'hellosign-api-key', kind: 'hellosign_api_key', severity: 'high',
    description: 'HelloSign (Dropbox Sign) API key next to the name',
    pattern: '[a-f0-9]{64}', near: ['hellosign', 'dropbox[_.-]?sign'], keywords: ['hellosign', 'dropboxsign', 'dropbox_sign', 'dropbox-sign', 'dropbox.sign'], entropy: 3,
    samples: { valid: named('hellosign', '{hex:64}'), invalid: unnamed('hellosign', '{hex:64}', '{hex:60}') },
  },
  {
    id: 'heroku-api-key', kind: 'heroku_api_key', severity: 'critical',
    description: 'Heroku API key (a UUID) next to the name',
    pattern: UUID, near: ['heroku'], keywords: ['heroku'], entropy: 3,
    samples: {
      valid: [...named('heroku', '{uuid}'), 'const HEROKU_KEY = "{uuid}"'],
      invalid: unnamed('heroku', '{uuid}', '{hex:8}-{hex:4}-{hex:4}-{hex:12}'),
    },
  },
  {
    id: 'heroku-api-key-v2', kind: 'heroku_api_key', severity: 'critical',
    description: 'Heroku API key, current format (HRKU-AA…)',
    pattern: 'HRKU-AA[A-Za-z0-9_-]{58}', keywords: ['hrku-aa'], entropy: 4,
    samples: { valid: [...named('heroku', 'HRKU-AA{b64u:58}'), 'const KEY = "HRKU-AA{b64u:58}""'], invalid: ['HRKU-AA{b64u:50}', 'HRKU-AA{b64u:58}{a62:3}'] },
  },
  {
    id: 'hetzner-cloud-api-token', kind: 'hetzner_cloud_token', severity: 'critical',
    description: 'Hetzner Cloud API token next to the name',
    pattern: '[A-Za-z0-9]{64}', near: ['hetzner', 'hcloud'], keywords: ['hetzner', 'hcloud'], entropy: 4,
    samples: { valid: [...named('hetzner', '{a62:64}'), 'HCLOUD_TOKEN={a62:64}'], invalid: unnamed('hetzner', '{a62:64}', '{a62:60}') },
  },
  {
    id: 'holidayapi-api-key', kind: 'holidayapi_api_key', severity: 'low',
    description: 'Holiday API key (a UUID) next to the name',
    pattern: UUID, near: ['holiday[_.-]?api'], keywords: ['holidayapi', 'holiday_api', 'holiday-api', 'holiday.api'], entropy: 3,
    samples: { valid: named('holidayapi', '{uuid}'), invalid: unnamed('holidayapi', '{uuid}', '{hex:8}-{hex:4}') },
  },
  {
    id: 'honeycomb-api-key', kind: 'honeycomb_api_key', severity: 'high',
    description: 'Honeycomb API key (32 hex or 22 characters) next to the name',
    pattern: '(?:[0-9a-f]{32}|[0-9A-Za-z]{22})', near: ['honeycomb'], keywords: ['honeycomb'], entropy: 3,
    samples: { valid: [...named('honeycomb', '{a62:22}'), 'X-Honeycomb-Team: {hex:32}'], invalid: unnamed('honeycomb', '{a62:22}', '{a62:26}') },
  },
  {
    id: 'hubspot-api-key', kind: 'hubspot_api_key', severity: 'high',
    description: 'HubSpot API key (a UUID) next to the name',
    pattern: UUID, near: ['hubspot'], keywords: ['hubspot'], entropy: 3,
    samples: { valid: [...named('hubspot', '{uuid}'), 'const hubspotKey = "{uuid}"'], invalid: unnamed('hubspot', '{uuid}', '{hex:8}-{hex:4}-{hex:4}-{hex:4}-{hex:10}') },
  },
  {
    id: 'hubspot-private-app-token', kind: 'hubspot_private_app_token', severity: 'high',
    description: 'HubSpot private app access token (pat-na1-…, pat-eu1-…)',
    pattern: 'pat-(?:na|eu|ap)[0-9]-[A-Za-z0-9]{8}-[A-Za-z0-9]{4}-[A-Za-z0-9]{4}-[A-Za-z0-9]{4}-[A-Za-z0-9]{12}', keywords: ['pat-na', 'pat-eu', 'pat-ap'], entropy: 3,
    samples: { valid: [...bare('pat-na1-{uuid}'), 'HUBSPOT_TOKEN=pat-eu1-{uuid}'], invalid: ['pat-na1-{hex:8}-{hex:4}', 'pat-xx1-{uuid}'] },
  },
  {
    id: 'hunter-api-key', kind: 'hunter_api_key', severity: 'medium',
    description: 'Hunter.io API key next to the name',
    pattern: '[a-z0-9_-]{40}', near: ['hunter'], keywords: ['hunter'], entropy: 3.3,
    samples: { valid: named('hunter', '{hex:40}'), invalid: unnamed('hunter', '{hex:40}', '{hex:32}') },
  },
  {
    id: 'ibm-cloud-api-key', kind: 'ibm_cloud_api_key', severity: 'critical',
    description: 'IBM Cloud user or service API key next to the name',
    pattern: '[A-Za-z0-9_-]{44}', near: ['ibm'], keywords: ['ibm'], entropy: 4,
    samples: { valid: named('ibm', '{b64u:44}'), invalid: unnamed('ibm', '{b64u:44}', '{b64u:40}') },
  },
  {
    id: 'iexcloud-api-key', kind: 'iexcloud_api_key', severity: 'medium',
    description: 'IEX Cloud API token next to the name',
    pattern: '(?:[sp]k_|T[sp]k_)?[a-z0-9_]{32,35}', near: ['iex[_.-]?cloud', 'iexapis'], keywords: ['iexcloud', 'iex_cloud', 'iex-cloud', 'iex.cloud', 'iexapis'], entropy: 3,
    samples: { valid: named('iexcloud', 'sk_{hex:32}'), invalid: unnamed('iexcloud', 'sk_{hex:32}', '{hex:20}') },
  },
  {
    id: 'imagekit-private-key', kind: 'imagekit_private_key', severity: 'high',
    description: 'ImageKit private API key next to the name',
    pattern: '[A-Za-z0-9_=]{36}', near: ['imagekit'], keywords: ['imagekit'], entropy: 3.5,
    samples: { valid: named('imagekit', 'private_{a62:27}='), invalid: unnamed('imagekit', 'private_{a62:27}=', 'private_{a62:20}') },
  },
  {
    id: 'infracost-api-token', kind: 'infracost_api_token', severity: 'medium',
    description: 'Infracost API key (ico-…)',
    pattern: 'ico-[A-Za-z0-9]{32}', keywords: ['ico-'], entropy: 3,
    samples: { valid: [...bare('ico-{a62:32}'), 'INFRACOST_API_KEY=ico-{a62:32}'], invalid: ['ico-{a62:30}', 'ico-{a62:32}-x'] },
  },
  {
    id: 'infura-api-key', kind: 'infura_api_key', severity: 'medium',
    description: 'Infura project key next to the name',
    pattern: '[a-f0-9]{32}', near: ['infura'], keywords: ['infura'], entropy: 3,
    samples: { valid: [...named('infura', '{hex:32}'), 'https://mainnet.infura.io/v3/{hex:32}'], invalid: unnamed('infura', '{hex:32}', '{hex:30}') },
  },
  {
    id: 'intercom-api-key', kind: 'intercom_api_key', severity: 'high',
    description: 'Intercom access token next to the name',
    pattern: '[A-Za-z0-9_=-]{60}', near: ['intercom'], keywords: ['intercom'], entropy: 3,
    samples: { valid: named('intercom', '{b64u:60}'), invalid: unnamed('intercom', '{b64u:60}', '{b64u:50}') },
  },
  {
    id: 'intra42-client-secret', kind: 'intra42_client_secret', severity: 'high',
    description: '42 Network (intra) OAuth client secret (s-s4t2ud-…, s-s4t2af-…)',
    pattern: 's-s4t2(?:ud|af)-[a-f0-9]{64}', keywords: ['s-s4t2ud-', 's-s4t2af-'], entropy: 3,
    samples: { valid: [...bare('s-s4t2ud-{hex:64}'), 'clientSecret = "s-s4t2af-{hex:64}"'], invalid: ['s-s4t2ud-{hex:60}', 's-s4t2xx-{hex:64}'] },
  },
  {
    id: 'intrinio-api-key', kind: 'intrinio_api_key', severity: 'medium',
    description: 'Intrinio API key next to the name',
    pattern: '[A-Za-z0-9]{44}', near: ['intrinio'], keywords: ['intrinio'], entropy: 3.5,
    samples: { valid: named('intrinio', '{a62:44}'), invalid: unnamed('intrinio', '{a62:44}', '{a62:40}') },
  },
  {
    id: 'ipapi-api-key', kind: 'ipapi_api_key', severity: 'low',
    description: 'ipapi access key next to the name',
    pattern: '[a-f0-9]{32}', near: ['ipapi'], keywords: ['ipapi'], entropy: 3,
    samples: { valid: named('ipapi', '{hex:32}'), invalid: unnamed('ipapi', '{hex:32}', '{hex:28}') },
  },
  {
    id: 'ipgeolocation-api-key', kind: 'ipgeolocation_api_key', severity: 'low',
    description: 'IP Geolocation API key next to the name',
    pattern: '[a-f0-9]{32}', near: ['ipgeolocation'], keywords: ['ipgeolocation'], entropy: 3,
    samples: { valid: named('ipgeolocation', '{hex:32}'), invalid: unnamed('ipgeolocation', '{hex:32}', '{hex:36}') },
  },
  {
    id: 'ipinfo-api-token', kind: 'ipinfo_api_token', severity: 'low',
    description: 'IPinfo access token next to the name',
    pattern: '[a-f0-9]{14}', near: ['ipinfo'], keywords: ['ipinfo'], entropy: 2.2,
    samples: { valid: named('ipinfo', '{hex:14}'), invalid: unnamed('ipinfo', '{hex:14}', '{hex:16}') },
  },
  {
    id: 'ipqualityscore-api-key', kind: 'ipqualityscore_api_key', severity: 'low',
    description: 'IPQualityScore API key next to the name',
    pattern: '[0-9A-Za-z]{32}', near: ['ipquality'], keywords: ['ipquality'], entropy: 3.3,
    samples: { valid: named('ipqualityscore', '{lc:32}'), invalid: unnamed('ipqualityscore', '{lc:32}', '{lc:30}') },
  },
  {
    id: 'ipstack-api-key', kind: 'ipstack_api_key', severity: 'low',
    description: 'ipstack API access key next to the name',
    pattern: '[a-f0-9]{32}', near: ['ipstack'], keywords: ['ipstack'], entropy: 3,
    samples: { valid: named('ipstack', '{hex:32}'), invalid: unnamed('ipstack', '{hex:32}', '{hex:31}') },
  },
  {
    id: 'jenkins-api-token', kind: 'jenkins_api_token', severity: 'critical',
    description: 'Jenkins user API token next to the name',
    pattern: '[a-f0-9]{32}(?:[a-f0-9]{2})?', near: ['jenkins'], keywords: ['jenkins'], entropy: 3,
    samples: { valid: named('jenkins', '11{hex:32}'), invalid: unnamed('jenkins', '11{hex:32}', '11{hex:28}') },
  },
  {
    id: 'jfrog-api-key', kind: 'jfrog_api_key', severity: 'critical',
    description: 'JFrog Artifactory API key (73 characters) next to the name',
    pattern: '[A-Za-z0-9]{73}', near: ['jfrog', 'artifactory', 'bintray', 'xray'], keywords: ['jfrog', 'artifactory', 'bintray', 'xray'], entropy: 3,
    samples: {
      valid: [...named('jfrog', '{lc:73}'), '--set imagePullSecretJfrog.password={lc:73}'],
      invalid: unnamed('artifactory', '{lc:73}', '{lc:70}'),
    },
  },
  {
    id: 'jfrog-identity-token', kind: 'jfrog_identity_token', severity: 'critical',
    description: 'JFrog identity or access token (64 characters) next to the name',
    pattern: '[A-Za-z0-9]{64}', near: ['jfrog', 'artifactory', 'bintray', 'xray'], keywords: ['jfrog', 'artifactory', 'bintray', 'xray'], entropy: 3,
    samples: {
      valid: [...named('jfrog', '{lc:64}'), ...named('xray', '{lc:64}'), '"artifactory", "{lc:64}"'],
      invalid: unnamed('bintray', '{lc:64}', '{lc:62}'),
    },
  },
  {
    id: 'jotform-api-key', kind: 'jotform_api_key', severity: 'medium',
    description: 'Jotform API key next to the name',
    pattern: '[a-f0-9]{32}', near: ['jotform'], keywords: ['jotform'], entropy: 3,
    samples: { valid: named('jotform', '{hex:32}'), invalid: unnamed('jotform', '{hex:32}', '{hex:34}') },
  },
  {
    id: 'jumpcloud-api-key', kind: 'jumpcloud_api_key', severity: 'critical',
    description: 'JumpCloud API key next to the name',
    pattern: '[A-Za-z0-9]{40}', near: ['jumpcloud'], keywords: ['jumpcloud'], entropy: 3.5,
    samples: { valid: named('jumpcloud', '{a62:40}'), invalid: unnamed('jumpcloud', '{a62:40}', '{a62:36}') },
  },
  {
    id: 'keen-api-key', kind: 'keen_api_key', severity: 'medium',
    description: 'Keen master or write key (64 characters) next to the name',
    pattern: '[0-9A-Z]{64}', near: ['keen'], keywords: ['keen'], entropy: 3.5,
    samples: { valid: named('keen', '{HEX:64}'), invalid: unnamed('keen', '{HEX:64}', '{HEX:60}') },
  },
  {
    id: 'klaviyo-private-api-key', kind: 'klaviyo_api_key', severity: 'high',
    description: 'Klaviyo private API key (pk_ and 34 characters)',
    pattern: 'pk_[A-Za-z0-9]{34}', keywords: ['pk_'], entropy: 3.5,
    samples: { valid: bare('pk_{a62:34}'), invalid: ['pk_{a62:30}', 'pk_live_{a62:34}', 'pk_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'] },
  },
  {
    id: 'kraken-access-token', kind: 'kraken_access_token', severity: 'critical',
    description: 'Kraken (crypto exchange) API key or private key next to the name',
    pattern: '[A-Za-z0-9/=_+-]{80,90}', near: ['kraken'], keywords: ['kraken'], entropy: 4,
    samples: { valid: named('kraken', '{b64:88}'), invalid: unnamed('kraken', '{b64:88}', '{b64:60}') },
  },
  {
    id: 'kucoin-access-token', kind: 'kucoin_access_token', severity: 'critical',
    description: 'KuCoin API key next to the name',
    pattern: '[a-fA-F0-9]{24}', near: ['kucoin'], keywords: ['kucoin'], entropy: 2.8,
    samples: { valid: named('kucoin', '{hex:24}'), invalid: unnamed('kucoin', '{hex:24}', '{hex:22}') },
  },
  {
    id: 'kucoin-secret-key', kind: 'kucoin_secret_key', severity: 'critical',
    description: 'KuCoin API secret (a UUID) next to the name',
    pattern: UUID, near: ['kucoin'], keywords: ['kucoin'], entropy: 3,
    samples: { valid: named('kucoin', '{uuid}'), invalid: unnamed('kucoin', '{uuid}', '{hex:8}-{hex:4}-{hex:12}') },
  },
  {
    id: 'langfuse-public-key', kind: 'langfuse_public_key', severity: 'low',
    description: 'Langfuse public key (pk-lf- and a UUID)',
    pattern: `pk-lf-${UUID}`, keywords: ['pk-lf-'], entropy: 3,
    samples: { valid: bare('pk-lf-{uuid}'), invalid: ['pk-lf-{hex:8}-{hex:4}', 'pk-lf-{uuid}{hex:2}'] },
  },
  {
    id: 'langfuse-secret-key', kind: 'langfuse_secret_key', severity: 'high',
    description: 'Langfuse secret key (sk-lf- and a UUID)',
    pattern: `sk-lf-${UUID}`, keywords: ['sk-lf-'], entropy: 3,
    samples: { valid: bare('sk-lf-{uuid}'), invalid: ['sk-lf-{hex:8}-{hex:4}', 'sk-lf-{uuid}{hex:2}'] },
  },
  {
    id: 'langsmith-api-key', kind: 'langsmith_api_key', severity: 'high',
    description: 'LangSmith personal or service key (lsv2_pt_…, lsv2_sk_…)',
    pattern: 'lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}', keywords: ['lsv2_pt_', 'lsv2_sk_'], entropy: 3,
    samples: { valid: [...bare('lsv2_pt_{hex:32}_{hex:10}'), 'LANGCHAIN_API_KEY=lsv2_sk_{hex:32}_{hex:10}'], invalid: ['lsv2_pt_{hex:32}_{hex:8}', 'lsv2_xx_{hex:32}_{hex:10}'] },
  },
  {
    id: 'languagelayer-api-key', kind: 'languagelayer_api_key', severity: 'low',
    description: 'languagelayer API access key next to the name',
    pattern: '[a-f0-9]{32}', near: ['languagelayer'], keywords: ['languagelayer'], entropy: 3,
    samples: { valid: named('languagelayer', '{hex:32}'), invalid: unnamed('languagelayer', '{hex:32}', '{hex:31}') },
  },
  {
    id: 'larksuite-app-id', kind: 'larksuite_app_id', severity: 'low',
    description: 'Lark (Feishu) app id (cli_…) next to the name',
    pattern: 'cli_[A-Za-z0-9]{16}', near: ['lark', 'feishu'], keywords: ['lark', 'feishu'], entropy: 3,
    samples: { valid: named('larksuite', 'cli_{a62:16}'), invalid: unnamed('lark', 'cli_{a62:16}', 'cli_{a62:12}') },
  },
  {
    id: 'larksuite-app-secret', kind: 'larksuite_app_secret', severity: 'high',
    description: 'Lark (Feishu) app secret next to the name',
    pattern: '[A-Za-z0-9]{32}', near: ['lark[_.-]?(?:suite)?[_.-]?(?:app)?[_.-]?secret', 'feishu[_.-]?(?:app)?[_.-]?secret'], keywords: ['lark', 'feishu'], entropy: 3.5,
    samples: { valid: ['LARK_APP_SECRET={a62:32}', 'larksuite_secret: "{a62:32}"', 'feishuAppSecret = "{a62:32}"'], invalid: ['lark_app_id = "{a62:32}"', 'LARK_APP_SECRET={a62:30}'] },
  },
  {
    id: 'launchdarkly-access-token', kind: 'launchdarkly_access_token', severity: 'high',
    description: 'LaunchDarkly access token next to the name',
    pattern: '[A-Za-z0-9_=-]{40}', near: ['launch[_.-]?darkly'], keywords: ['launchdarkly', 'launch_darkly', 'launch-darkly', 'launch.darkly'], entropy: 3,
    // An SDK key (`sdk-` and a UUID) is 40 characters too: it is the next spec's kind.
    validate: (s) => !LAUNCHDARKLY_KEY.test(s),
    samples: { valid: named('launchdarkly', '{b64u:40}'), invalid: unnamed('launchdarkly', '{b64u:40}', '{b64u:38}') },
  },
  {
    id: 'launchdarkly-sdk-key', kind: 'launchdarkly_sdk_key', severity: 'high',
    description: 'LaunchDarkly API, server SDK or mobile key (api-, sdk-, mob- and a UUID-shaped lowercase id)',
    pattern: '(?:api|sdk|mob)-[a-z0-9]{8}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{12}', keywords: ['api-', 'sdk-', 'mob-'], entropy: 3,
    samples: {
      valid: [...named('launchdarkly', 'sdk-{uuid}'), 'LD_SDK_KEY=sdk-{lc:8}-{lc:4}-4{lc:3}-{lc:4}-{lc:12}', 'api-{lc:8}-{lc:4}-4{lc:3}-{lc:4}-{lc:12}'],
      invalid: ['sdk-{lc:8}-{lc:4}-4{lc:3}-{lc:4}-{lc:11}', 'api-{uc:8}-{uc:4}-4{uc:3}-{uc:4}-{uc:12}', 'launchdarkly_key = "sdk-{hex:8}-{hex:4}"'],
    },
  },
  {
    id: 'lemlist-api-key', kind: 'lemlist_api_key', severity: 'medium',
    description: 'lemlist API key next to the name',
    pattern: '[a-f0-9]{32}', near: ['lemlist'], keywords: ['lemlist'], entropy: 3,
    samples: { valid: named('lemlist', '{hex:32}'), invalid: unnamed('lemlist', '{hex:32}', '{hex:30}') },
  },
  {
    id: 'linear-api-key', kind: 'linear_api_key', severity: 'high',
    description: 'Linear personal API key (lin_api_…)',
    pattern: 'lin_api_[A-Za-z0-9]{40}', keywords: ['lin_api_'], entropy: 3.5,
    samples: { valid: bare('lin_api_{a62:40}'), invalid: ['lin_api_{a62:32}', 'lin_api_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'] },
  },
  {
    id: 'linear-client-secret', kind: 'linear_client_secret', severity: 'high',
    description: 'Linear OAuth client secret next to the name',
    pattern: '[a-fA-F0-9]{32}', near: ['linear'], keywords: ['linear'], entropy: 3,
    samples: { valid: named('linear', '{hex:32}'), invalid: unnamed('linear', '{hex:32}', '{hex:31}') },
  },
  {
    id: 'linkedin-client-id', kind: 'linkedin_client_id', severity: 'low',
    description: 'LinkedIn OAuth client id next to the name',
    pattern: '[A-Za-z0-9]{14}', near: ['linked[_-]?in'], keywords: ['linkedin', 'linked_in', 'linked-in'], entropy: 2.5,
    samples: { valid: named('linkedin', '{lc:14}'), invalid: unnamed('linkedin', '{lc:14}', '{lc:12}') },
  },
  {
    id: 'linkedin-client-secret', kind: 'linkedin_client_secret', severity: 'high',
    description: 'LinkedIn OAuth client secret next to the name',
    pattern: '[A-Za-z0-9]{16}', near: ['linked[_-]?in'], keywords: ['linkedin', 'linked_in', 'linked-in'], entropy: 2.5,
    samples: { valid: named('linkedin', '{lc:16}'), invalid: unnamed('linkedin', '{lc:16}', '{lc:18}') },
  },
  {
    id: 'linode-api-token', kind: 'linode_api_token', severity: 'critical',
    description: 'Linode (Akamai) personal access token next to the name',
    pattern: '[a-f0-9]{64}', near: ['linode'], keywords: ['linode'], entropy: 3,
    samples: { valid: named('linode', '{hex:64}'), invalid: unnamed('linode', '{hex:64}', '{hex:60}') },
  },
  {
    id: 'lob-api-key', kind: 'lob_api_key', severity: 'high',
    description: 'Lob secret API key (live_ or test_ and 35 hex characters) next to the name',
    pattern: '(?:live|test)_[a-f0-9]{35}', near: ['lob'], keywords: ['lob'], entropy: 3,
    samples: { valid: named('lob', 'test_{hex:35}'), invalid: unnamed('lob', 'live_{hex:35}', 'live_{hex:30}') },
  },
  {
    id: 'lob-pub-api-key', kind: 'lob_publishable_key', severity: 'low',
    description: 'Lob publishable API key (live_pub_ or test_pub_) next to the name',
    pattern: '(?:live|test)_pub_[a-f0-9]{31}', near: ['lob'], keywords: ['lob'], entropy: 3,
    samples: { valid: named('lob', 'test_pub_{hex:31}'), invalid: unnamed('lob', 'test_pub_{hex:31}', 'test_pub_{hex:28}') },
  },
  {
    id: 'locationiq-access-token', kind: 'locationiq_access_token', severity: 'low',
    description: 'LocationIQ access token (pk. and 32 hex characters)',
    pattern: 'pk\\.[a-f0-9]{32}', keywords: ['pk.'], entropy: 3,
    samples: { valid: bare('pk.{hex:32}'), invalid: ['pk.{hex:30}', 'pk.eyJ{a62:60}'] },
  },
  {
    id: 'loggly-customer-token', kind: 'loggly_customer_token', severity: 'medium',
    description: 'Loggly customer token (a UUID) next to the name',
    pattern: UUID, near: ['loggly'], keywords: ['loggly'], entropy: 3,
    samples: { valid: [...named('loggly', '{uuid}'), 'https://logs-01.loggly.com/inputs/{uuid}/tag/http/'], invalid: unnamed('loggly', '{uuid}', '{hex:8}-{hex:4}-{hex:4}') },
  },
  {
    id: 'loginradius-api-key', kind: 'loginradius_api_key', severity: 'medium',
    description: 'LoginRadius API key (a UUID) next to the name',
    pattern: UUID, near: ['loginradius'], keywords: ['loginradius'], entropy: 3,
    samples: { valid: named('loginradius', '{uuid}'), invalid: unnamed('loginradius', '{uuid}', '{hex:8}-{hex:4}') },
  },
  {
    id: 'logzio-api-token', kind: 'logzio_api_token', severity: 'medium',
    description: 'Logz.io API token (a UUID) next to the name',
    pattern: '[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}', near: ['logz'], keywords: ['logz'], entropy: 3,
    samples: { valid: named('logzio', '{uuid}'), invalid: unnamed('logzio', '{uuid}', '{hex:8}-{hex:4}') },
  },
  {
    id: 'lokalise-api-token', kind: 'lokalise_api_token', severity: 'medium',
    description: 'Lokalise API token next to the name',
    pattern: '[a-f0-9]{40}', near: ['lokalise'], keywords: ['lokalise'], entropy: 3,
    samples: { valid: named('lokalise', '{hex:40}'), invalid: unnamed('lokalise', '{hex:40}', '{hex:36}') },
  },
  {
    id: 'looker-client-id', kind: 'looker_client_id', severity: 'medium',
    description: 'Looker API client id next to the name',
    pattern: '[A-Za-z0-9]{20}', near: ['looker'], keywords: ['looker'], entropy: 3,
    samples: { valid: named('looker', '{lc:20}'), invalid: unnamed('looker', '{lc:20}', '{lc:19}') },
  },
  {
    id: 'looker-client-secret', kind: 'looker_client_secret', severity: 'high',
    description: 'Looker API client secret next to the name',
    pattern: '[A-Za-z0-9]{24}', near: ['looker'], keywords: ['looker'], entropy: 3,
    samples: { valid: named('looker', '{lc:24}'), invalid: unnamed('looker', '{lc:24}', '{lc:25}') },
  },
]

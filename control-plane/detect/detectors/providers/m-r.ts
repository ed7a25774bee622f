/**
 * Provider detectors, providers named M-R (by the provider's name; digits go with A-D).
 * See ../provider-spec.ts for what a spec holds and how its samples are written.
 */
import { PRIORITY_OVER_SHAPE, jwtSample, named, withoutName, type ProviderSpec } from '../provider-spec.js'
import { hasValidCrc32Checksum } from '../checksums.js'

/** A UUID in any case, as providers print them. */
const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}'

/**
 * Tokens of a checksummed format whose checksum does not verify cannot have been issued, yet samples,
 * docs and other scanners' test suites are written with them, and a reviewer expects them reported
 * when they are assigned to the provider's name: found there at a lower severity. Alone on a line (a
 * fixture of made-up tokens) they are not reported.
 */
const NPM_UNVERIFIED: ProviderSpec = {
  id: 'npm-token-unverified', kind: 'npm_token', severity: 'medium',
  description: 'npm access token format, assigned to an npm name, whose checksum does not verify (a sample, a copy with a typo)',
  pattern: 'npm_[A-Za-z0-9]{36}', boundaries: 'word', near: ['npm', '_authToken'],
  keywords: ['npm', '_authtoken'], entropy: 3.5, validate: (s) => !hasValidCrc32Checksum(s),
  samples: {
    valid: ['NPM_TOKEN=npm_{a62:36}', '//registry.npmjs.org/:_authToken=npm_{a62:36}', 'var npmToken string = "npm_{a62:36}"'],
    invalid: ['npm_{a62:36}', 'NPM_TOKEN=npm_{a62:20}'],
  },
}

/** The specs of this group. */
export const SPECS: ProviderSpec[] = [
  NPM_UNVERIFIED,
  // Mailchimp: 32 hex and the data centre the account lives in.
  {
    id: 'mailchimp-api-key', kind: 'mailchimp_api_key', severity: 'high', description: 'Mailchimp API key (32 hex and a -usNN data centre)',
    pattern: '[0-9a-fA-F]{32}-us[0-9]{1,2}', keywords: ['-us'], keywordInside: true, entropy: 3,
    samples: {
      valid: ['{hex:32}-us12', 'MAILCHIMP_KEY={hex:32}-us6', ...named('mailchimp', '{hex:32}-us21')],
      invalid: ['{hex:31}-us12', '{hex:32}-eu12', 'key = xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx-us12', '{hex:32}-us123'],
    },
  },
  {
    id: 'mailerlite-api-key', kind: 'mailerlite_api_key', severity: 'high', description: 'MailerLite API key (classic) next to the word mailerlite',
    pattern: '[a-z0-9]{32}', near: ['mailer[_.-]?lite'], keywords: ['mailerlite', 'mailer_lite', 'mailer-lite', 'mailer.lite'], entropy: 3,
    samples: {
      valid: named('mailerlite', '{lc:32}'),
      invalid: [withoutName('{lc:32}'), 'mailerlite_key = "{lc:31}"', 'mailerlite_key = "{upper:32}"'],
    },
  },
  {
    id: 'mailersend-api-token', kind: 'mailersend_api_token', severity: 'high', description: 'MailerSend API token',
    pattern: 'mlsn\\.[A-Za-z0-9]{64}', keywords: ['mlsn.'], entropy: 3,
    samples: {
      valid: ['mlsn.{hex:64}', 'MAILERSEND_API_KEY="mlsn.{hex:64}"', 'mlsn.{a62:64}'],
      invalid: ['mlsn.{hex:63}', 'mlsn.{hex:65}', 'mlsn.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
    },
  },
  {
    id: 'mailgun-pub-key', kind: 'mailgun_public_key', severity: 'low', description: 'Mailgun public validation key',
    pattern: 'pubkey-[a-f0-9]{32}', keywords: ['pubkey-'], entropy: 3,
    samples: {
      valid: ['pubkey-{hex:32}', ...named('mailgun', 'pubkey-{hex:32}')],
      invalid: ['pubkey-{hex:31}', 'pubkey-{upper:32}', 'pubkey-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
    },
  },
  {
    id: 'mailjet-api-key', kind: 'mailjet_api_key', severity: 'high', description: 'Mailjet API key or secret next to the word mailjet',
    pattern: '[a-f0-9]{32}', near: ['mailjet'], keywords: ['mailjet'], entropy: 3,
    samples: {
      valid: named('mailjet', '{hex:32}'),
      invalid: [withoutName('{hex:32}'), 'mailjet_key = "{hex:31}"', 'mailjet_key = "{upper:32}"'],
    },
  },
  {
    id: 'mandrill-api-key', kind: 'mandrill_api_key', severity: 'high', description: 'Mandrill (Mailchimp transactional) API key next to the word mandrill',
    pattern: 'md-[A-Za-z0-9_-]{22}|[A-Za-z0-9]{22}', near: ['mandrill'], keywords: ['mandrill'], entropy: 3.5,
    samples: {
      valid: [...named('mandrill', 'md-{a62:22}'), 'MANDRILL_KEY={a62:22}'],
      invalid: [withoutName('md-{a62:22}'), 'mandrill_key = "md-{a62:12}"', 'mandrill_key = "{a62:30}"'],
    },
  },
  // Mapbox tokens are `pk.` (public), `sk.` (secret) or `tk.` (temporary) and base64url JSON naming the user.
  {
    id: 'mapbox-api-token', kind: 'mapbox_public_token', severity: 'low', description: 'Mapbox public access token next to the word mapbox',
    pattern: 'pk\\.[A-Za-z0-9_-]{50,200}\\.[A-Za-z0-9_-]{20,30}', near: ['mapbox'], keywords: ['mapbox'], entropy: 3.5,
    samples: {
      valid: named('mapbox', 'pk.{a62:60}.{a62:22}'),
      invalid: [withoutName('pk.{a62:60}.{a62:22}'), 'mapbox_token = "pk.{a62:20}.{a62:22}"'],
    },
  },
  {
    id: 'mapbox-public-token', kind: 'mapbox_public_token', severity: 'low', description: 'Mapbox public access token (pk.eyJ1…)',
    pattern: 'pk\\.eyJ1Ijoi[A-Za-z0-9_-]{20,200}\\.[A-Za-z0-9_-]{20,30}', keywords: ['pk.eyj1ijoi'], entropy: 3.5,
    samples: {
      valid: ['pk.eyJ1Ijoi{b64u:50}.{a62:22}', 'accessToken: "pk.eyJ1Ijoi{b64u:70}.{a62:22}"'],
      invalid: ['pk.eyJ1Ijoi{b64u:10}.{a62:22}', 'pk.eyJ1Ijoi{b64u:50}.{a62:5}'],
    },
  },
  {
    id: 'mapbox-secret-token', kind: 'mapbox_secret_token', severity: 'high', description: 'Mapbox secret access token (sk.eyJ…)',
    pattern: 'sk\\.eyJ[A-Za-z0-9_-]{20,200}\\.[A-Za-z0-9_-]{20,30}', keywords: ['sk.eyj'], entropy: 3.5,
    samples: {
      valid: ['sk.eyJ1Ijoi{b64u:60}.{a62:22}', 'MAPBOX_DOWNLOADS_TOKEN=sk.eyJ1Ijoi{b64u:50}.{a62:22}'],
      invalid: ['sk.eyJ{b64u:10}.{a62:22}', 'sk.eyJ{b64u:50}.{a62:4}', 'sk.{b64u:60}.{a62:22}'],
    },
  },
  {
    id: 'mapbox-secret-token-named', kind: 'mapbox_secret_token', severity: 'high', description: 'Mapbox secret access token next to the word mapbox',
    pattern: 'sk\\.[A-Za-z0-9.-]{80,240}', near: ['mapbox'], keywords: ['mapbox'], entropy: 4,
    samples: {
      valid: named('mapbox', 'sk.{a62:60}.{a62:30}'),
      invalid: [withoutName('sk.{a62:60}.{a62:30}'), 'mapbox_token = "sk.{a62:40}"'],
    },
  },
  {
    id: 'mapbox-temporary-token', kind: 'mapbox_temporary_token', severity: 'medium', description: 'Mapbox temporary access token (tk.eyJ…)',
    pattern: 'tk\\.eyJ[A-Za-z0-9_-]{20,400}\\.[A-Za-z0-9_-]{20,30}', keywords: ['tk.eyj'], entropy: 3.5,
    samples: {
      valid: ['tk.eyJ1Ijoi{b64u:120}.{a62:22}', 'token=tk.eyJ1Ijoi{b64u:80}.{a62:22}'],
      invalid: ['tk.eyJ{b64u:10}.{a62:22}', 'tk.eyJ1Ijoi{b64u:80}.{a62:3}'],
    },
  },
  {
    id: 'mattermost-access-token', kind: 'mattermost_access_token', severity: 'high', description: 'Mattermost personal access token next to the word mattermost',
    pattern: '[a-z0-9]{26}', near: ['mattermost'], keywords: ['mattermost'], entropy: 3,
    samples: {
      valid: named('mattermost', '{lc:26}'),
      invalid: [withoutName('{lc:26}'), 'mattermost_token = "{lc:25}"', 'mattermost_token = "{upper:26}"'],
    },
  },
  {
    id: 'maxmind-license-key', kind: 'maxmind_license_key', severity: 'medium', description: 'MaxMind license key (…_mmk)',
    pattern: '[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk', keywords: ['_mmk'], entropy: 4,
    samples: {
      valid: ['{a62:6}_{a62:29}_mmk', 'MAXMIND_LICENSE_KEY={a62:6}_{a62:29}_mmk'],
      invalid: ['{a62:6}_{a62:28}_mmk', '{a62:6}_{a62:29}_mmx', 'xxxxxx_xxxxxxxxxxxxxxxxxxxxxxxxxxxxx_mmk'],
    },
  },
  // Mercado Pago: APP_USR- (production) or TEST- (sandbox), the application id, a hash and the user id.
  {
    id: 'mercadopago-access-token', kind: 'mercadopago_access_token', severity: 'critical', description: 'Mercado Pago production access token',
    pattern: 'APP_USR-[0-9]{16}-[0-9]{6}-[a-f0-9]{32}-[0-9]{6,12}', keywords: ['app_usr-'], entropy: 3,
    samples: {
      valid: ['APP_USR-{d:16}-{d:6}-{hex:32}-{d:9}', 'MP_ACCESS_TOKEN="APP_USR-{d:16}-{d:6}-{hex:32}-{d:10}"'],
      invalid: ['APP_USR-{d:12}-{d:6}-{hex:32}-{d:9}', 'APP_USR-{d:16}-{d:6}-{upper:32}-{d:9}'],
    },
  },
  {
    id: 'mercadopago-test-access-token', kind: 'mercadopago_test_access_token', severity: 'low', description: 'Mercado Pago sandbox access token',
    pattern: 'TEST-[0-9]{16}-[0-9]{6}-[a-f0-9]{32}-[0-9]{6,12}', keywords: ['test-'], entropy: 3,
    samples: {
      valid: ['TEST-{d:16}-{d:6}-{hex:32}-{d:9}', 'accessToken: "TEST-{d:16}-{d:6}-{hex:32}-{d:9}"'],
      invalid: ['TEST-{d:16}-{d:6}-{hex:20}-{d:9}', 'TEST-{d:16}-{d:6}-{hex:32}'],
    },
  },
  {
    id: 'messagebird-api-token', kind: 'messagebird_api_token', severity: 'high', description: 'MessageBird API key next to the word messagebird',
    pattern: '[A-Za-z0-9]{25}', near: ['message[_.-]?bird'], keywords: ['messagebird', 'message_bird', 'message-bird', 'message.bird'], entropy: 3.5,
    samples: {
      valid: [...named('messagebird', '{a62:25}'), 'MESSAGE_BIRD_KEY={a62:25}'],
      invalid: [withoutName('{a62:25}'), 'messagebird_key = "{a62:24}"', 'messagebird_key = "xxxxxxxxxxxxxxxxxxxxxxxxx"'],
    },
  },
  {
    id: 'messagebird-client-id', kind: 'messagebird_client_id', severity: 'low', description: 'MessageBird client id (UUID) next to the word messagebird',
    pattern: UUID, near: ['message[_.-]?bird'], keywords: ['messagebird', 'message_bird', 'message-bird', 'message.bird'], entropy: 3,
    samples: {
      valid: named('messagebird', '{uuid}'),
      invalid: [withoutName('{uuid}'), 'messagebird_client_id = "{hex:8}-{hex:4}-{hex:4}-{hex:12}"'],
    },
  },
  // Teams incoming webhooks: the old connector URL, and the Power Automate / Logic Apps workflow
  // URL that replaced it, whose secret is the signature in its query.
  {
    id: 'microsoft-teams-webhook', kind: 'microsoft_teams_webhook', severity: 'medium', description: 'Microsoft Teams incoming webhook URL (connector)',
    pattern: `https://(?:[A-Za-z0-9-]{1,63}\\.webhook\\.office\\.com/webhookb2|outlook\\.office(?:365)?\\.com/webhook)/${UUID}@${UUID}/IncomingWebhook/[A-Za-z0-9]{32}/${UUID}(?:/V2[A-Za-z0-9_-]{20,80})?`,
    keywords: ['webhook.office.com', 'outlook.office'],
    samples: {
      valid: [
        'https://{lc:8}.webhook.office.com/webhookb2/{uuid}@{uuid}/IncomingWebhook/{hex:32}/{uuid}',
        'TEAMS_WEBHOOK_URL="https://{lc:10}.webhook.office.com/webhookb2/{uuid}@{uuid}/IncomingWebhook/{hex:32}/{uuid}/V2{b64u:44}"',
        'url: https://outlook.office.com/webhook/{uuid}@{uuid}/IncomingWebhook/{hex:32}/{uuid}',
      ],
      invalid: [
        'https://{lc:8}.webhook.office.com/webhookb2/{uuid}@{uuid}/IncomingWebhook/{hex:20}/{uuid}',
        'https://{lc:8}.webhook.office.com/webhookb2/{uuid}/IncomingWebhook/{hex:32}/{uuid}',
      ],
    },
  },
  {
    id: 'microsoft-teams-workflow-webhook', kind: 'microsoft_teams_workflow_webhook', severity: 'medium',
    description: 'Microsoft Teams / Power Automate / Logic Apps workflow trigger URL with its signature',
    pattern: 'https://[A-Za-z0-9.-]{3,120}\\.(?:logic\\.azure\\.com|api\\.powerplatform\\.com)(?::443)?/[A-Za-z0-9/_.-]{0,80}?workflows/[A-Za-z0-9]{32}/triggers/[A-Za-z0-9_.%-]{1,80}/paths/invoke/?\\?[A-Za-z0-9_.%=&/-]{0,300}?sig=[A-Za-z0-9_%-]{40,80}',
    keywords: ['logic.azure.com', 'powerplatform.com'],
    samples: {
      valid: [
        'https://prod-{d:2}.westus.logic.azure.com:443/workflows/{hex:32}/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={b64u:43}',
        'webhook: "https://default{hex:32}.{hex:2}.environment.api.powerplatform.com:443/powerautomate/automations/direct/workflows/{hex:32}/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={b64u:43}"',
      ],
      invalid: [
        'https://prod-{d:2}.westus.logic.azure.com:443/workflows/{hex:32}/triggers/manual/paths/invoke?api-version=2016-06-01',
        'https://prod-{d:2}.westus.logic.azure.com:443/workflows/{hex:20}/triggers/manual/paths/invoke?sig={b64u:43}',
      ],
    },
  },
  {
    id: 'mixpanel-api-secret', kind: 'mixpanel_api_secret', severity: 'medium', description: 'Mixpanel API secret or service account secret next to the word mixpanel',
    pattern: '[A-Za-z0-9-]{32}', near: ['mixpanel'], keywords: ['mixpanel'], entropy: 3,
    samples: { valid: named('mixpanel', '{hex:32}'), invalid: [withoutName('{hex:32}'), 'mixpanel_key = "{hex:28}"'] },
  },
  {
    id: 'mistral-api-key', kind: 'mistral_api_key', severity: 'high', description: 'Mistral AI API key next to the word mistral',
    pattern: '[A-Za-z0-9]{32}', near: ['mistral'], keywords: ['mistral'], entropy: 3.8,
    samples: {
      valid: named('mistral', '{a62:32}'),
      invalid: [withoutName('{a62:32}'), 'mistral_key = "{a62:31}"', 'mistral_key = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"'],
    },
  },
  // MongoDB Atlas: service accounts (mdb_sa_id_ / mdb_sa_sk_) and the older programmatic API keys,
  // whose private half is a bare UUID known only by the name before it.
  {
    id: 'mongodb-atlas-api-private-key', kind: 'mongodb_atlas_api_key', severity: 'critical', description: 'MongoDB Atlas programmatic API private key next to the words atlas private key',
    pattern: UUID, near: ['(?:mongodb[_.-]?)?atlas[_.-]?(?:api[_.-]?)?(?:private|secret)', 'mongodb[_.-]?atlas'], keywords: ['atlas'], entropy: 3,
    samples: {
      valid: ['MONGODB_ATLAS_PRIVATE_KEY={uuid}', 'atlasPrivateKey := "{uuid}"', '{"atlas_api_private_key": "{uuid}"}', 'mongodbAtlasKey = "{uuid}"'],
      invalid: [withoutName('{uuid}'), 'atlas_region = "{uuid}"', 'MONGODB_ATLAS_PRIVATE_KEY={hex:32}'],
    },
  },
  {
    id: 'mongodb-atlas-service-account-id', kind: 'mongodb_atlas_service_account_id', severity: 'low', description: 'MongoDB Atlas service account client id',
    pattern: 'mdb_sa_id_[a-f0-9]{24}', keywords: ['mdb_sa_id_'], entropy: 3,
    samples: {
      valid: ['mdb_sa_id_{hex:24}', 'ATLAS_CLIENT_ID="mdb_sa_id_{hex:24}"'],
      invalid: ['mdb_sa_id_{hex:20}', 'mdb_sa_id_{upper:24}'],
    },
  },
  {
    id: 'mongodb-atlas-service-account-secret', kind: 'mongodb_atlas_service_account_secret', severity: 'critical', description: 'MongoDB Atlas service account client secret',
    pattern: 'mdb_sa_sk_[A-Za-z0-9_-]{40}', keywords: ['mdb_sa_sk_'], entropy: 4,
    samples: {
      valid: ['mdb_sa_sk_{a62:40}', 'ATLAS_CLIENT_SECRET=mdb_sa_sk_{lower:2}_{a62:37}'],
      invalid: ['mdb_sa_sk_{a62:30}', 'mdb_sa_sk_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
    },
  },
  {
    // Mollie's keys are prefixed by their mode only (live_, test_, access_): the name says whose.
    id: 'mollie-api-key', kind: 'mollie_api_key', severity: 'critical', description: 'Mollie API key (live_/test_ and 30 characters) next to the word mollie',
    pattern: '(?:live|test)_[A-Za-z0-9]{30}', near: ['mollie'], keywords: ['mollie'], entropy: 3.5,
    samples: { valid: [...named('mollie', 'live_{a62:30}'), 'MOLLIE_KEY=test_{a62:30}'], invalid: [withoutName('live_{a62:30}'), 'mollie_key = "live_{a62:20}"', 'mollie_key = "prod_{a62:30}"'] },
  },
  {
    id: 'mollie-access-token', kind: 'mollie_access_token', severity: 'critical', description: 'Mollie organization access token (access_ and 40 characters) next to the word mollie',
    pattern: 'access_[A-Za-z0-9]{40}', near: ['mollie'], keywords: ['mollie'], entropy: 3.5,
    samples: { valid: named('mollie', 'access_{a62:40}'), invalid: [withoutName('access_{a62:40}'), 'mollie_token = "access_{a62:30}"'] },
  },
  {
    // A JWT: the name before it says whose, so it wins over the generic JWT rule on the same text.
    id: 'monday-api-token', kind: 'monday_api_token', severity: 'high', description: 'Monday.com API token (a JWT) next to the word monday',
    pattern: 'ey[A-Za-z0-9_-]{10,80}\\.ey[A-Za-z0-9_.-]{100,200}', near: ['monday'], keywords: ['monday'], entropy: 4, priority: PRIORITY_OVER_SHAPE,
    samples: {
      valid: ['MONDAY_API_TOKEN={jwt}', 'mondayToken := "{jwt}"', '<mondayKey>\n    {jwt}\n</mondayKey>', '{"monday_api_key": "{jwt}"}'].map((line) => (rng) => line.replace('{jwt}', jwtSample({ tid: rng.int(1e8, 9e8), aai: rng.int(10, 99), uid: rng.int(1e7, 9e7), iad: '2024-05-01T10:00:00.000Z', per: 'me:write', actid: rng.int(1e6, 9e6), rgn: 'use1' })(rng))),
      invalid: [(rng) => withoutName(jwtSample({ tid: rng.int(1e8, 9e8), uid: rng.int(1e7, 9e7), per: 'me:write', rgn: 'use1' })(rng)), 'monday_token = "eyJ{a62:20}"'],
    },
  },
  {
    id: 'monkeylearn-api-key', kind: 'monkeylearn_api_key', severity: 'medium', description: 'MonkeyLearn API key next to the word monkeylearn',
    pattern: '[0-9a-f]{40}', near: ['monkey[_.-]?learn'], keywords: ['monkeylearn', 'monkey_learn', 'monkey-learn', 'monkey.learn'], entropy: 3,
    samples: {
      valid: named('monkeylearn', '{hex:40}'),
      invalid: [withoutName('{hex:40}'), 'monkeylearn_key = "{hex:39}"'],
    },
  },
  {
    id: 'moralis-api-key', kind: 'moralis_api_key', severity: 'high', description: 'Moralis API key next to the word moralis',
    pattern: '[A-Za-z0-9]{64}', near: ['moralis'], keywords: ['moralis'], entropy: 4,
    samples: {
      valid: named('moralis', '{a62:64}'),
      invalid: [withoutName('{a62:64}'), 'moralis_key = "{a62:63}"'],
    },
  },
  {
    id: 'mux-token-secret', kind: 'mux_token_secret', severity: 'high', description: 'Mux API token secret next to the word mux',
    // A whole value, not 75 characters out of a longer base64 run; "mux" as a word, not inside tmux or demux.
    pattern: '(?<![/+])[0-9A-Za-z/+]{75}(?![/+=])', near: ['(?<![A-Za-z])mux'], keywords: ['mux'], entropy: 4.5,
    samples: {
      valid: [...named('mux', '{b64:75}'), 'MUX_TOKEN_SECRET={a62:75}'],
      invalid: [withoutName('{b64:75}'), 'mux_secret = "{a62:60}"', 'demux = "{a62:75}"', 'mux_blob = "{a62:30}/{a62:75}/{a62:20}"'],
    },
  },
  {
    id: 'netlify-access-token', kind: 'netlify_access_token', severity: 'high', description: 'Netlify access token next to the word netlify',
    pattern: '[A-Za-z0-9_=-]{40,46}', near: ['netlify'], keywords: ['netlify'], entropy: 4,
    samples: {
      valid: [...named('netlify', '{a62:43}'), 'netlify_token: {b64u:40}'],
      invalid: [withoutName('{a62:43}'), 'netlify_token = "{a62:30}"', 'netlify_token = "{a62:50}"'],
    },
  },
  {
    id: 'netlify-personal-access-token', kind: 'netlify_access_token', severity: 'high', description: 'Netlify personal access token (nfp_)',
    pattern: 'nfp_[A-Za-z0-9_]{36,48}', keywords: ['nfp_'], entropy: 4,
    samples: {
      valid: ['nfp_{a62:40}', 'NETLIFY_AUTH_TOKEN=nfp_{a62:40}'],
      invalid: ['nfp_{a62:20}', 'nfp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
    },
  },
  // New Relic keys carry their kind in a four-letter prefix.
  {
    id: 'new-relic-admin-key', kind: 'new_relic_admin_key', severity: 'critical', description: 'New Relic admin API key (NRAA-)',
    pattern: 'NRAA-[a-f0-9]{27}', keywords: ['nraa-'], entropy: 3,
    samples: {
      valid: ['NRAA-{hex:27}', 'admin_key = "NRAA-{hex:27}"'],
      invalid: ['NRAA-{hex:26}', 'NRAA-{upper:27}'],
    },
  },
  {
    id: 'new-relic-browser-api-token', kind: 'new_relic_browser_api_token', severity: 'low', description: 'New Relic browser ingest key (NRJS-)',
    pattern: 'NRJS-[a-f0-9]{19}', keywords: ['nrjs-'], entropy: 3,
    samples: {
      valid: ['NRJS-{hex:19}', 'licenseKey: "NRJS-{hex:19}"'],
      invalid: ['NRJS-{hex:18}', 'NRJS-{upper:19}'],
    },
  },
  {
    id: 'new-relic-insert-key', kind: 'new_relic_insert_key', severity: 'medium', description: 'New Relic Insights insert key (NRII-)',
    pattern: 'NRII-[A-Za-z0-9_-]{32}', keywords: ['nrii-'], entropy: 3.5,
    samples: {
      valid: ['NRII-{b64u:32}', 'NEW_RELIC_INSERT_KEY=NRII-{a62:32}'],
      invalid: ['NRII-{a62:31}', 'NRII-{a62:33}'],
    },
  },
  {
    id: 'new-relic-license-key', kind: 'new_relic_license_key', severity: 'medium', description: 'New Relic ingest license key (…NRAL)',
    pattern: '[a-f0-9]{36}NRAL', keywords: ['nral'], entropy: 3,
    samples: {
      valid: ['{hex:36}NRAL', 'NEW_RELIC_LICENSE_KEY={hex:36}NRAL'],
      invalid: ['{hex:30}NRAL', '{upper:36}NRAL'],
    },
  },
  {
    id: 'new-relic-query-key', kind: 'new_relic_query_key', severity: 'medium', description: 'New Relic Insights query key (NRIQ-)',
    pattern: 'NRIQ-[A-Za-z0-9_-]{32}', keywords: ['nriq-'], entropy: 3.5,
    samples: {
      valid: ['NRIQ-{b64u:32}', 'query_key: NRIQ-{a62:32}'],
      invalid: ['NRIQ-{a62:20}', 'NRIQ-{a62:40}'],
    },
  },
  {
    id: 'new-relic-user-api-id', kind: 'new_relic_user_api_id', severity: 'medium', description: 'New Relic 64-character API key next to the words new relic',
    pattern: '[A-Za-z0-9]{64}', near: ['new[_.-]?relic'], keywords: ['newrelic', 'new_relic', 'new-relic', 'new.relic'], entropy: 4,
    samples: {
      valid: [...named('newrelic', '{a62:64}'), 'NEW_RELIC_KEY={lc:64}'],
      invalid: [withoutName('{a62:64}'), 'newrelic_key = "{a62:60}"'],
    },
  },
  {
    id: 'new-relic-user-api-key', kind: 'new_relic_user_api_key', severity: 'high', description: 'New Relic user API key (NRAK-)',
    pattern: 'NRAK-[A-Za-z0-9]{27}', keywords: ['nrak-'], entropy: 3.5,
    samples: {
      valid: ['NRAK-{uc:27}', 'NEW_RELIC_API_KEY="NRAK-{uc:27}"', ...named('newrelic', 'NRAK-{uc:27}')],
      invalid: ['NRAK-{uc:20}', 'NRAK-{uc:28}', 'NRAK-XXXXXXXXXXXXXXXXXXXXXXXXXXX'],
    },
  },
  {
    id: 'newsapi-api-key', kind: 'newsapi_api_key', severity: 'low', description: 'NewsAPI key next to the word newsapi',
    pattern: '[a-f0-9]{32}', near: ['news[_.-]?api'], keywords: ['newsapi', 'news_api', 'news-api', 'news.api'], entropy: 3,
    samples: {
      valid: named('newsapi', '{hex:32}'),
      invalid: [withoutName('{hex:32}'), 'newsapi_key = "{hex:30}"'],
    },
  },
  {
    id: 'nexmo-api-secret', kind: 'nexmo_api_secret', severity: 'high', description: 'Nexmo (Vonage) API secret next to the word nexmo',
    // Sixteen characters is short: letters and digits both, so that an identifier is not taken for one.
    pattern: '[A-Za-z0-9_-]{16}', near: ['nexmo'], keywords: ['nexmo'], entropy: 3.2,
    validate: (s) => /[0-9]/.test(s) && /[A-Za-z]/.test(s),
    samples: {
      valid: [...named('nexmo', '{a62:12}{d:4}'), 'You can find a nexmo secret {d:2}{a62:14} within'],
      invalid: [withoutName('{a62:12}{d:4}'), 'NEXMO_API_SECRET = NEXMO_SECRET_KEY', 'nexmo_secret = "{a62:15}"'],
    },
  },
  {
    id: 'ngrok-auth-token', kind: 'ngrok_token', severity: 'high', description: 'ngrok authtoken or API key next to the word ngrok',
    pattern: '2[A-Za-z0-9]{26}_[0-9][A-Za-z0-9]{20}', near: ['ngrok'], keywords: ['ngrok'], entropy: 4,
    samples: {
      valid: [...named('ngrok', '2{a62:26}_{d:1}{a62:20}'), 'ngrok config add-authtoken 2{a62:26}_{d:1}{a62:20}'],
      invalid: [withoutName('2{a62:26}_{d:1}{a62:20}'), 'ngrok_token = "2{a62:20}_{d:1}{a62:20}"'],
    },
  },
  {
    id: 'nightfall-api-key', kind: 'nightfall_api_key', severity: 'high', description: 'Nightfall API key (NF-)',
    pattern: 'NF-[A-Za-z0-9]{32}', keywords: ['nf-'], entropy: 4,
    samples: {
      valid: ['NF-{a62:32}', 'NIGHTFALL_API_KEY="NF-{a62:32}"'],
      invalid: ['NF-{a62:31}', 'NF-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
    },
  },
  // Notion: `ntn_` (current) and `secret_` (older) integration tokens.
  {
    id: 'notion-api-token', kind: 'notion_api_token', severity: 'high', description: 'Notion integration token (ntn_)',
    pattern: 'ntn_[0-9]{11}[A-Za-z0-9]{35}', keywords: ['ntn_'], entropy: 4,
    samples: {
      valid: ['ntn_{d:11}{a62:35}', 'NOTION_TOKEN="ntn_{d:11}{a62:35}"'],
      invalid: ['ntn_{d:11}{a62:30}', 'ntn_{a62:46}', 'ntn_{d:11}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
    },
  },
  {
    id: 'notion-integration-secret', kind: 'notion_api_token', severity: 'high', description: 'Notion integration token, older format (secret_)',
    pattern: 'secret_[A-Za-z0-9]{43}', keywords: ['secret_'], entropy: 4.2,
    samples: {
      valid: ['secret_{a62:43}', 'NOTION_API_KEY=secret_{a62:43}'],
      invalid: ['secret_{a62:42}', 'secret_{a62:44}', 'secret_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
    },
  },
  {
    id: 'nuget-api-key', kind: 'nuget_api_key', severity: 'high', description: 'NuGet.org API key (oy2…)',
    pattern: 'oy2[a-z0-9]{43}', keywords: ['oy2'], entropy: 4,
    samples: {
      valid: ['oy2{lc:43}', 'dotnet nuget push pkg.nupkg --api-key oy2{lc:43}'],
      invalid: ['oy2{lc:40}', 'oy2{upper:43}'],
    },
  },
  {
    id: 'nuget-api-key-named', kind: 'nuget_api_key', severity: 'high', description: 'NuGet API key (46 characters) next to the word nuget',
    pattern: '[a-z0-9]{46}', near: ['nuget'], keywords: ['nuget'], entropy: 4,
    samples: {
      valid: named('nuget', '{lc:46}'),
      invalid: [withoutName('{lc:46}'), 'nuget_key = "{lc:45}"', 'nuget_key = "{hex:46}"'],
    },
  },
  {
    id: 'nvidia-api-key', kind: 'nvidia_api_key', severity: 'high', description: 'NVIDIA NGC / build.nvidia.com API key (nvapi-)',
    pattern: 'nvapi-[A-Za-z0-9_-]{64}', keywords: ['nvapi-'], entropy: 4,
    samples: {
      valid: ['nvapi-{b64u:64}', 'NVIDIA_API_KEY="nvapi-{a62:64}"'],
      invalid: ['nvapi-{b64u:40}', 'nvapi-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
    },
  },
  {
    id: 'nylas-api-key', kind: 'nylas_api_key', severity: 'high', description: 'Nylas API key or client secret next to the word nylas',
    pattern: '[A-Za-z0-9]{30}', near: ['nylas'], keywords: ['nylas'], entropy: 3.8,
    samples: {
      valid: named('nylas', '{a62:30}'),
      invalid: [withoutName('{a62:30}'), 'nylas_key = "{a62:29}"'],
    },
  },
  {
    id: 'nytimes-access-token', kind: 'nytimes_access_token', severity: 'medium', description: 'New York Times API key next to the words nytimes or new york times',
    pattern: '[A-Za-z0-9=_-]{32}', near: ['nytimes', 'new[_.-]?york[_.-]?times'], keywords: ['nytimes', 'newyorktimes', 'new-york-times', 'new_york_times'], entropy: 3.5,
    samples: {
      valid: [...named('nytimes', '{a62:32}'), 'new-york-times_key: {b64u:32}'],
      invalid: [withoutName('{a62:32}'), 'nytimes_key = "{a62:31}"'],
    },
  },
  {
    id: 'oanda-api-key', kind: 'oanda_api_key', severity: 'critical', description: 'OANDA API token next to the word oanda',
    pattern: '[a-f0-9]{32}-[a-f0-9]{32}|[A-Za-z0-9]{24}', near: ['oanda'], keywords: ['oanda'], entropy: 3.5,
    samples: {
      valid: [...named('oanda', '{hex:32}-{hex:32}'), 'You can find a oanda secret {a62:24} within'],
      invalid: [withoutName('{hex:32}-{hex:32}'), 'oanda_token = "{a62:23}"'],
    },
  },
  {
    id: 'octopus-deploy-api-key', kind: 'octopus_deploy_api_key', severity: 'critical', description: 'Octopus Deploy API key (API-…)',
    pattern: 'API-[A-Z0-9]{26}', keywords: ['api-'], entropy: 3,
    samples: {
      valid: ['API-{uc:26}', 'OCTOPUS_API_KEY="API-{uc:26}"'],
      invalid: ['API-{uc:25}', 'API-{lc:26}', 'API-XXXXXXXXXXXXXXXXXXXXXXXXXX'],
    },
  },
  {
    id: 'okta-access-token', kind: 'okta_api_token', severity: 'critical', description: 'Okta API token (00 and 40 characters) next to the word okta',
    // Okta prints its tokens as 00 and 40 characters; older scanners take any 42.
    pattern: '[A-Za-z0-9_=-]{42}', near: ['okta'], keywords: ['okta'], entropy: 4,
    samples: {
      valid: [...named('okta', '00{b64u:40}'), 'OKTA_CLIENT_TOKEN=00{a62:40}'],
      invalid: [withoutName('00{b64u:40}'), 'okta_token = "00{b64u:30}"', 'okta_token = "00{b64u:41}"'],
    },
  },
  {
    id: 'onelogin-client-secret', kind: 'onelogin_client_secret', severity: 'critical', description: 'OneLogin API client id or secret next to the word onelogin',
    pattern: '[a-f0-9]{64}', near: ['one[_.-]?login'], keywords: ['onelogin', 'one_login', 'one-login', 'one.login'], entropy: 3,
    samples: {
      valid: named('onelogin', '{hex:64}'),
      invalid: [withoutName('{hex:64}'), 'onelogin_secret = "{hex:60}"'],
    },
  },
  {
    id: 'opencagedata-api-key', kind: 'opencagedata_api_key', severity: 'low', description: 'OpenCage geocoding API key next to the word opencagedata',
    pattern: '[a-z0-9]{32}', near: ['open[_.-]?cage[_.-]?data'], keywords: ['opencagedata', 'open_cage_data', 'open-cage-data'], entropy: 3,
    samples: {
      valid: named('opencagedata', '{lc:32}'),
      invalid: [withoutName('{lc:32}'), 'opencagedata_key = "{lc:31}"', 'opencagedata_key = "{upper:32}"'],
    },
  },
  {
    id: 'openrouter-api-key', kind: 'openrouter_api_key', severity: 'high', description: 'OpenRouter API key (sk-or-v1-)',
    pattern: 'sk-or-v1-[a-f0-9]{64}', keywords: ['sk-or-v1-'], entropy: 3,
    samples: {
      valid: ['sk-or-v1-{hex:64}', 'OPENROUTER_API_KEY="sk-or-v1-{hex:64}"'],
      invalid: ['sk-or-v1-{hex:60}', 'sk-or-v1-{upper:64}'],
    },
  },
  {
    id: 'openshift-user-token', kind: 'openshift_user_token', severity: 'critical', description: 'OpenShift user token (sha256~)',
    pattern: 'sha256~[A-Za-z0-9_-]{43}', keywords: ['sha256~'], entropy: 3.5,
    samples: {
      valid: ['sha256~{b64u:43}', 'oc login --token=sha256~{b64u:43} --server=https://api.cluster:6443'],
      invalid: ['sha256~{b64u:40}', 'sha256~{b64u:50}'],
    },
  },
  {
    id: 'openweather-api-key', kind: 'openweather_api_key', severity: 'low', description: 'OpenWeather API key next to the word openweather',
    pattern: '[a-f0-9]{32}', near: ['open[_.-]?weather'], keywords: ['openweather', 'open_weather', 'open-weather', 'open.weather'], entropy: 3,
    samples: {
      valid: named('openweather', '{hex:32}'),
      invalid: [withoutName('{hex:32}'), 'openweather_key = "{hex:31}"'],
    },
  },
  {
    id: 'opsgenie-api-key', kind: 'opsgenie_api_key', severity: 'high', description: 'Opsgenie API key (UUID) next to the word opsgenie',
    pattern: UUID, near: ['opsgenie'], keywords: ['opsgenie'], entropy: 3,
    samples: {
      valid: named('opsgenie', '{uuid}'),
      invalid: [withoutName('{uuid}'), 'opsgenie_key = "{hex:32}"'],
    },
  },
  {
    id: 'pagerduty-api-key', kind: 'pagerduty_api_key', severity: 'high', description: 'PagerDuty REST API key next to the word pagerduty',
    pattern: '[A-Za-z0-9_+-]{20}', near: ['pager[_.-]?duty'], keywords: ['pagerduty', 'pager_duty', 'pager-duty', 'pager.duty'], entropy: 3.5,
    samples: {
      valid: [...named('pagerduty', '{a62:20}'), 'PAGERDUTY_TOKEN=u+{a62:18}'],
      invalid: [withoutName('{a62:20}'), 'pagerduty_key = "{a62:19}"', 'pagerduty_key = "{a62:21}"'],
    },
  },
  {
    id: 'pandadoc-api-key', kind: 'pandadoc_api_key', severity: 'high', description: 'PandaDoc API key next to the word pandadoc',
    pattern: '[A-Za-z0-9]{40}', near: ['pandadoc'], keywords: ['pandadoc'], entropy: 3.5,
    samples: {
      valid: [...named('pandadoc', '{hex:40}'), 'PANDADOC_API_KEY={a62:40}'],
      invalid: [withoutName('{hex:40}'), 'pandadoc_key = "{a62:39}"'],
    },
  },
  {
    id: 'pastebin-api-key', kind: 'pastebin_api_key', severity: 'low', description: 'Pastebin developer API key next to the word pastebin',
    pattern: '[A-Za-z0-9_-]{32}', near: ['pastebin'], keywords: ['pastebin'], entropy: 3.8,
    samples: {
      valid: named('pastebin', '{a62:32}'),
      invalid: [withoutName('{a62:32}'), 'pastebin_key = "{a62:30}"'],
    },
  },
  {
    // PayMongo and Paystack keys start like Stripe's (`sk_live_`): the name before them says whose.
    id: 'paymongo-secret-key', kind: 'paymongo_secret_key', severity: 'critical', description: 'PayMongo secret key next to the word paymongo',
    pattern: '(?:sk|pk)_(?:live|test)_[A-Za-z0-9]{24}|[A-Za-z0-9]{32}', near: ['paymongo'], keywords: ['paymongo'], entropy: 3.5, priority: PRIORITY_OVER_SHAPE,
    samples: {
      valid: [...named('paymongo', 'sk_live_{a62:24}'), 'PAYMONGO_SECRET_KEY={a62:32}'],
      invalid: [withoutName('{a62:32}'), 'paymongo_key = "sk_live_{a62:12}"', 'paymongo_key = "sk_live_xxxxxxxxxxxxxxxxxxxxxxxx"'],
    },
  },
  {
    id: 'paystack-secret-key', kind: 'paystack_secret_key', severity: 'critical', description: 'Paystack secret key (sk_live_/sk_test_ and 40 characters) next to the word paystack',
    pattern: 'sk_[a-z]{1,12}_[A-Za-z0-9]{40}', near: ['paystack'], keywords: ['paystack'], entropy: 3.5, priority: PRIORITY_OVER_SHAPE,
    samples: {
      valid: [...named('paystack', 'sk_live_{a62:40}'), 'PAYSTACK_SECRET_KEY=sk_test_{hex:40}'],
      invalid: [withoutName('sk_live_{a62:40}'), 'paystack_key = "sk_live_{a62:30}"', 'paystack_key = "pk_live_{a62:40}"'],
    },
  },
  {
    id: 'peopledatalabs-api-key', kind: 'peopledatalabs_api_key', severity: 'medium', description: 'People Data Labs API key next to the word peopledatalabs',
    pattern: '[a-z0-9]{64}', near: ['people[_.-]?data[_.-]?labs'], keywords: ['peopledatalabs', 'people_data_labs', 'people-data-labs'], entropy: 3,
    samples: {
      valid: named('peopledatalabs', '{hex:64}'),
      invalid: [withoutName('{hex:64}'), 'peopledatalabs_key = "{hex:60}"'],
    },
  },
  {
    id: 'percy-token', kind: 'percy_token', severity: 'high', description: 'Percy (BrowserStack visual testing) project token next to the word percy',
    pattern: '(?:[a-z]{3,6}_)?[0-9a-f]{64}', near: ['percy'], keywords: ['percy'], entropy: 3,
    samples: { valid: [...named('percy', '{hex:64}'), 'PERCY_TOKEN=web_{hex:64}'], invalid: [withoutName('{hex:64}'), 'percy_token = "{hex:40}"'] },
  },
  {
    id: 'perplexity-api-key', kind: 'perplexity_api_key', severity: 'high', description: 'Perplexity API key (pplx-)',
    pattern: 'pplx-[A-Za-z0-9]{48}', keywords: ['pplx-'], entropy: 4,
    samples: {
      valid: ['pplx-{a62:48}', 'PERPLEXITY_API_KEY="pplx-{a62:48}"'],
      invalid: ['pplx-{a62:47}', 'pplx-{a62:49}', 'pplx-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
    },
  },
  {
    id: 'pinata-api-key', kind: 'pinata_api_key', severity: 'low', description: 'Pinata API key (its public half) next to the word pinata',
    pattern: '[0-9a-z]{20}', near: ['pinata'], keywords: ['pinata'], entropy: 3,
    samples: {
      valid: named('pinata', '{hex:20}'),
      invalid: [withoutName('{hex:20}'), 'pinata_key = "{hex:19}"'],
    },
  },
  {
    id: 'pinata-api-secret', kind: 'pinata_api_secret', severity: 'high', description: 'Pinata API secret next to the word pinata',
    pattern: '[0-9a-z]{64}', near: ['pinata'], keywords: ['pinata'], entropy: 3,
    samples: {
      valid: [...named('pinata', '{hex:64}'), 'You can find a pinata secret {lc:64} within'],
      invalid: [withoutName('{hex:64}'), 'pinata_secret = "{hex:63}"'],
    },
  },
  {
    id: 'pinecone-api-key', kind: 'pinecone_api_key', severity: 'high', description: 'Pinecone API key (pcsk_)',
    pattern: 'pcsk_[A-Za-z0-9]{4,8}_[A-Za-z0-9]{50,80}', keywords: ['pcsk_'], entropy: 4,
    samples: {
      valid: ['pcsk_{a62:6}_{a62:65}', 'PINECONE_API_KEY=pcsk_{a62:5}_{a62:64}'],
      invalid: ['pcsk_{a62:6}_{a62:20}', 'pcsk_{a62:70}'],
    },
  },
  {
    id: 'plivo-auth-token', kind: 'plivo_auth_token', severity: 'high', description: 'Plivo auth token (40 characters) next to the word plivo',
    pattern: '[A-Za-z0-9_-]{40}', near: ['plivo'], keywords: ['plivo'], entropy: 3.5,
    samples: { valid: named('plivo', '{a62:40}'), invalid: [withoutName('{a62:40}'), 'plivo_token = "{a62:30}"'] },
  },
  {
    id: 'pipedream-api-key', kind: 'pipedream_api_key', severity: 'high', description: 'Pipedream API key next to the word pipedream',
    pattern: '[a-z0-9]{32}', near: ['pipedream'], keywords: ['pipedream'], entropy: 3,
    samples: {
      valid: named('pipedream', '{lc:32}'),
      invalid: [withoutName('{lc:32}'), 'pipedream_key = "{lc:31}"', 'pipedream_key = "{upper:32}"'],
    },
  },
  {
    id: 'pipedrive-api-token', kind: 'pipedrive_api_token', severity: 'high', description: 'Pipedrive API token next to the word pipedrive',
    pattern: '[a-f0-9]{40}', near: ['pipedrive'], keywords: ['pipedrive'], entropy: 3,
    samples: {
      valid: named('pipedrive', '{hex:40}'),
      invalid: [withoutName('{hex:40}'), 'pipedrive_token = "{hex:32}"'],
    },
  },
  {
    id: 'pivotaltracker-api-token', kind: 'pivotaltracker_api_token', severity: 'medium', description: 'Pivotal Tracker API token next to the word pivotal',
    pattern: '[a-z0-9]{32}', near: ['pivotal'], keywords: ['pivotal'], entropy: 3,
    samples: {
      valid: named('pivotal', '{lc:32}'),
      invalid: [withoutName('{lc:32}'), 'pivotal_key = "{lc:31}"', 'pivotal_key = "{upper:32}"'],
    },
  },
  // Plaid: access tokens name their environment; client ids and secrets are known by the name.
  {
    id: 'plaid-api-token', kind: 'plaid_access_token', severity: 'critical', description: 'Plaid access token (access-<environment>-<uuid>)',
    pattern: `access-(?:sandbox|development|production)-${UUID}`, keywords: ['access-sandbox-', 'access-development-', 'access-production-'], entropy: 3,
    samples: {
      valid: ['access-production-{uuid}', ...named('plaid', 'access-sandbox-{uuid}')],
      invalid: ['access-staging-{uuid}', 'access-production-{hex:32}'],
    },
  },
  {
    id: 'plaid-client-id', kind: 'plaid_client_id', severity: 'low', description: 'Plaid client id next to the word plaid',
    pattern: '[a-z0-9]{24}', near: ['plaid'], keywords: ['plaid'], entropy: 3,
    samples: {
      valid: named('plaid', '{hex:24}'),
      invalid: [withoutName('{hex:24}'), 'plaid_client_id = "{hex:23}"'],
    },
  },
  {
    id: 'plaid-secret-key', kind: 'plaid_secret_key', severity: 'critical', description: 'Plaid secret next to the word plaid',
    pattern: '[a-z0-9]{30}', near: ['plaid'], keywords: ['plaid'], entropy: 3.5,
    samples: {
      valid: named('plaid', '{lc:30}'),
      invalid: [withoutName('{lc:30}'), 'plaid_secret = "{lc:29}"'],
    },
  },
  // PlanetScale: service tokens, OAuth tokens and database passwords.
  {
    id: 'planetscale-api-token', kind: 'planetscale_api_token', severity: 'critical', description: 'PlanetScale service token (pscale_tkn_)',
    pattern: 'pscale_tkn_[A-Za-z0-9_=.-]{32,64}', keywords: ['pscale_tkn_'], entropy: 3.5,
    samples: {
      valid: ['pscale_tkn_{a62:43}', 'PLANETSCALE_SERVICE_TOKEN="pscale_tkn_{b64u:43}"'],
      invalid: ['pscale_tkn_{a62:20}', 'pscale_tkn_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
    },
  },
  {
    id: 'planetscale-oauth-token', kind: 'planetscale_oauth_token', severity: 'critical', description: 'PlanetScale OAuth token (pscale_oauth_)',
    pattern: 'pscale_oauth_[A-Za-z0-9_=.-]{32,64}', keywords: ['pscale_oauth_'], entropy: 3.5,
    samples: {
      valid: ['pscale_oauth_{a62:43}', 'token: pscale_oauth_{b64u:50}'],
      invalid: ['pscale_oauth_{a62:20}', 'pscale_oauth_{a62:80}'],
    },
  },
  {
    id: 'planetscale-password', kind: 'planetscale_password', severity: 'critical', description: 'PlanetScale database password (pscale_pw_)',
    pattern: 'pscale_pw_[A-Za-z0-9_=.-]{32,64}', keywords: ['pscale_pw_'], entropy: 3.5,
    samples: {
      valid: ['pscale_pw_{a62:43}', 'DATABASE_PASSWORD=pscale_pw_{b64u:43}'],
      invalid: ['pscale_pw_{a62:20}', 'pscale_pw_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
    },
  },
  {
    id: 'positionstack-api-key', kind: 'positionstack_api_key', severity: 'low', description: 'positionstack API key next to the word positionstack',
    pattern: '[A-Za-z0-9_]{32}', near: ['position[_.-]?stack'], keywords: ['positionstack', 'position_stack', 'position-stack'], entropy: 3.5,
    samples: {
      valid: named('positionstack', '{a62:32}'),
      invalid: [withoutName('{a62:32}'), 'positionstack_key = "{a62:31}"'],
    },
  },
  // PostHog: phc_ project keys are meant for browsers; phx_ personal keys read everything.
  {
    id: 'posthog-personal-api-key', kind: 'posthog_personal_api_key', severity: 'high', description: 'PostHog personal API key (phx_)',
    pattern: 'phx_[A-Za-z0-9_]{39,50}', keywords: ['phx_'], entropy: 4,
    samples: {
      valid: ['phx_{a62:43}', 'POSTHOG_PERSONAL_API_KEY=phx_{a62:47}'],
      invalid: ['phx_{a62:30}', 'phx_{a62:60}'],
    },
  },
  {
    id: 'posthog-project-api-key', kind: 'posthog_project_api_key', severity: 'low', description: 'PostHog project API key (phc_, write-only, shipped to browsers)',
    pattern: 'phc_[A-Za-z0-9]{39,50}', keywords: ['phc_'], entropy: 4,
    samples: {
      valid: ['phc_{a62:43}', 'posthog.init("phc_{a62:43}", {})'],
      invalid: ['phc_{a62:30}', 'phc_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
    },
  },
  {
    id: 'postman-api-token', kind: 'postman_api_token', severity: 'high', description: 'Postman API key (PMAK-)',
    pattern: 'PMAK-[a-fA-F0-9]{24}-[a-fA-F0-9]{34}', keywords: ['pmak-'], entropy: 3,
    samples: {
      valid: ['PMAK-{hex:24}-{hex:34}', 'POSTMAN_API_KEY="PMAK-{hex:24}-{hex:34}"'],
      invalid: ['PMAK-{hex:24}-{hex:30}', 'PMAK-{hex:24}{hex:34}', 'PMAK-{upper:24}-{upper:34}'],
    },
  },
  {
    id: 'postmark-server-token', kind: 'postmark_server_token', severity: 'high', description: 'Postmark server or account token (UUID) next to the word postmark',
    pattern: UUID, near: ['postmark'], keywords: ['postmark'], entropy: 3,
    samples: {
      valid: [...named('postmark', '{uuid}'), 'X-Postmark-Server-Token: {uuid}'],
      invalid: [withoutName('{uuid}'), 'postmark_token = "{hex:32}"'],
    },
  },
  {
    id: 'prefect-api-token', kind: 'prefect_api_token', severity: 'high', description: 'Prefect Cloud API key (pnu_)',
    pattern: 'pnu_[A-Za-z0-9]{36}', keywords: ['pnu_'], entropy: 3.5,
    samples: {
      valid: ['pnu_{a62:36}', 'PREFECT_API_KEY="pnu_{a62:36}"'],
      invalid: ['pnu_{a62:35}', 'pnu_{a62:37}', 'pnu_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
    },
  },
  {
    id: 'privateai-api-token', kind: 'privateai_api_token', severity: 'high', description: 'Private AI API key next to the words private ai',
    pattern: '[a-z0-9]{32}', near: ['private[_.-]?ai'], keywords: ['privateai', 'private_ai', 'private-ai', 'private.ai'], entropy: 3,
    samples: {
      valid: named('privateai', '{lc:32}'),
      invalid: [withoutName('{lc:32}'), 'privateai_key = "{lc:31}"'],
    },
  },
  {
    id: 'prodpad-api-key', kind: 'prodpad_api_key', severity: 'medium', description: 'ProdPad API key next to the word prodpad',
    pattern: '[a-f0-9]{64}', near: ['prodpad'], keywords: ['prodpad'], entropy: 3,
    samples: {
      valid: named('prodpad', '{hex:64}'),
      invalid: [withoutName('{hex:64}'), 'prodpad_key = "{hex:63}"'],
    },
  },
  {
    id: 'protocolsio-api-key', kind: 'protocolsio_api_key', severity: 'medium', description: 'protocols.io access token next to the word protocols',
    // "protocols" is a common word: hex digests (at most 4 bits a character) are not taken for keys.
    pattern: '[a-z0-9]{64}', near: ['protocols'], keywords: ['protocols'], entropy: 4.2,
    samples: {
      valid: named('protocolsio', '{lc:64}'),
      invalid: [withoutName('{lc:64}'), 'protocols_digest = "{hex:64}"', 'protocolsio_key = "{lc:63}"'],
    },
  },
  // PubNub keys are public in clients, but a publish key lets anyone post to every channel.
  {
    id: 'pubnub-publish-key', kind: 'pubnub_publish_key', severity: 'medium', description: 'PubNub publish key (pub-c-)',
    pattern: `pub-c-${UUID}`, keywords: ['pub-c-'], entropy: 3,
    samples: {
      valid: ['pub-c-{uuid}', 'publishKey: "pub-c-{uuid}"'],
      invalid: ['pub-c-{hex:32}', 'pub-x-{uuid}'],
    },
  },
  {
    id: 'pubnub-subscribe-key', kind: 'pubnub_subscribe_key', severity: 'low', description: 'PubNub subscribe key (sub-c-)',
    pattern: `sub-c-${UUID}`, keywords: ['sub-c-'], entropy: 3,
    samples: {
      valid: ['sub-c-{uuid}', 'subscribeKey: "sub-c-{uuid}"'],
      invalid: ['sub-c-{hex:32}', 'sub-{uuid}'],
    },
  },
  {
    id: 'pulumi-api-token', kind: 'pulumi_access_token', severity: 'critical', description: 'Pulumi access token (pul-)',
    pattern: 'pul-[a-f0-9]{40}', keywords: ['pul-'], entropy: 3,
    samples: {
      valid: ['pul-{hex:40}', 'PULUMI_ACCESS_TOKEN="pul-{hex:40}"'],
      invalid: ['pul-{hex:39}', 'pul-{upper:40}'],
    },
  },
  {
    id: 'purestake-api-key', kind: 'purestake_api_key', severity: 'medium', description: 'PureStake (Algorand API) key next to the word purestake',
    pattern: '[A-Za-z0-9]{40}', near: ['purestake'], keywords: ['purestake'], entropy: 3.8,
    samples: {
      valid: named('purestake', '{a62:40}'),
      invalid: [withoutName('{a62:40}'), 'purestake_key = "{a62:39}"'],
    },
  },
  {
    id: 'pusher-channels-secret', kind: 'pusher_channels_secret', severity: 'high', description: 'Pusher Channels app secret (20 hex) next to the word pusher',
    pattern: '[a-f0-9]{20}', near: ['pusher'], keywords: ['pusher'], entropy: 2.5,
    samples: { valid: named('pusher', '{hex:20}'), invalid: [withoutName('{hex:20}'), 'pusher_secret = "{hex:16}"'] },
  },
  {
    id: 'pushbullet-api-key', kind: 'pushbullet_api_key', severity: 'medium', description: 'Pushbullet access token next to the word pushbullet',
    pattern: '[A-Za-z0-9_.]{34}', near: ['pushbullet'], keywords: ['pushbullet'], entropy: 3.8,
    samples: {
      valid: [...named('pushbullet', 'o.{a62:32}'), 'PUSHBULLET_TOKEN={a62:34}'],
      invalid: [withoutName('o.{a62:32}'), 'pushbullet_token = "o.{a62:20}"'],
    },
  },
  {
    id: 'qase-api-token', kind: 'qase_api_token', severity: 'medium', description: 'Qase API token next to the word qase',
    pattern: '[0-9a-zA-Z]{40}', near: ['qase'], keywords: ['qase'], entropy: 3.8,
    samples: {
      valid: named('qase', '{a62:40}'),
      invalid: [withoutName('{a62:40}'), 'qase_token = "{a62:39}"'],
    },
  },
  {
    id: 'railway-api-token', kind: 'railway_api_token', severity: 'critical', description: 'Railway API or project token (UUID) next to the word railway',
    pattern: UUID, near: ['railway'], keywords: ['railway'], entropy: 3,
    samples: {
      valid: [...named('railway', '{uuid}'), 'RAILWAY_TOKEN={uuid}'],
      invalid: [withoutName('{uuid}'), 'railway_token = "{hex:32}"'],
    },
  },
  {
    id: 'rapidapi-access-token', kind: 'rapidapi_key', severity: 'high', description: 'RapidAPI key next to the word rapidapi',
    pattern: '[A-Za-z0-9_-]{50}', near: ['rapid[_.-]?api'], keywords: ['rapidapi', 'rapid_api', 'rapid-api', 'rapid.api'], entropy: 4,
    samples: {
      valid: [...named('rapidapi', '{a62:50}'), "'X-RapidAPI-Key': '{b64u:50}'"],
      invalid: [withoutName('{a62:50}'), 'rapidapi_key = "{a62:49}"'],
    },
  },
  {
    id: 'rawg-api-key', kind: 'rawg_api_key', severity: 'low', description: 'RAWG video games database API key next to the word rawg',
    pattern: '[0-9a-z]{32}', near: ['rawg'], keywords: ['rawg'], entropy: 3,
    samples: {
      valid: named('rawg', '{hex:32}'),
      invalid: [withoutName('{hex:32}'), 'rawg_key = "{hex:31}"'],
    },
  },
  // Razorpay: the key id says live or test mode; the secret is known by the name.
  {
    id: 'razorpay-key-id', kind: 'razorpay_key_id', severity: 'medium', description: 'Razorpay live key id (rzp_live_)',
    pattern: 'rzp_live_[A-Za-z0-9]{14}', keywords: ['rzp_live_'], entropy: 3,
    samples: {
      valid: ['rzp_live_{a62:14}', 'RAZORPAY_KEY_ID="rzp_live_{a62:14}"'],
      invalid: ['rzp_live_{a62:10}', 'rzp_live_{a62:20}'],
    },
  },
  {
    id: 'razorpay-key-secret', kind: 'razorpay_key_secret', severity: 'critical', description: 'Razorpay key secret next to the word razorpay',
    pattern: '[A-Za-z0-9]{24}', near: ['razorpay'], keywords: ['razorpay'], entropy: 3.8,
    samples: {
      valid: named('razorpay', '{a62:24}'),
      invalid: [withoutName('{a62:24}'), 'razorpay_secret = "{a62:23}"'],
    },
  },
  {
    id: 'razorpay-test-key-id', kind: 'razorpay_test_key_id', severity: 'low', description: 'Razorpay test-mode key id (rzp_test_)',
    pattern: 'rzp_test_[A-Za-z0-9]{14}', keywords: ['rzp_test_'], entropy: 3,
    samples: {
      valid: ['rzp_test_{a62:14}', 'key: "rzp_test_{a62:14}"'],
      invalid: ['rzp_test_{a62:10}', 'rzp_test_{a62:20}'],
    },
  },
  {
    id: 'readme-api-token', kind: 'readme_api_token', severity: 'high', description: 'ReadMe API key (rdme_)',
    pattern: 'rdme_[a-z0-9]{70}', keywords: ['rdme_'], entropy: 3.5,
    samples: {
      valid: ['rdme_{lc:70}', 'README_API_KEY="rdme_{lc:70}"'],
      invalid: ['rdme_{lc:69}', 'rdme_{lc:71}', 'rdme_{upper:70}'],
    },
  },
  {
    id: 'rebrandly-api-key', kind: 'rebrandly_api_key', severity: 'medium', description: 'Rebrandly API key next to the word rebrandly',
    pattern: '[a-f0-9]{32}', near: ['rebrandly'], keywords: ['rebrandly'], entropy: 3,
    samples: {
      valid: named('rebrandly', '{hex:32}'),
      invalid: [withoutName('{hex:32}'), 'rebrandly_key = "{hex:30}"'],
    },
  },
  {
    id: 'render-api-key', kind: 'render_api_key', severity: 'critical', description: 'Render API key (rnd_)',
    pattern: 'rnd_[A-Za-z0-9]{32}', keywords: ['rnd_'], entropy: 4,
    samples: {
      valid: ['rnd_{a62:32}', 'RENDER_API_KEY="rnd_{a62:32}"'],
      invalid: ['rnd_{a62:31}', 'rnd_{a62:33}', 'rnd_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
    },
  },
  {
    id: 'replicate-api-token', kind: 'replicate_api_token', severity: 'high', description: 'Replicate API token (r8_)',
    pattern: 'r8_[A-Za-z0-9]{37}', keywords: ['r8_'], entropy: 4,
    samples: {
      valid: ['r8_{a62:37}', 'REPLICATE_API_TOKEN="r8_{a62:37}"'],
      invalid: ['r8_{a62:36}', 'r8_{a62:38}', 'r8_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
    },
  },
  {
    id: 'resend-api-key', kind: 'resend_api_key', severity: 'high', description: 'Resend API key (re_)',
    pattern: 're_[A-Za-z0-9]{8}_[A-Za-z0-9_]{20,40}', keywords: ['re_'], entropy: 4,
    // `re_` also starts Python names (re_patterns_compiled_once_...): a key mixes digits and both cases.
    validate: (s) => /[0-9]/.test(s) && /[A-Z]/.test(s) && /[a-z]/.test(s),
    samples: {
      valid: ['re_{a62:8}_{a62:24}', 'RESEND_API_KEY="re_{a62:8}_{a62:4}_{a62:4}_{a62:4}_{a62:12}"'],
      invalid: ['re_{a62:8}_{a62:10}', 're_{a62:32}', 'matcher = re_patterns_compiled_once_for_every_scanner'],
    },
  },
  {
    id: 'rollbar-access-token', kind: 'rollbar_access_token', severity: 'medium', description: 'Rollbar access token next to the word rollbar',
    pattern: '[a-f0-9]{32}', near: ['rollbar'], keywords: ['rollbar'], entropy: 3,
    samples: {
      valid: named('rollbar', '{hex:32}'),
      invalid: [withoutName('{hex:32}'), 'rollbar_token = "{hex:31}"'],
    },
  },
  {
    id: 'rootly-api-key', kind: 'rootly_api_key', severity: 'high', description: 'Rootly API key (rootly_)',
    pattern: 'rootly_[a-f0-9]{64}', keywords: ['rootly_'], entropy: 3,
    samples: {
      valid: ['rootly_{hex:64}', 'ROOTLY_API_TOKEN="rootly_{hex:64}"'],
      invalid: ['rootly_{hex:60}', 'rootly_{upper:64}'],
    },
  },
  {
    id: 'route4me-api-key', kind: 'route4me_api_key', severity: 'medium', description: 'Route4Me API key next to the word route4me',
    pattern: '[0-9A-Z]{32}', near: ['route4me'], keywords: ['route4me'], entropy: 3.5,
    samples: {
      valid: named('route4me', '{HEX:32}'),
      invalid: [withoutName('{HEX:32}'), 'route4me_key = "{HEX:31}"', 'route4me_key = "{hex:32}"'],
    },
  },
  {
    id: 'rubygems-api-token', kind: 'rubygems_api_token', severity: 'high', description: 'RubyGems.org API key (rubygems_)',
    pattern: 'rubygems_[a-f0-9]{48}', keywords: ['rubygems_'], entropy: 3,
    samples: {
      valid: ['rubygems_{hex:48}', ':rubygems_api_key: rubygems_{hex:48}'],
      invalid: ['rubygems_{hex:47}', 'rubygems_{hex:49}', 'rubygems_{upper:48}'],
    },
  },
]

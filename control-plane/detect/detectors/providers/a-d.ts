/**
 * Provider detectors, providers named A-D (by the provider's name; digits go with A-D).
 * See ../provider-spec.ts for what a spec holds and how its samples are written.
 */
import { PRIORITY_OVER_SHAPE, bare, named, unnamed, type ProviderSpec } from '../provider-spec.js'
import { isEnvReference, isTemplated } from '../../suppress.js'

/** The specs of this group, before the placeholder check is set (see `typedValuesAllowed`). */
const TABLE: ProviderSpec[] = [
  {
    id: '1password-secret-key', kind: 'onepassword_secret_key', severity: 'critical',
    description: '1Password account secret key (A3-…), one half of what unlocks a vault',
    pattern: 'A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}',
    keywords: ['a3-'], entropy: 3.5,
    samples: {
      valid: [...bare('A3-{uc:6}-{uc:11}-{uc:5}-{uc:5}-{uc:5}'), 'secret_key: A3-{uc:6}-{uc:6}-{uc:5}-{uc:5}-{uc:5}-{uc:5}'],
      invalid: ['A3-XXXXXX-XXXXXXXXXXX-XXXXX-XXXXX-XXXXX', 'A3-{lc:6}-{lc:11}-{lc:5}-{lc:5}-{lc:5}', 'A3-{uc:6}-{uc:9}-{uc:5}-{uc:5}-{uc:5}'],
    },
  },
  {
    id: '1password-service-account-token', kind: 'onepassword_service_account_token', severity: 'critical',
    description: '1Password service account token (ops_ and a base64 JSON document)',
    pattern: 'ops_eyJ[A-Za-z0-9+/]{250,2000}={0,3}', keywords: ['ops_eyj'], entropy: 4,
    samples: {
      valid: [...bare('ops_eyJ{b64:320}'), 'export OP_SERVICE_ACCOUNT_TOKEN=ops_eyJ{b64:400}=='],
      invalid: ['ops_eyJ{b64:120}', `ops_eyJ${'x'.repeat(300)}`, 'ops_eyJ{b64:40}...'],
    },
  },
  {
    id: 'ably-api-key', kind: 'ably_api_key', severity: 'high',
    description: 'Ably API key (app id.key id:secret) next to the word ably',
    pattern: '[A-Za-z0-9_-]{6}\\.[A-Za-z0-9_-]{6}:[A-Za-z0-9_+/=-]{40,46}', near: ['ably'], keywords: ['ably'], entropy: 3.5,
    samples: { valid: named('ably', '{a62:6}.{a62:6}:{b64u:43}'), invalid: unnamed('ably', '{a62:6}.{a62:6}:{b64u:43}', '{a62:6}.{a62:6}:{b64u:20}', '<your-ably-key>') },
  },
  {
    id: 'adafruit-api-key', kind: 'adafruit_api_key', severity: 'high',
    description: 'Adafruit IO key next to the word adafruit',
    pattern: '[A-Za-z0-9_-]{32}', near: ['adafruit'], keywords: ['adafruit'], entropy: 3,
    samples: { valid: named('adafruit', '{lc:32}'), invalid: unnamed('adafruit', '{lc:32}', '{lc:28}', 'x'.repeat(32)) },
  },
  {
    id: 'adafruit-io-key', kind: 'adafruit_io_key', severity: 'high',
    description: 'Adafruit IO key (aio_…)',
    pattern: 'aio_[A-Za-z0-9]{28}', keywords: ['aio_'], entropy: 3.5,
    samples: { valid: bare('aio_{a62:28}'), invalid: ['aio_{a62:20}', 'aio_{a62:40}', `aio_${'x'.repeat(28)}`] },
  },
  {
    id: 'adobe-client-id', kind: 'adobe_client_id', severity: 'medium',
    description: 'Adobe client id (32 hex) next to the word adobe',
    pattern: '[a-fA-F0-9]{32}', near: ['adobe'], keywords: ['adobe'], entropy: 3,
    samples: { valid: named('adobe', '{hex:32}'), invalid: unnamed('adobe', '{hex:32}', '{hex:30}', '0'.repeat(32)) },
  },
  {
    id: 'adobe-client-secret', kind: 'adobe_client_secret', severity: 'high',
    description: 'Adobe client secret (p8e-…)',
    pattern: 'p8e-[A-Za-z0-9]{32}', keywords: ['p8e-'], entropy: 2,
    samples: { valid: bare('p8e-{a62:32}'), invalid: ['p8e-{a62:24}', 'P8E-{a62:32}', `p8e-${'x'.repeat(32)}`] },
  },
  {
    id: 'adyen-api-key', kind: 'adyen_api_key', severity: 'critical',
    description: 'Adyen API key (AQE…)',
    pattern: 'AQE[A-Za-z0-9]{5,40}\\.[A-Za-z0-9_=-]{50,80}', keywords: ['aqe'], entropy: 3,
    samples: {
      valid: [...bare('AQE{lower:5}.{lc:60}'), 'adyenToken := "AQE{a62:6}.{b64u:70}"'],
      invalid: ['AXE{lower:5}.{lc:60}', 'AQE{lower:5}.{lc:30}', 'AQE{a62:6}'],
    },
  },
  {
    id: 'adyen-client-key', kind: 'adyen_client_key', severity: 'medium',
    description: 'Adyen client key (test_/live_…) next to the word adyen',
    pattern: '(?:test|live)_[A-Za-z0-9]{30,40}', near: ['adyen'], keywords: ['adyen'], entropy: 3,
    samples: {
      valid: named('adyen', 'test_{a62:34}'),
      invalid: ['token = "test_{a62:34}"', 'adyen_client_key = "prod_{a62:34}"', 'adyen_client_key = "live_{a62:20}"'],
    },
  },
  {
    id: 'aiven-token', kind: 'aiven_token', severity: 'critical',
    description: 'Aiven authentication token (AVNU_…)',
    pattern: 'AVNU_[A-Za-z0-9+/]{300,450}={0,2}', keywords: ['avnu_'], entropy: 4,
    samples: { valid: bare('AVNU_{b64:370}=='), invalid: ['AVNU_{b64:100}', `AVNU_${'x'.repeat(372)}`, 'AVN_{b64:370}'] },
  },
  {
    id: 'aiven-auth-token', kind: 'aiven_token', severity: 'critical',
    description: 'Aiven authentication token next to the word aiven',
    pattern: '[A-Za-z0-9/+]{370,374}={0,2}', near: ['aiven'], keywords: ['aiven'], entropy: 4,
    samples: { valid: named('aiven', '{b64:372}'), invalid: unnamed('aiven', '{b64:372}', '{b64:200}', 'x'.repeat(372)) },
  },
  {
    id: 'airbrake-project-key', kind: 'airbrake_project_key', severity: 'medium',
    description: 'Airbrake project key (32 characters) next to the word airbrake',
    pattern: '[A-Za-z0-9-]{32}', near: ['airbrake'], keywords: ['airbrake'], entropy: 3,
    samples: { valid: named('airbrake', '{hex:32}'), invalid: unnamed('airbrake', '{hex:32}', '{hex:24}', 'x'.repeat(32)) },
  },
  {
    id: 'airbrake-user-key', kind: 'airbrake_user_key', severity: 'high',
    description: 'Airbrake user key or token (40 characters) next to the word airbrake',
    pattern: '[A-Za-z0-9-]{40}', near: ['airbrake'], keywords: ['airbrake'], entropy: 3,
    samples: { valid: named('airbrake', '{hex:40}'), invalid: unnamed('airbrake', '{hex:40}', '{hex:36}', 'x'.repeat(40)) },
  },
  {
    id: 'airtable-api-key', kind: 'airtable_api_key', severity: 'high',
    description: 'Airtable legacy API key (17 characters) next to the word airtable',
    pattern: '[A-Za-z0-9]{17}', near: ['airtable'], keywords: ['airtable'], entropy: 3,
    samples: { valid: [...named('airtable', '{lc:17}'), 'AIRTABLE_API_KEY=key{a62:14}'], invalid: unnamed('airtable', '{lc:17}', '{lc:12}', 'x'.repeat(17)) },
  },
  {
    id: 'airtable-personnal-access-token', kind: 'airtable_pat', severity: 'high',
    description: 'Airtable personal access token (pat….hex64)',
    pattern: 'pat[A-Za-z0-9]{14}\\.[a-f0-9]{64}', keywords: ['pat'], entropy: 3,
    samples: { valid: bare('pat{a62:14}.{hex:64}'), invalid: ['pat{a62:14}.{hex:40}', 'pat{a62:10}.{hex:64}', 'pat{a62:14}.{upper:64}'] },
  },
  {
    id: 'algolia-api-key', kind: 'algolia_api_key', severity: 'high',
    description: 'Algolia API or admin key next to the word algolia',
    pattern: '[A-Za-z0-9]{32}', near: ['algolia'], keywords: ['algolia'], entropy: 3,
    samples: { valid: named('algolia', '{lc:32}'), invalid: unnamed('algolia', '{lc:32}', '{lc:24}', 'x'.repeat(32)) },
  },
  {
    id: 'akamai-edgegrid-token', kind: 'akamai_edgegrid_token', severity: 'high',
    description: 'Akamai EdgeGrid client or access token (akab-…)',
    pattern: 'akab-[a-z0-9]{16}-[a-z0-9]{16}', keywords: ['akab-'], entropy: 3.5,
    samples: { valid: [...bare('akab-{lc:16}-{lc:16}'), 'client_token = akab-{lc:16}-{lc:16}'], invalid: ['akab-{lc:16}-{lc:10}', 'akab-{upper:16}-{upper:16}', `akab-${'x'.repeat(16)}-${'x'.repeat(16)}`] },
  },
  {
    id: 'alibaba-access-key-id', kind: 'alibaba_access_key', severity: 'critical',
    description: 'Alibaba Cloud AccessKey id (LTAI…)',
    pattern: 'LTAI[A-Za-z0-9]{12,20}', keywords: ['ltai'], entropy: 3,
    samples: { valid: [...bare('LTAI{lc:20}'), 'access_key_id: LTAI5t{a62:18}'], invalid: ['LTAI{lc:8}', 'LTAI{lc:30}', `LTAI${'x'.repeat(20)}`] },
  },
  {
    id: 'alibaba-secret-key', kind: 'alibaba_secret_key', severity: 'critical',
    description: 'Alibaba Cloud AccessKey secret (30 characters) next to the word alibaba or aliyun',
    pattern: '[A-Za-z0-9]{30}', near: ['alibaba', 'aliyun', 'alicloud'], keywords: ['alibaba', 'aliyun', 'alicloud'], entropy: 3,
    samples: { valid: [...named('alibaba', '{lc:30}'), 'ALIYUN_ACCESS_KEY_SECRET={a62:30}'], invalid: unnamed('alibaba', '{lc:30}', '{lc:26}', 'x'.repeat(30)) },
  },
  {
    id: 'amplitude-api-key', kind: 'amplitude_api_key', severity: 'medium',
    description: 'Amplitude API key (32 hex) next to the word amplitude',
    pattern: '[a-f0-9]{32}', near: ['amplitude'], keywords: ['amplitude'], entropy: 3,
    samples: { valid: named('amplitude', '{hex:32}'), invalid: unnamed('amplitude', '{hex:32}', '{hex:28}', '0'.repeat(32)) },
  },
  {
    id: 'apify-api-token', kind: 'apify_api_token', severity: 'high',
    description: 'Apify API token (apify_api_…)',
    pattern: 'apify_api_[A-Za-z0-9]{36}', keywords: ['apify_api_'], entropy: 3.5,
    samples: { valid: bare('apify_api_{a62:36}'), invalid: ['apify_api_{a62:20}', `apify_api_${'x'.repeat(36)}`, 'apify_{a62:36}'] },
  },
  {
    id: 'appwrite-api-key', kind: 'appwrite_api_key', severity: 'critical',
    description: 'Appwrite server API key (standard_ and 256 hex)',
    pattern: 'standard_[a-f0-9]{256}', keywords: ['standard_'], entropy: 3,
    samples: { valid: bare('standard_{hex:256}'), invalid: ['standard_{hex:128}', 'standard_{upper:256}', 'nonstandard_{hex:256}'] },
  },
  {
    id: 'artifactory-api-key', kind: 'artifactory_api_key', severity: 'critical',
    description: 'JFrog Artifactory API key (AKCp…)',
    pattern: 'AKCp[A-Za-z0-9]{69}', keywords: ['akcp'], entropy: 4,
    samples: { valid: bare('AKCp{a62:69}'), invalid: ['AkCp{a62:69}', 'AKCp{a62:59}', `AKCp${'X'.repeat(69)}`] },
  },
  {
    id: 'artifactory-reference-token', kind: 'artifactory_reference_token', severity: 'critical',
    description: 'JFrog Artifactory reference token (cmVmd…, base64 of "ref")',
    pattern: 'cmVmd[A-Za-z0-9]{59}', keywords: ['cmvmd'], entropy: 4,
    samples: { valid: bare('cmVmd{a62:59}'), invalid: ['cmVMd{a62:59}', 'cmVmd{a62:49}', 'xYzabcmVmd{a62:59}Qw'] },
  },
  {
    id: 'asana-client-id', kind: 'asana_client_id', severity: 'low',
    description: 'Asana OAuth client id (16 digits) next to the word asana',
    pattern: '[0-9]{16}', near: ['asana'], keywords: ['asana'], entropy: 2,
    samples: { valid: named('asana', '{d:16}'), invalid: unnamed('asana', '{d:16}', '{d:12}', '0'.repeat(16)) },
  },
  {
    id: 'asana-client-secret', kind: 'asana_client_secret', severity: 'high',
    description: 'Asana OAuth client secret (32 characters) next to the word asana',
    pattern: '[A-Za-z0-9]{32}', near: ['asana'], keywords: ['asana'], entropy: 3,
    samples: { valid: named('asana', '{lc:32}'), invalid: unnamed('asana', '{lc:32}', '{lc:20}', 'x'.repeat(32)) },
  },
  {
    id: 'asana-personal-access-token', kind: 'asana_pat', severity: 'high',
    description: 'Asana personal access token (1/…:… or 2/…/…:…) in a text naming asana',
    pattern: '[0-9]{1,2}/[0-9]{12,20}(?:/[0-9]{12,20})?:[A-Za-z0-9]{32,40}', keywords: ['asana'], entropy: 3,
    samples: {
      valid: ['ASANA_TOKEN=1/{d:16}:{hex:32}', 'asana_pat: "2/{d:16}/{d:16}:{hex:32}"', 'asanaToken := "0/{d:16}:{a62:32}"'],
      invalid: ['token = 1/{d:16}:{hex:32}', 'ASANA_TOKEN=1/{d:16}:{hex:20}', 'asana: 1/{d:8}:{hex:32}'],
    },
  },
  {
    id: 'assemblyai-api-key', kind: 'assemblyai_api_key', severity: 'high',
    description: 'AssemblyAI API key (32 hex) next to its name',
    pattern: '[a-f0-9]{32}', near: ['assembly[_.-]?ai'], keywords: ['assembly'], entropy: 3,
    samples: { valid: named('assemblyai', '{hex:32}'), invalid: unnamed('assemblyai', '{hex:32}', '{hex:24}', '0'.repeat(32)) },
  },
  {
    id: 'atlassian-api-token', kind: 'atlassian_api_token', severity: 'high',
    description: 'Atlassian (Jira, Confluence) legacy API token (24 characters) next to the product name',
    pattern: '[A-Za-z0-9]{20}[A-Fa-f0-9]{4}', near: ['atlassian', 'confluence', 'jira'], keywords: ['atlassian', 'confluence', 'jira'], entropy: 3.5,
    samples: {
      valid: [...named('atlassian', '{lc:20}{hex:4}'), 'JIRA_API_TOKEN={a62:20}{HEX:4}', 'confluence_token: "{lc:20}{hex:4}"'],
      invalid: [...unnamed('jira', '{lc:20}{hex:4}', '{lc:16}', 'x'.repeat(24)), 'listConfluencePagesInSpace,findJiraIssuesByQuery'],
    },
  },
  {
    id: 'atlassian-user-api-token', kind: 'atlassian_user_api_token', severity: 'high',
    description: 'Atlassian API token, current format (ATATT3…)',
    pattern: 'ATATT3[A-Za-z0-9_=-]{180,200}', keywords: ['atatt3'], entropy: 4,
    samples: { valid: bare('ATATT3{b64u:177}={HEX:8}'), invalid: ['ATATT3{b64u:100}', 'ATATT2{b64u:177}={HEX:8}', `ATATT3${'x'.repeat(186)}`] },
  },
  {
    id: 'atlassian-admin-api-key', kind: 'atlassian_admin_api_key', severity: 'critical',
    description: 'Atlassian organization admin API key (ATCTT3…)',
    pattern: 'ATCTT3[A-Za-z0-9_=-]{150,250}', keywords: ['atctt3'], entropy: 4,
    samples: { valid: bare('ATCTT3{b64u:177}={HEX:8}'), invalid: ['ATCTT3{b64u:100}', 'ATCTT4{b64u:177}={HEX:8}', `ATCTT3${'x'.repeat(186)}`] },
  },
  {
    id: 'auth0-client-secret', kind: 'auth0_client_secret', severity: 'critical',
    description: 'Auth0 application client secret (64 characters) next to the word auth0',
    pattern: '[A-Za-z0-9_-]{64}', near: ['auth0'], keywords: ['auth0'], entropy: 4,
    samples: { valid: named('auth0', '{b64u:64}'), invalid: unnamed('auth0', '{b64u:64}', '{b64u:40}', 'x'.repeat(64)) },
  },
  {
    id: 'authress-service-client-access-key', kind: 'authress_access_key', severity: 'critical',
    description: 'Authress service client access key',
    pattern: '(?:sc|ext|scauth|authress)_[a-z0-9]{5,30}\\.[a-z0-9]{4,6}\\.acc[_-][a-z0-9-]{10,32}\\.[a-z0-9+/_=-]{30,120}', flags: 'i',
    keywords: ['sc_', 'ext_', 'scauth_', 'authress_'], entropy: 2,
    samples: {
      valid: [...bare('authress_{lc:12}.{lc:5}.acc_{lc:20}.{b64u:60}'), 'AUTHRESS_KEY=sc_{lc:20}.{lc:4}.acc-{lc:16}.{b64:40}'],
      invalid: ['authress_{lc:12}.{lc:5}.abc_{lc:20}.{b64u:60}', 'authress_{lc:12}.{lc:5}.acc_{lc:20}.{b64u:10}', 'sc_{lc:3}.{lc:5}.acc_{lc:20}.{b64u:60}'],
    },
  },
  {
    id: 'amazon-mws-auth-token', kind: 'amazon_mws_auth_token', severity: 'high',
    description: 'Amazon Marketplace Web Service auth token (amzn.mws.…)',
    pattern: 'amzn\\.mws\\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', keywords: ['amzn.mws.'], entropy: 3,
    samples: { valid: bare('amzn.mws.{uuid}'), invalid: ['amzn.mws.{hex:8}-{hex:4}-{hex:4}', 'amzn.mws.{upper:8}-{upper:4}-{upper:4}-{upper:4}-{upper:12}', 'amzn.mws.00000000-0000-0000-0000-000000000000'] },
  },
  {
    id: 'aws-amazon-bedrock-api-key-long-lived', kind: 'aws_bedrock_api_key', severity: 'critical',
    description: 'Amazon Bedrock long-term API key (ABSK…)',
    // base64 of `BedrockAPIKey-` right after ABSK proves the key on its own, so a shorter one is still one.
    pattern: 'ABSKQmVkcm9ja0FQSUtleS[A-Za-z0-9+/]{20,269}={0,2}|ABSK[A-Za-z0-9+/]{109,269}={0,2}', keywords: ['absk'], entropy: 4,
    samples: { valid: [...bare('ABSK{b64:132}'), 'AWS_BEARER_TOKEN_BEDROCK=ABSKQmVkcm9ja0FQSUtleS{b64:110}=', 'bedrock_key = "ABSKQmVkcm9ja0FQSUtleS{b64:40}"'], invalid: ['ABSK{b64:60}', `ABSK${'A'.repeat(132)}`, 'ABSC{b64:132}'] },
  },
  {
    id: 'aws-amazon-bedrock-api-key-short-lived', kind: 'aws_bedrock_short_term_key', severity: 'high',
    description: 'Amazon Bedrock short-term API key (bedrock-api-key-, a presigned request in base64)',
    pattern: 'bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t[A-Za-z0-9+/]{60,4000}={0,2}', keywords: ['bedrock-api-key-'], entropy: 4,
    samples: {
      valid: [...bare('bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t{b64:800}'), 'AWS_BEARER_TOKEN_BEDROCK=bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t{b64:1200}=='],
      invalid: ['bedrock-api-key-example', 'bedrock-api-key-{b64:800}', 'bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t{b64:20}'],
    },
  },
  ...azureSpecs(),
  ...keyedSpecs(),
  {
    id: 'bannerbear-api-key', kind: 'bannerbear_api_key', severity: 'high',
    description: 'Bannerbear project or master API key (bb_pr_/bb_ma_…)',
    pattern: 'bb_(?:pr|ma)_[a-f0-9]{30}', keywords: ['bb_pr_', 'bb_ma_'], entropy: 3,
    samples: { valid: bare('bb_pr_{hex:30}'), invalid: ['bb_pr_{hex:20}', 'bb_xx_{hex:30}', 'bb_ma_{upper:30}'] },
  },
  {
    id: 'bannerbear-legacy-api-key', kind: 'bannerbear_api_key', severity: 'high',
    description: 'Bannerbear API key, unprefixed (22 characters and tt) next to the word bannerbear',
    pattern: '[A-Za-z0-9]{22}tt', near: ['bannerbear'], keywords: ['bannerbear'], entropy: 3,
    samples: { valid: named('bannerbear', '{a62:22}tt'), invalid: unnamed('bannerbear', '{a62:22}tt', '{a62:16}tt', '<your-bannerbear-key>') },
  },
  {
    id: 'beamer-api-token', kind: 'beamer_api_token', severity: 'medium',
    description: 'Beamer API key (b_…) next to the word beamer',
    pattern: 'b_[A-Za-z0-9=_-]{44}', near: ['beamer'], keywords: ['beamer'], entropy: 3,
    samples: { valid: named('beamer', 'b_{lc:44}'), invalid: unnamed('beamer', 'b_{lc:44}', 'b_{lc:30}', `b_${'x'.repeat(44)}`) },
  },
  {
    id: 'betterstack-api-token', kind: 'betterstack_api_token', severity: 'high',
    description: 'Better Stack (Logtail, Better Uptime) token next to its name',
    pattern: '[A-Za-z0-9]{24}', near: ['better[_.-]?stack', 'better[_.-]?uptime', 'logtail'], keywords: ['betterstack', 'better_stack', 'betteruptime', 'better_uptime', 'logtail', 'better-stack', 'better-uptime'], entropy: 3.5,
    samples: { valid: named('betterstack', '{a62:24}'), invalid: unnamed('betterstack', '{a62:24}', '{a62:16}', 'x'.repeat(24)) },
  },
  {
    id: 'bitbucket-app-password', kind: 'bitbucket_app_password', severity: 'critical',
    description: 'Bitbucket Cloud app password or API token (ATBB…)',
    pattern: 'ATBB[A-Za-z0-9_=.-]{28,64}', keywords: ['atbb'], entropy: 3.5,
    samples: { valid: bare('ATBB{a62:28}{HEX:8}'), invalid: ['ATBB{a62:12}', `ATBB${'x'.repeat(32)}`, 'ATB{a62:32}'] },
  },
  {
    id: 'bitbucket-client-id', kind: 'bitbucket_client_id', severity: 'medium',
    description: 'Bitbucket OAuth consumer key (32 characters) next to the word bitbucket',
    pattern: '[A-Za-z0-9]{32}', near: ['bitbucket'], keywords: ['bitbucket'], entropy: 3,
    samples: { valid: named('bitbucket', '{lc:32}'), invalid: unnamed('bitbucket', '{lc:32}', '{lc:20}', 'x'.repeat(32)) },
  },
  {
    id: 'bitbucket-client-secret', kind: 'bitbucket_client_secret', severity: 'critical',
    description: 'Bitbucket OAuth consumer secret (64 characters) next to the word bitbucket',
    pattern: '[A-Za-z0-9=_-]{64}', near: ['bitbucket'], keywords: ['bitbucket'], entropy: 3,
    samples: { valid: named('bitbucket', '{b64u:64}'), invalid: unnamed('bitbucket', '{b64u:64}', '{b64u:50}', 'x'.repeat(64)) },
  },
  {
    id: 'bitbucket-data-center-token', kind: 'bitbucket_data_center_token', severity: 'critical',
    description: 'Bitbucket Data Center HTTP access token (BBDC-…)',
    pattern: 'BBDC-[A-Za-z0-9+/]{40,48}={0,2}', keywords: ['bbdc-'], entropy: 4,
    samples: { valid: bare('BBDC-{b64:44}'), invalid: ['BBDC-{b64:20}', `BBDC-${'x'.repeat(44)}`, 'BBDX-{b64:44}'] },
  },
  {
    id: 'bitly-secret-key', kind: 'bitly_secret_key', severity: 'medium',
    description: 'Bitly legacy API key (R_ and 32 hex)',
    pattern: 'R_[a-f0-9]{32}', keywords: ['r_'], entropy: 3,
    samples: { valid: bare('R_{hex:32}'), invalid: ['R_{hex:20}', 'R_{upper:32}', 'XR_{hex:32}'] },
  },
  {
    id: 'bitly-access-token', kind: 'bitly_access_token', severity: 'medium',
    description: 'Bitly access token (40 characters) next to the word bitly',
    pattern: '[A-Za-z0-9]{40}', near: ['bitly'], keywords: ['bitly'], entropy: 3.5,
    samples: { valid: named('bitly', '{a62:40}'), invalid: unnamed('bitly', '{a62:40}', '{a62:30}', 'x'.repeat(40)) },
  },
  // Both Bittrex values are 32 characters: the secret is told apart by its name, and listed first so
  // that the same value at the same place is reported once, as the secret.
  {
    id: 'bittrex-secret-key', kind: 'bittrex_secret_key', severity: 'critical',
    description: 'Bittrex API secret next to a name saying bittrex and secret',
    pattern: '[A-Za-z0-9]{32}', near: ['bittrex[\\w.-]{0,20}secret'], keywords: ['bittrex'], entropy: 3,
    samples: {
      valid: ['BITTREX_API_SECRET={lc:32}', 'bittrexSecret := "{a62:32}"', '"bittrex_secret_key": "{lc:32}"'],
      invalid: ['BITTREX_API_SECRET={lc:20}', 'secret = "{lc:32}"', 'bittrex_secret: ' + 'x'.repeat(32)],
    },
  },
  {
    id: 'bittrex-access-key', kind: 'bittrex_access_key', severity: 'high',
    description: 'Bittrex API key next to the word bittrex',
    pattern: '[A-Za-z0-9]{32}', near: ['bittrex'], keywords: ['bittrex'], entropy: 3,
    samples: { valid: named('bittrex', '{lc:32}'), invalid: unnamed('bittrex', '{lc:32}', '{lc:20}', 'x'.repeat(32)) },
  },
  {
    id: 'braintree-access-token', kind: 'braintree_access_token', severity: 'critical',
    description: 'Braintree (PayPal) access token (access_token$production$…)',
    pattern: 'access_token\\$(?:production|sandbox)\\$[a-z0-9]{16}(?:\\$[a-f0-9]{32})?', keywords: ['access_token$'], entropy: 2,
    samples: {
      valid: [...bare('access_token$production${lc:16}${hex:32}'), 'braintreeToken := "access_token$sandbox${lc:16}"'],
      invalid: ['access_token$staging${lc:16}', 'access_token$production${lc:8}', 'access_token$sandbox$' + 'x'.repeat(16)],
    },
  },
  {
    id: 'braintree-tokenization-key', kind: 'braintree_tokenization_key', severity: 'medium',
    description: 'Braintree tokenization key (production_…_…)',
    pattern: '(?:production|sandbox)_[a-z0-9]{8}_[a-z0-9]{16}', keywords: ['production_', 'sandbox_'], entropy: 2,
    samples: {
      valid: [...bare('production_{lc:8}_{lc:16}'), 'braintree_key: sandbox_{lc:8}_{lc:16}'],
      invalid: ['development_{lc:8}_{lc:16}', 'production_{lc:8}_{lc:10}', 'sandbox_xxxxxxxx_' + 'x'.repeat(16)],
    },
  },
  {
    id: 'browserstack-access-key', kind: 'browserstack_access_key', severity: 'high',
    description: 'BrowserStack access key (20 characters) next to the word browserstack',
    pattern: '[A-Za-z0-9]{20}', near: ['browserstack'], keywords: ['browserstack'], entropy: 3.5,
    samples: { valid: named('browserstack', '{a62:20}'), invalid: unnamed('browserstack', '{a62:20}', '{a62:12}', 'x'.repeat(20)) },
  },
  {
    id: 'bugsnag-api-key', kind: 'bugsnag_api_key', severity: 'medium',
    description: 'Bugsnag API key (32 hex) next to the word bugsnag',
    pattern: '[a-f0-9]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', near: ['bugsnag'], keywords: ['bugsnag'], entropy: 3,
    samples: { valid: [...named('bugsnag', '{hex:32}'), 'BUGSNAG_API_KEY={uuid}'], invalid: unnamed('bugsnag', '{hex:32}', '{hex:24}', '0'.repeat(32)) },
  },
  {
    id: 'buildkite-api-token', kind: 'buildkite_api_token', severity: 'critical',
    description: 'Buildkite API access token (bkua_…)',
    pattern: 'bkua_[a-z0-9]{40}', keywords: ['bkua_'], entropy: 3,
    samples: { valid: bare('bkua_{hex:40}'), invalid: ['bkua_{hex:30}', `bkua_${'x'.repeat(40)}`, 'bkua_{upper:40}'] },
  },
  {
    id: 'buildkite-legacy-api-token', kind: 'buildkite_api_token', severity: 'critical',
    description: 'Buildkite API access token, unprefixed (40 characters) next to the word buildkite',
    pattern: '[a-z0-9]{40}', near: ['buildkite'], keywords: ['buildkite'], entropy: 3,
    samples: { valid: named('buildkite', '{hex:40}'), invalid: unnamed('buildkite', '{hex:40}', '{hex:32}', '0'.repeat(40)) },
  },
  {
    id: 'calcom-api-key', kind: 'calcom_api_key', severity: 'high',
    description: 'Cal.com API key (cal_live_/cal_test_…)',
    pattern: 'cal_(?:live|test)_[a-f0-9]{32}', keywords: ['cal_live_', 'cal_test_'], entropy: 3,
    samples: { valid: bare('cal_live_{hex:32}'), invalid: ['cal_live_{hex:20}', 'cal_prod_{hex:32}', 'cal_live_{upper:32}'] },
  },
  {
    id: 'castai-api-key', kind: 'castai_api_key', severity: 'critical',
    description: 'CAST AI API key (castai_v1_…)',
    pattern: 'castai_v1_[A-Za-z0-9]{64}_[A-Za-z0-9]{8}', keywords: ['castai_v1_'], entropy: 2,
    samples: { valid: bare('castai_v1_{hex:64}_{hex:8}'), invalid: ['key = test_v1_{hex:64}_{hex:8}', 'castai_v1_{hex:50}_{hex:8}', 'castai_v1_{hex:64}'] },
  },
  {
    id: 'chargebee-access-token', kind: 'chargebee_api_key', severity: 'critical',
    description: 'Chargebee API key (test_/live_…) next to the word chargebee',
    pattern: '(?:test|live)_[A-Za-z0-9]{32,34}', near: ['chargebee'], keywords: ['chargebee'], entropy: 3,
    samples: { valid: named('chargebee', 'live_{lc:32}'), invalid: ['nonMatchingToken := "{lc:32}"', 'chargebee_key = "test_{lc:20}"', 'token = "live_{lc:32}"'] },
  },
  {
    id: 'checkout-secret-key', kind: 'checkout_secret_key', severity: 'critical',
    description: 'Checkout.com secret key (sk_ or sk_test_ and a UUID)',
    pattern: 'sk_(?:test_|sbox_)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}', keywords: ['sk_'], entropy: 3,
    samples: { valid: bare('sk_test_{uuid}'), invalid: ['sk_test_{hex:8}-{hex:4}', 'pk_test_{uuid}', 'sk_{lc:36}'] },
  },
  {
    id: 'chieftools-access-token', kind: 'chieftools_access_token', severity: 'high',
    description: 'Chief Tools access token (cto_…)',
    pattern: 'cto_[A-Za-z0-9]{30,248}', keywords: ['cto_'], entropy: 3,
    samples: { valid: bare('cto_{a62:36}'), invalid: ['cto_{a62:20}', `cto_${'x'.repeat(36)}`, 'xcto_{a62:36}'] },
  },
  {
    id: 'chieftools-pat', kind: 'chieftools_pat', severity: 'high',
    description: 'Chief Tools personal access token (ctp_…)',
    pattern: 'ctp_[A-Za-z0-9]{30,248}', keywords: ['ctp_'], entropy: 3,
    samples: { valid: bare('ctp_{a62:36}'), invalid: ['ctp_{a62:20}', `ctp_${'x'.repeat(36)}`, 'xctp_{a62:36}'] },
  },
  {
    id: 'chieftools-refresh-token', kind: 'chieftools_refresh_token', severity: 'high',
    description: 'Chief Tools refresh token (ctr_…)',
    pattern: 'ctr_[A-Za-z0-9]{30,248}', keywords: ['ctr_'], entropy: 3,
    samples: { valid: bare('ctr_{a62:36}'), invalid: ['ctr_{a62:20}', `ctr_${'x'.repeat(36)}`, 'xctr_{a62:36}'] },
  },
  {
    id: 'circleci-personal-token', kind: 'circleci_personal_token', severity: 'critical',
    description: 'CircleCI personal API token (CCIPAT_…)',
    pattern: 'CCIPAT_[A-Za-z0-9]{22}_[a-f0-9]{40}', keywords: ['ccipat_'], entropy: 3,
    samples: { valid: bare('CCIPAT_{a62:22}_{hex:40}'), invalid: ['CCIPAT_{a62:22}_{hex:30}', 'CCIPAT_{a62:10}_{hex:40}', 'CCIPAT_{a62:22}_{upper:40}'] },
  },
  {
    id: 'circleci-project-token', kind: 'circleci_project_token', severity: 'critical',
    description: 'CircleCI project API token (CCIPRJ_…)',
    pattern: 'CCIPRJ_[A-Za-z0-9]{22}_[a-f0-9]{40}', keywords: ['cciprj_'], entropy: 3,
    samples: { valid: bare('CCIPRJ_{a62:22}_{hex:40}'), invalid: ['CCIPRJ_{a62:22}_{hex:30}', 'CCIPRJ_{a62:10}_{hex:40}', 'CCIPRJ_{a62:22}_{upper:40}'] },
  },
  {
    id: 'circleci-token', kind: 'circleci_token', severity: 'critical',
    description: 'CircleCI API token, unprefixed (40 hex) next to the word circle',
    pattern: '[a-fA-F0-9]{40}', near: ['circle[_.-]?ci', 'circle[_.-]?token', 'circle'], keywords: ['circle'], entropy: 3,
    samples: { valid: [...named('circleci', '{hex:40}'), 'CIRCLE_TOKEN={hex:40}'], invalid: unnamed('circleci', '{hex:40}', '{hex:32}', '0'.repeat(40)) },
  },
  {
    // Clerk's secret keys start like Stripe's (`sk_live_`): the name before them says whose.
    id: 'clerk-secret-key', kind: 'clerk_secret_key', severity: 'critical',
    description: 'Clerk secret key (sk_live_/sk_test_) next to the word clerk',
    pattern: 'sk_(?:live|test)_[A-Za-z0-9]{20,80}', near: ['clerk'], keywords: ['clerk'], entropy: 3.5, priority: PRIORITY_OVER_SHAPE,
    samples: { valid: [...named('clerk', 'sk_live_{a62:42}'), 'CLERK_SECRET_KEY=sk_test_{a62:42}'], invalid: [...unnamed('clerk', 'sk_live_{a62:42}', 'sk_live_{a62:10}'), 'clerk_key = "pk_live_{a62:42}"'] },
  },
  {
    id: 'clarifai-api-key', kind: 'clarifai_api_key', severity: 'high',
    description: 'Clarifai API key or PAT (32 hex) next to the word clarifai',
    pattern: '[a-f0-9]{32}', near: ['clarifai'], keywords: ['clarifai'], entropy: 3,
    samples: { valid: named('clarifai', '{hex:32}'), invalid: unnamed('clarifai', '{hex:32}', '{hex:24}', '0'.repeat(32)) },
  },
  {
    id: 'clearbit-api-key', kind: 'clearbit_api_key', severity: 'high',
    description: 'Clearbit secret API key (sk_…) next to the word clearbit',
    pattern: 'sk_[a-f0-9]{32}', near: ['clearbit'], keywords: ['clearbit'], entropy: 3,
    samples: { valid: named('clearbit', 'sk_{hex:32}'), invalid: unnamed('clearbit', 'sk_{hex:32}', 'sk_{hex:20}', `sk_${'0'.repeat(32)}`) },
  },
  {
    id: 'claude-code-oauth-token', kind: 'claude_code_oauth_token', severity: 'critical',
    description: 'Claude Code OAuth token (sk-ant-oat01-…), a subscription login for CI and IDEs',
    pattern: 'sk-ant-oat01-[A-Za-z0-9_-]{90,120}', keywords: ['sk-ant-oat01-'], entropy: 4,
    samples: {
      valid: [...bare('sk-ant-oat01-{b64u:95}'), 'CLAUDE_CODE_OAUTH_TOKEN="sk-ant-oat01-{b64u:95}"'],
      invalid: ['sk-ant-oat01-{b64u:60}', 'sk-ant-oat02x{b64u:95}', `sk-ant-oat01-${'x'.repeat(95)}`],
    },
  },
  {
    id: 'claude-code-refresh-token', kind: 'claude_code_refresh_token', severity: 'critical',
    description: 'Claude Code OAuth refresh token (sk-ant-ort01-…)',
    pattern: 'sk-ant-ort01-[A-Za-z0-9_-]{90,120}', keywords: ['sk-ant-ort01-'], entropy: 4,
    samples: { valid: bare('sk-ant-ort01-{b64u:95}'), invalid: ['sk-ant-ort01-{b64u:60}', 'sk-ant-ort0{b64u:95}', `sk-ant-ort01-${'x'.repeat(95)}`] },
  },
  {
    id: 'claude-code-session-url', kind: 'claude_code_session_url', severity: 'high',
    description: 'Claude Code session URL (remote control of a running session)',
    pattern: 'https?://claude\\.ai/code/session_[A-Za-z0-9]{16,64}', flags: 'i', keywords: ['claude.ai/code/session_'],
    samples: {
      valid: ['https://claude.ai/code/session_01{a62:16}123456', 'see https://claude.ai/code/session_{a62:24} for context', 'session = "https://CLAUDE.AI/code/session_{a62:24}/"'],
      invalid: ['https://example.com/code/session_{a62:24}', 'https://claude.ai/chat/session_{a62:24}', 'https://claude.ai/code/session_short'],
    },
  },
  {
    id: 'clickhouse-cloud-api-secret-key', kind: 'clickhouse_cloud_api_key', severity: 'critical',
    description: 'ClickHouse Cloud API secret key (4b1d…)',
    pattern: '4b1d[A-Za-z0-9]{38}', keywords: ['4b1d'], entropy: 3,
    samples: { valid: bare('4b1d{a62:38}'), invalid: [`key = 4b1d${'X'.repeat(38)}`, 'key = adf4b1d{a62:38}', '4b1d{a62:30}'] },
  },
  {
    id: 'clickup-personal-token', kind: 'clickup_personal_token', severity: 'high',
    description: 'ClickUp personal API token (pk_<user id>_…)',
    pattern: 'pk_[0-9]{5,12}_[A-Z0-9]{32}', keywords: ['pk_'], entropy: 3,
    samples: { valid: bare('pk_{d:8}_{uc:32}'), invalid: ['pk_{d:8}_{uc:20}', 'pk_{d:8}_{lower:32}', `pk_{d:8}_${'X'.repeat(32)}`] },
  },
  {
    id: 'close-api-key', kind: 'close_api_key', severity: 'high',
    description: 'Close CRM API key (api_…)',
    pattern: 'api_[A-Za-z0-9.]{45}', keywords: ['api_'], entropy: 3.5,
    samples: { valid: bare('api_{a62:22}.{a62:22}'), invalid: ['api_{a62:20}', 'api_key_{a62:45}', 'api_{a62:60}'] },
  },
  {
    id: 'clojars-api-token', kind: 'clojars_api_token', severity: 'high',
    description: 'Clojars deploy token (CLOJARS_…)',
    pattern: 'CLOJARS_[a-z0-9]{60}', flags: 'i', keywords: ['clojars_'], entropy: 2,
    samples: { valid: bare('CLOJARS_{lc:60}'), invalid: ['CLOJARS_{lc:40}', `CLOJARS_${'x'.repeat(60)}`, 'CLOJAR_{lc:60}'] },
  },
  {
    id: 'cloudflare-api-key', kind: 'cloudflare_api_token', severity: 'critical',
    description: 'Cloudflare API token (40 characters) next to the word cloudflare',
    pattern: '[A-Za-z0-9_-]{40}', near: ['cloudflare'], keywords: ['cloudflare'], entropy: 2,
    samples: { valid: [...named('cloudflare', '{b64u:40}'), 'cloudflare: "{a62:40}"'], invalid: unnamed('cloudflare', '{b64u:40}', '{b64u:30}', 'x'.repeat(40)) },
  },
  {
    id: 'cloudflare-global-api-key', kind: 'cloudflare_global_api_key', severity: 'critical',
    description: 'Cloudflare global API key (37 hex) next to the word cloudflare',
    pattern: '[a-fA-F0-9]{37}', near: ['cloudflare'], keywords: ['cloudflare'], entropy: 2,
    samples: { valid: named('cloudflare', '{hex:37}'), invalid: unnamed('cloudflare', '{hex:37}', '{hex:32}', '0'.repeat(37)) },
  },
  {
    id: 'cloudflare-origin-ca-key', kind: 'cloudflare_origin_ca_key', severity: 'critical',
    description: 'Cloudflare Origin CA key (v1.0-…)',
    pattern: 'v1\\.0-[a-f0-9]{24}-[a-f0-9]{146}', keywords: ['v1.0-'], entropy: 2,
    samples: { valid: bare('v1.0-{hex:24}-{hex:146}'), invalid: ['v1.0-{hex:24}-{hex:100}', 'v1.1-{hex:24}-{hex:146}', 'v1.0-{hex:20}-{hex:146}'] },
  },
  {
    id: 'cloudinary-url', kind: 'cloudinary_url', severity: 'high',
    description: 'Cloudinary URL with API key and secret (cloudinary://key:secret@cloud)',
    pattern: 'cloudinary://[0-9]{10,20}:[A-Za-z0-9_-]{20,40}@[A-Za-z0-9_-]{2,64}', keywords: ['cloudinary://'], entropy: 3,
    samples: { valid: bare('cloudinary://{d:15}:{b64u:27}@{lower:8}'), invalid: ['cloudinary://{d:15}:{b64u:8}@{lower:8}', 'cloudinary://{lower:15}:{b64u:27}@{lower:8}', 'cloudinary://{d:15}@{lower:8}'] },
  },
  {
    id: 'cloudsmith-api-key', kind: 'cloudsmith_api_key', severity: 'high',
    description: 'Cloudsmith API key (40 hex) next to the word cloudsmith',
    pattern: '[a-f0-9]{40}', near: ['cloudsmith'], keywords: ['cloudsmith'], entropy: 3,
    samples: { valid: named('cloudsmith', '{hex:40}'), invalid: unnamed('cloudsmith', '{hex:40}', '{hex:32}', '0'.repeat(40)) },
  },
  {
    id: 'codacy-api-token', kind: 'codacy_api_token', severity: 'high',
    description: 'Codacy API or project token (20 characters) next to the word codacy',
    pattern: '[A-Za-z0-9]{20}', near: ['codacy'], keywords: ['codacy'], entropy: 3.3,
    samples: { valid: named('codacy', '{a62:20}'), invalid: unnamed('codacy', '{a62:20}', '{a62:14}', 'x'.repeat(20)) },
  },
  {
    id: 'codeclimate-reporter-id', kind: 'codeclimate_token', severity: 'medium',
    description: 'Code Climate test reporter id or API token next to its name',
    pattern: '[a-f0-9]{64}|[a-f0-9]{40}', near: ['code[_.-]?climate', 'cc[_.-]test[_.-]reporter'], keywords: ['codeclimate', 'code_climate', 'code-climate', 'cc_test_reporter'], entropy: 3,
    samples: { valid: [...named('codeclimate', '{hex:64}'), 'CC_TEST_REPORTER_ID={hex:64}'], invalid: unnamed('codeclimate', '{hex:64}', '{hex:30}', '0'.repeat(64)) },
  },
  {
    id: 'codecov-access-token', kind: 'codecov_token', severity: 'medium',
    description: 'Codecov upload or API token next to the word codecov',
    pattern: '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[A-Za-z0-9]{32}', near: ['codecov'], keywords: ['codecov'], entropy: 3,
    samples: { valid: [...named('codecov', '{lc:32}'), 'CODECOV_TOKEN={uuid}'], invalid: unnamed('codecov', '{lc:32}', '{lc:20}', 'x'.repeat(32)) },
  },
  {
    id: 'cohere-api-token', kind: 'cohere_api_key', severity: 'high',
    description: 'Cohere API key (40 characters) next to the word cohere',
    pattern: '[A-Za-z0-9]{40}', near: ['cohere', 'co_api_key'], keywords: ['cohere', 'co_api_key'], entropy: 4,
    samples: { valid: [...named('cohere', '{a62:40}'), 'CO_API_KEY={a62:40}'], invalid: unnamed('cohere', '{a62:40}', '{a62:30}', 'x'.repeat(40)) },
  },
  {
    id: 'configcat-sdk-key', kind: 'configcat_sdk_key', severity: 'low',
    description: 'ConfigCat SDK key (configcat-sdk-1/…/…)',
    pattern: 'configcat-sdk-1/[A-Za-z0-9_-]{22}/[A-Za-z0-9_-]{22}', keywords: ['configcat-sdk-1/'], entropy: 3.5,
    samples: { valid: bare('configcat-sdk-1/{b64u:22}/{b64u:22}'), invalid: ['configcat-sdk-1/{b64u:22}/{b64u:10}', 'configcat-sdk-2/{b64u:22}/{b64u:22}', 'configcat-sdk-1/{b64u:22}'] },
  },
  {
    id: 'coinbase-access-token', kind: 'coinbase_access_token', severity: 'critical',
    description: 'Coinbase access token (64 characters) next to the word coinbase',
    pattern: '[A-Za-z0-9_-]{64}', near: ['coinbase'], keywords: ['coinbase'], entropy: 3,
    samples: { valid: named('coinbase', '{b64u:64}'), invalid: unnamed('coinbase', '{b64u:64}', '{b64u:40}', 'x'.repeat(64)) },
  },
  {
    id: 'confluent-access-token', kind: 'confluent_api_key', severity: 'medium',
    description: 'Confluent Cloud API key (16 characters) next to the word confluent',
    pattern: '[A-Za-z0-9]{16}', near: ['confluent'], keywords: ['confluent'], entropy: 3,
    samples: { valid: named('confluent', '{uc:16}'), invalid: unnamed('confluent', '{uc:16}', '{uc:10}', 'X'.repeat(16)) },
  },
  {
    id: 'confluent-secret-key', kind: 'confluent_api_secret', severity: 'critical',
    description: 'Confluent Cloud API secret (64 characters) next to the word confluent',
    pattern: '[A-Za-z0-9+/]{64}', near: ['confluent'], keywords: ['confluent'], entropy: 3.5,
    samples: { valid: named('confluent', '{b64:64}'), invalid: unnamed('confluent', '{b64:64}', '{b64:50}', 'x'.repeat(64)) },
  },
  {
    id: 'contentful-delivery-api-token', kind: 'contentful_delivery_token', severity: 'medium',
    description: 'Contentful delivery or preview API token (43 characters) next to the word contentful',
    pattern: '[A-Za-z0-9=_-]{43}', near: ['contentful'], keywords: ['contentful'], entropy: 3,
    samples: { valid: named('contentful', '{b64u:43}'), invalid: unnamed('contentful', '{b64u:43}', '{b64u:30}', 'x'.repeat(43)) },
  },
  {
    id: 'contentful-personal-access-token', kind: 'contentful_pat', severity: 'critical',
    description: 'Contentful management personal access token (CFPAT-…)',
    pattern: 'CFPAT-[A-Za-z0-9_-]{43}', keywords: ['cfpat-'], entropy: 3.5,
    samples: { valid: bare('CFPAT-{b64u:43}'), invalid: ['CFPAT-{b64u:30}', `CFPAT-${'x'.repeat(43)}`, 'CFPAT{b64u:43}'] },
  },
  {
    id: 'courier-api-key', kind: 'courier_api_key', severity: 'high',
    description: 'Courier API key (pk_prod_/pk_test_…)',
    pattern: 'pk_(?:prod|test)_[A-Z0-9]{28}', keywords: ['pk_prod_', 'pk_test_'], entropy: 3,
    samples: { valid: bare('pk_prod_{uc:28}'), invalid: ['pk_prod_{uc:20}', 'pk_prod_{lower:28}', `pk_test_${'X'.repeat(28)}`] },
  },
  {
    id: 'courier-named-api-key', kind: 'courier_api_key', severity: 'high',
    description: 'Courier API key (pk_<environment>_…) next to the word courier',
    pattern: 'pk_[A-Za-z0-9]{1,20}_[A-Za-z0-9]{28}', near: ['courier'], keywords: ['courier'], entropy: 3,
    samples: { valid: named('courier', 'pk_staging_{a62:28}'), invalid: unnamed('courier', 'pk_staging_{a62:28}', 'pk_staging_{a62:20}', '<your-courier-key>') },
  },
  {
    id: 'coveralls-repo-token', kind: 'coveralls_token', severity: 'medium',
    description: 'Coveralls repository or personal token next to the word coveralls',
    pattern: '[A-Za-z0-9_-]{32,40}', near: ['coveralls'], keywords: ['coveralls'], entropy: 3.5,
    samples: { valid: named('coveralls', '{a62:37}'), invalid: unnamed('coveralls', '{a62:37}', '{a62:20}', 'x'.repeat(37)) },
  },
  {
    id: 'crowdin-api-token', kind: 'crowdin_api_token', severity: 'high',
    description: 'Crowdin personal access token (80 characters) next to the word crowdin',
    pattern: '[A-Za-z0-9]{80}', near: ['crowdin'], keywords: ['crowdin'], entropy: 3,
    samples: { valid: named('crowdin', '{hex:80}'), invalid: unnamed('crowdin', '{hex:80}', '{hex:60}', '0'.repeat(80)) },
  },
  {
    id: 'databricks-oauth-secret', kind: 'databricks_oauth_secret', severity: 'critical',
    description: 'Databricks service principal OAuth secret (dose…)',
    pattern: 'dose[a-f0-9]{32}', keywords: ['dose'], entropy: 3,
    samples: { valid: bare('dose{hex:32}'), invalid: ['dose{hex:20}', 'dose{upper:32}', 'overdose{hex:32}'] },
  },
  {
    id: 'datadog-access-token', kind: 'datadog_access_token', severity: 'high',
    description: 'Datadog application key (40 characters) next to the word datadog',
    pattern: '[A-Za-z0-9]{40}', near: ['datadog', 'dd[_.-]?app(?:lication)?[_.-]?key'], keywords: ['datadog', 'dd_app', 'ddapp', 'dd-app', 'dd_application'], entropy: 3,
    samples: { valid: [...named('datadog', '{lc:40}'), 'DD_APP_KEY={hex:40}'], invalid: unnamed('datadog', '{lc:40}', '{lc:30}', 'x'.repeat(40)) },
  },
  {
    id: 'datadog-api-key', kind: 'datadog_api_key', severity: 'high',
    description: 'Datadog API key (32 hex) next to the word datadog',
    pattern: '[a-fA-F0-9]{32}', near: ['datadog', 'dd[_.-]?api[_.-]?key'], keywords: ['datadog', 'dd_api', 'ddapi', 'dd-api'], entropy: 3,
    samples: { valid: [...named('datadog', '{hex:32}'), 'DD_API_KEY={hex:32}'], invalid: unnamed('datadog', '{hex:32}', '{hex:24}', '0'.repeat(32)) },
  },
  {
    id: 'datafactory-shir-token', kind: 'azure_data_factory_shir_key', severity: 'critical',
    description: 'Azure Data Factory self-hosted integration runtime key (IR@…)',
    pattern: 'IR@[0-9A-Za-z-]{36}@[^@\\s]{1,100}@[0-9A-Za-z=-]{0,60}@[A-Za-z0-9+/]{43}=',
    keywords: ['ir@'], entropy: 3,
    samples: {
      valid: [...bare('IR@{uuid}@adf-{lower:6}-001@we@{b64:43}='), 'key: IR@{uuid}@factory{d:2}@eu@{b64:43}='],
      invalid: ['IR@{uuid}@adf@we@{b64:20}=', 'IR@{hex:10}@adf@we@{b64:43}=', 'IX@{uuid}@adf@we@{b64:43}='],
    },
  },
  {
    id: 'deepgram-api-key', kind: 'deepgram_api_key', severity: 'high',
    description: 'Deepgram API key (40 hex) next to the word deepgram',
    pattern: '[a-f0-9]{40}', near: ['deepgram'], keywords: ['deepgram'], entropy: 3,
    samples: { valid: named('deepgram', '{hex:40}'), invalid: unnamed('deepgram', '{hex:40}', '{hex:32}', '0'.repeat(40)) },
  },
  {
    id: 'deepl-api-key', kind: 'deepl_api_key', severity: 'high',
    description: 'DeepL API Free key (a UUID and :fx)',
    pattern: '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:fx', keywords: [':fx'], entropy: 3,
    samples: { valid: bare('{uuid}:fx'), invalid: ['{uuid}:fy', '{hex:8}-{hex:4}:fx', '{uuid}:fxx'] },
  },
  {
    id: 'deepl-pro-api-key', kind: 'deepl_api_key', severity: 'high',
    description: 'DeepL API key (a UUID) next to the word deepl',
    pattern: '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?::fx)?', near: ['deepl'], keywords: ['deepl'], entropy: 3,
    samples: { valid: named('deepl', '{uuid}'), invalid: unnamed('deepl', '{uuid}', '{hex:8}-{hex:4}', '<your-deepl-key>') },
  },
  {
    id: 'deepseek-api-key', kind: 'deepseek_api_key', severity: 'high',
    description: 'DeepSeek API key (sk- and 32 hex) next to the word deepseek',
    pattern: 'sk-[a-f0-9]{32}', near: ['deepseek'], keywords: ['deepseek'], entropy: 3,
    samples: { valid: named('deepseek', 'sk-{hex:32}'), invalid: unnamed('deepseek', 'sk-{hex:32}', 'sk-{hex:24}', `sk-${'0'.repeat(32)}`) },
  },
  {
    id: 'defined-networking-api-token', kind: 'defined_networking_api_token', severity: 'critical',
    description: 'Defined Networking (managed Nebula) API token (dnkey-…)',
    pattern: 'dnkey-[a-z0-9=_-]{26}-[a-z0-9=_-]{52}', flags: 'i', keywords: ['dnkey-'], entropy: 3,
    samples: { valid: bare('dnkey-{uc:26}-{b64u:52}'), invalid: ['dnkey-{uc:26}-{b64u:30}', 'dnkey-{uc:10}-{b64u:52}', 'dnkey{uc:26}{b64u:52}'] },
  },
  {
    id: 'deno-deploy-token', kind: 'deno_deploy_token', severity: 'high',
    description: 'Deno Deploy personal or organization token (ddp_/ddw_…)',
    pattern: 'dd[pw]_[A-Za-z0-9]{36}', keywords: ['ddp_', 'ddw_'], entropy: 3.5,
    samples: { valid: bare('ddp_{a62:36}'), invalid: ['ddp_{a62:20}', 'ddx_{a62:36}', `ddw_${'x'.repeat(36)}`] },
  },
  {
    id: 'dfuse-api-key', kind: 'dfuse_api_key', severity: 'medium',
    description: 'dfuse API key (web_…)',
    pattern: 'web_[a-z0-9]{32}', keywords: ['web_'], entropy: 3,
    samples: { valid: bare('web_{lc:32}'), invalid: ['web_{lc:20}', 'web_{upper:32}', 'web_{lc:40}'] },
  },
  {
    id: 'discord-api-token', kind: 'discord_api_token', severity: 'high',
    description: 'Discord application public key or token (64 hex) next to the word discord',
    pattern: '[a-fA-F0-9]{64}', near: ['discord'], keywords: ['discord'], entropy: 3,
    samples: { valid: named('discord', '{hex:64}'), invalid: unnamed('discord', '{hex:64}', '{hex:40}', '0'.repeat(64)) },
  },
  {
    id: 'discord-bot-token', kind: 'discord_bot_token', severity: 'critical',
    description: 'Discord bot token (base64 user id, timestamp, HMAC)',
    pattern: '[MNO][A-Za-z0-9_-]{23,27}\\.[A-Za-z0-9_-]{6}\\.[A-Za-z0-9_-]{27,38}', keywords: ['discord', 'bot'], entropy: 3.5,
    samples: {
      valid: ['DISCORD_BOT_TOKEN=MT{b64u:24}.{b64u:6}.{b64u:27}', 'discord_token: "OT{b64u:22}.{b64u:6}.{b64u:38}"', 'bot.run("MTE{b64u:23}.{b64u:6}.{b64u:38}")'],
      invalid: ['DISCORD_BOT_TOKEN=MT{b64u:10}.{b64u:6}.{b64u:27}', 'DISCORD_BOT_TOKEN=MT{b64u:24}.{b64u:4}.{b64u:27}', 'DISCORD_BOT_TOKEN=AT{b64u:24}.{b64u:6}.{b64u:27}'],
    },
  },
  {
    id: 'discord-client-id', kind: 'discord_client_id', severity: 'low',
    description: 'Discord client id (18 digits) next to the word discord',
    pattern: '[0-9]{18}', near: ['discord'], keywords: ['discord'], entropy: 2,
    samples: { valid: named('discord', '{d:18}'), invalid: ['discord=000000000000000000', 'id = "{d:18}"', 'discord_id={d:12}'] },
  },
  {
    id: 'discord-client-secret', kind: 'discord_client_secret', severity: 'high',
    description: 'Discord OAuth client secret (32 characters) next to the word discord',
    pattern: '[A-Za-z0-9=_-]{32}', near: ['discord'], keywords: ['discord'], entropy: 2,
    samples: { valid: [...named('discord', '{b64u:32}'), 'discord_client_secret = "{d:32}"'], invalid: ['discord=00000000000000000000000000000000', 'secret = "{b64u:32}"', 'discord_secret={b64u:20}'] },
  },
  {
    id: 'discord-webhook-url', kind: 'discord_webhook', severity: 'medium',
    description: 'Discord webhook URL (lets anyone post to a channel)',
    pattern: 'https://(?:(?:ptb|canary)\\.)?discord(?:app)?\\.com/api/(?:v[0-9]{1,2}/)?webhooks/[0-9]{17,20}/[A-Za-z0-9_-]{60,72}',
    keywords: ['discord.com/api', 'discordapp.com/api'], entropy: 3,
    samples: {
      valid: [...bare('https://discord.com/api/webhooks/{d:19}/{b64u:68}'), 'url: https://discordapp.com/api/webhooks/{d:18}/{b64u:68}'],
      invalid: ['https://discord.com/api/webhooks/{d:19}/{b64u:20}', 'https://discord.com/api/webhooks/{lower:19}/{b64u:68}', 'https://discord.com/api/webhooks/{d:19}'],
    },
  },
  ...dopplerSpecs(),
  {
    id: 'django-insecure-secret-key', kind: 'django_secret_key', severity: 'medium',
    description: 'Django SECRET_KEY as generated by startproject (django-insecure-…), in a string',
    pattern: 'django-insecure-[^"\'\\s]{10,250}', keywords: ['django-insecure-'],
    // Generated keys are random printable characters; runs like 123456 occur and are no placeholder.
    skipPlaceholderCheck: true, validate: (s) => !/x{6,}|\.{3}|your|change/i.test(s.slice(16)),
    samples: {
      valid: ['SECRET_KEY = "django-insecure-{lc:12}123456!%_&*^){lower:8}"', 'SECRET_KEY = \'django-insecure-{lc:30}!@#{a62:15}\'', 'django-insecure-{a62:50}'],
      invalid: ['SECRET_KEY = "django-insecure-xxxxxxxxxxxxxxxx"', 'SECRET_KEY = "django-insecure-"', 'SECRET_KEY = "django-insecure-change-me-please"'],
    },
  },
  {
    id: 'dotenv-vault-key', kind: 'dotenv_vault_key', severity: 'critical',
    description: 'dotenv-vault decryption key (DOTENV_KEY, dotenv://:key_…@dotenv.org)',
    pattern: 'dotenv://:key_[a-f0-9]{64}@dotenv\\.(?:org|local)/vault/\\.env\\.vault\\?environment=[A-Za-z0-9_-]{1,40}', keywords: ['dotenv://:key_'], entropy: 3,
    samples: {
      valid: bare('dotenv://:key_{hex:64}@dotenv.org/vault/.env.vault?environment=production'),
      invalid: ['dotenv://:key_{hex:40}@dotenv.org/vault/.env.vault?environment=production', 'dotenv://:key_{hex:64}@example.org/vault/.env.vault?environment=production', 'dotenv://:key_{upper:64}@dotenv.org/vault/.env.vault?environment=ci'],
    },
  },
  {
    id: 'droneci-access-token', kind: 'droneci_token', severity: 'critical',
    description: 'Drone CI access token (32 characters) next to the word drone',
    pattern: '[A-Za-z0-9]{32}', near: ['drone[_.-]?ci', 'drone[_.-]token'], keywords: ['drone'], entropy: 3,
    samples: { valid: [...named('droneci', '{lc:32}'), 'DRONE_TOKEN={a62:32}'], invalid: unnamed('droneci', '{lc:32}', '{lc:20}', 'x'.repeat(32)) },
  },
  {
    id: 'dropbox-api-token', kind: 'dropbox_api_secret', severity: 'high',
    description: 'Dropbox app key or secret (15 characters) next to the word dropbox',
    pattern: '[A-Za-z0-9]{15}', near: ['dropbox'], keywords: ['dropbox'], entropy: 3,
    samples: { valid: named('dropbox', '{lc:15}'), invalid: unnamed('dropbox', '{lc:15}', '{lc:10}', 'x'.repeat(15)) },
  },
  {
    id: 'dropbox-long-lived-api-token', kind: 'dropbox_long_lived_token', severity: 'critical',
    description: 'Dropbox long-lived access token (ten A in the middle) next to the word dropbox',
    pattern: '[A-Za-z0-9]{11}AAAAAAAAAA[A-Za-z0-9_=-]{43}', near: ['dropbox'], keywords: ['dropbox'],
    // The ten A are the format, not a placeholder: check the random parts instead.
    skipPlaceholderCheck: true, validate: (s) => !/x{6,}|X{6,}/.test(s) && new Set(s.slice(21)).size >= 12,
    samples: {
      valid: named('dropbox', '{lc:11}AAAAAAAAAA{b64u:43}'),
      invalid: ['token = "{lc:11}AAAAAAAAAA{b64u:43}"', 'DROPBOX_TOKEN={lc:11}AAAAAAAAAA{b64u:20}', `dropbox_token: ${'x'.repeat(11)}AAAAAAAAAA${'x'.repeat(43)}`],
    },
  },
  {
    id: 'dropbox-short-lived-api-token', kind: 'dropbox_short_lived_token', severity: 'high',
    description: 'Dropbox short-lived access token (sl.…)',
    pattern: 'sl\\.(?:u\\.)?[A-Za-z0-9_=-]{130,1400}', keywords: ['sl.'], entropy: 4,
    samples: {
      valid: [...bare('sl.{b64u:135}'), 'DROPBOX_ACCESS_TOKEN=sl.u.{b64u:400}'],
      invalid: ['sl.{b64u:60}', `sl.${'x'.repeat(135)}`, 'asl.{b64u:135}'],
    },
  },
  {
    id: 'duffel-api-token', kind: 'duffel_api_token', severity: 'high',
    description: 'Duffel API token (duffel_test_/duffel_live_…)',
    pattern: 'duffel_(?:test|live)_[A-Za-z0-9_=-]{43}', keywords: ['duffel_'], entropy: 2,
    samples: { valid: bare('duffel_live_{b64u:43}'), invalid: ['duffel_prod_{b64u:43}', 'duffel_test_{b64u:30}', `duffel_live_${'x'.repeat(43)}`] },
  },
  {
    id: 'dynatrace-api-token', kind: 'dynatrace_api_token', severity: 'critical',
    description: 'Dynatrace API token (dt0c01.…)',
    pattern: 'dt0c01\\.[A-Za-z0-9]{24}\\.[A-Za-z0-9]{64}', keywords: ['dt0c01.'], entropy: 4,
    samples: { valid: bare('dt0c01.{uc:24}.{uc:64}'), invalid: ['dt0c01.{uc:24}.{uc:40}', 'dt0c02.{uc:24}.{uc:64}', 'dt0c01.{uc:20}.{uc:64}'] },
  },
]

/**
 * Azure keys. Services that issue "identifiable" keys put a fixed signature at a fixed place in the
 * base64 (`AzFu` for Functions, `+ACR` for Container Registry…), which is proof enough on its own.
 */
function azureSpecs(): ProviderSpec[] {
  const identifiable = (id: string, kind: string, service: string, severity: ProviderSpec['severity'], before: number, signature: string, after: string, alphabet: string, sample: string): ProviderSpec => ({
    id, kind, severity,
    description: `Azure ${service} key (identifiable format, ${signature.replace(/\\/g, '')} signature)`,
    pattern: `${alphabet}{${before}}${signature}${after}`,
    keywords: [signature.replace(/\\/g, '').toLowerCase()], keywordInside: true, entropy: 3.5,
    samples: {
      valid: bare(sample),
      invalid: [sample.replace(signature.replace(/\\/g, ''), 'QQQQ'), sample.replace(/^\{(\w+):(\d+)\}/, (_, a: string, n: string) => `{${a}:${Number(n) - 9}}`), `${'x'.repeat(before)}${signature.replace(/\\/g, '')}${'x'.repeat(8)}`],
    },
  })
  return [
    {
      id: 'azure-ai-services-key', kind: 'azure_ai_services_key', severity: 'high',
      description: 'Azure AI services (OpenAI, Cognitive Services) key, 84-character format with the ACOG signature',
      pattern: '[A-Za-z0-9]{52}JQQJ[A-Za-z0-9]{20}ACOG[A-Za-z0-9]{4}(?:[A-Za-z0-9]{2}==)?', keywords: ['acog'], entropy: 3.5,
      samples: { valid: bare('{a62:52}JQQJ99{a62:18}ACOG{a62:4}'), invalid: ['{a62:52}JQQJ99{a62:18}ACOX{a62:4}', '{a62:40}JQQJ99{a62:18}ACOG{a62:4}', '{a62:52}JQQJ99{a62:10}ACOG{a62:4}'] },
    },
    identifiable('azure-apim-key', 'azure_apim_key', 'API Management direct management', 'critical', 76, 'APIM', '[A-Za-z0-9+/]{6}==', '[A-Za-z0-9+/]', '{b64:76}APIM{b64:6}=='),
    {
      id: 'azure-app-configuration-connection-string', kind: 'azure_app_configuration_key', severity: 'high',
      description: 'Azure App Configuration connection string secret',
      pattern: 'Endpoint=https://[A-Za-z0-9-]{1,63}\\.azconfig\\.io;Id=[A-Za-z0-9+/=:-]{4,60};Secret=([A-Za-z0-9+/]{43}=)', group: 1, keywords: ['azconfig.io'], entropy: 4,
      samples: {
        valid: ['Endpoint=https://{lower:8}.azconfig.io;Id={a62:4}-l0-s0:{a62:20};Secret={b64:43}=', 'APP_CONFIG="Endpoint=https://app-{lower:5}.azconfig.io;Id={a62:12};Secret={b64:43}="'],
        invalid: ['Endpoint=https://{lower:8}.azconfig.io;Id={a62:12};Secret={b64:20}=', 'Endpoint=https://{lower:8}.example.io;Id={a62:12};Secret={b64:43}='],
      },
    },
    identifiable('azure-batch-key', 'azure_batch_key', 'Batch account', 'critical', 76, '\\+ABa', '[A-Za-z0-9+/]{6}==', '[A-Za-z0-9+/]', '{b64:76}+ABa{b64:6}=='),
    identifiable('azure-cache-redis-key', 'azure_cache_redis_key', 'Cache for Redis', 'critical', 33, 'AzCa', '[A-Za-z0-9]{6}=', '[A-Za-z0-9]', '{a62:33}AzCa{a62:6}='),
    identifiable('azure-container-registry-key', 'azure_container_registry_key', 'Container Registry', 'critical', 42, '\\+ACR', '[A-Za-z0-9+/]{6}', '[A-Za-z0-9+/]', '{b64:42}+ACR{b64:6}'),
    identifiable('azure-cosmosdb-key', 'azure_cosmosdb_key', 'Cosmos DB', 'critical', 76, 'ACDb', '[A-Za-z0-9+/]{6}==', '[A-Za-z0-9+/]', '{b64:76}ACDb{b64:6}=='),
    {
      id: 'azure-devops-pat', kind: 'azure_devops_pat', severity: 'critical',
      description: 'Azure DevOps personal access token, 84-character format with the AZDO signature',
      pattern: '[A-Za-z0-9]{52}JQQJ[A-Za-z0-9]{20}AZDO[A-Za-z0-9]{4}(?:[A-Za-z0-9]{2}==)?', keywords: ['azdo'], entropy: 3.5,
      samples: { valid: [...bare('{a62:52}JQQJ99{a62:18}AZDO{a62:4}'), 'AZURE_DEVOPS_PAT={a62:52}JQQJ99{a62:18}AZDO{a62:4}{a62:2}=='], invalid: ['{a62:52}JQQJ99{a62:18}AZDX{a62:4}', '{a62:40}JQQJ99{a62:18}AZDO{a62:4}', '{a62:52}JQQJ99{a62:10}AZDO{a62:4}'] },
    },
    {
      id: 'azure-devops-pat-legacy', kind: 'azure_devops_pat', severity: 'critical',
      description: 'Azure DevOps personal access token, 52-character format, next to a name saying azure or devops',
      pattern: '[a-z0-9]{52}', near: ['azure', 'devops', 'ado[_.-]?pat', 'vsts'], keywords: ['azure', 'devops', 'ado_pat', 'adopat', 'ado-pat', 'vsts'], entropy: 3,
      samples: { valid: [...named('azure', '{lc:52}'), 'AZURE_DEVOPS_PAT={lc:52}'], invalid: unnamed('azure', '{lc:52}', '{lc:40}', 'x'.repeat(52)) },
    },
    identifiable('azure-event-grid-key', 'azure_event_grid_key', 'Event Grid', 'critical', 33, 'AZEG', '[A-Za-z0-9+/]{6}=', '[A-Za-z0-9+/]', '{b64:33}AZEG{b64:6}='),
    identifiable('azure-event-hub-key', 'azure_event_hub_key', 'Event Hubs', 'critical', 33, '\\+AEh', '[A-Za-z0-9+/]{6}=', '[A-Za-z0-9+/]', '{b64:33}+AEh{b64:6}='),
    identifiable('azure-function-key', 'azure_function_key', 'Functions', 'critical', 44, 'AzFu', '[A-Za-z0-9_-]{6}==', '[A-Za-z0-9_-]', '{b64u:44}AzFu{b64u:6}=='),
    identifiable('azure-iot-hub-key', 'azure_iot_hub_key', 'IoT Hub', 'critical', 33, 'AIoT', '[A-Za-z0-9+/]{6}=', '[A-Za-z0-9+/]', '{b64:33}AIoT{b64:6}='),
    {
      id: 'azure-openai-api-key', kind: 'azure_openai_key', severity: 'high',
      description: 'Azure OpenAI or Cognitive Services key (32 hex) next to the service name',
      pattern: '[a-fA-F0-9]{32}', near: ['openai\\.azure\\.com', 'azure[_.-]?openai', 'cognitive[_.-]?services?', 'ocp-apim-subscription-key'], keywords: ['openai.azure.com', 'azure_openai', 'azureopenai', 'azure-openai', 'azure.openai', 'cognitive', 'ocp-apim-subscription-key'], entropy: 3,
      samples: { valid: [...named('azureOpenai', '{hex:32}'), 'AZURE_OPENAI_API_KEY={hex:32}', 'Ocp-Apim-Subscription-Key: {hex:32}'], invalid: unnamed('azureOpenai', '{hex:32}', '{hex:24}', '0'.repeat(32)) },
    },
    identifiable('azure-ml-web-service-key', 'azure_ml_web_service_key', 'Machine Learning web service (classic)', 'high', 76, '\\+AMC', '[A-Za-z0-9+/]{6}==', '[A-Za-z0-9+/]', '{b64:76}+AMC{b64:6}=='),
    identifiable('azure-relay-key', 'azure_relay_key', 'Relay', 'critical', 33, '\\+ARm', '[A-Za-z0-9+/]{6}=', '[A-Za-z0-9+/]', '{b64:33}+ARm{b64:6}='),
    identifiable('azure-search-key', 'azure_search_key', 'AI Search admin or query', 'high', 42, 'AzSe', '[A-Za-z0-9]{6}', '[A-Za-z0-9]', '{a62:42}AzSe{a62:6}'),
    identifiable('azure-service-bus-key', 'azure_service_bus_key', 'Service Bus', 'critical', 33, '\\+ASb', '[A-Za-z0-9+/]{6}=', '[A-Za-z0-9+/]', '{b64:33}+ASb{b64:6}='),
    identifiable('azure-storage-identifiable-key', 'azure_storage_key', 'Storage account', 'critical', 76, '\\+ASt', '[A-Za-z0-9+/]{6}==', '[A-Za-z0-9+/]', '{b64:76}+ASt{b64:6}=='),
  ]
}

/** Doppler tokens: `dp.` and a type (personal, service, CLI, service account, SCIM, audit), then 40-44 base62. */
function dopplerSpecs(): ProviderSpec[] {
  // `type` is the literal type; `extra` what may follow it (a service token may name its environment).
  const spec = (id: string, kind: string, type: string, what: string, severity: ProviderSpec['severity'], extra = ''): ProviderSpec => ({
    id, kind, severity, description: `Doppler ${what} (dp.${type}.…)`,
    pattern: `dp\\.${type}${extra}\\.[A-Za-z0-9]{40,44}`, keywords: [`dp.${type}.`], entropy: 3.5,
    samples: {
      valid: bare(`dp.${type}.{a62:43}`),
      invalid: [`dp.${type}.{a62:30}`, `dp.${type}.${'x'.repeat(43)}`, 'dp.zz.{a62:43}'],
    },
  })
  return [
    spec('doppler-api-token', 'doppler_personal_token', 'pt', 'personal token', 'critical'),
    spec('doppler-audit-token', 'doppler_audit_token', 'audit', 'audit token', 'medium'),
    spec('doppler-cli-token', 'doppler_cli_token', 'ct', 'CLI token', 'critical'),
    spec('doppler-scim-token', 'doppler_scim_token', 'scim', 'SCIM token', 'high'),
    spec('doppler-service-account-token', 'doppler_service_account_token', 'sa', 'service account token', 'critical'),
    spec('doppler-service-token', 'doppler_service_token', 'st', 'service token', 'high', '(?:\\.[a-z0-9_-]{2,35})?'),
  ]
}

/** What a person types instead of a key: runs of x, stars, ellipses, angle brackets, the usual words. */
const MADE_UP = /x{4,}|X{4,}|\*{3,}|\.{3}|…|<[^>]*>|your[-_]|example|sample|placeholder|changeme|change_me|redacted|dummy/i

/**
 * A value a person made up rather than a generator. Unlike the scanner's general placeholder check,
 * runs like `123456` or `abcdef` do not count: the values here are already tied to a provider by
 * their prefix or the name before them, and keys written by hand into configuration (and into
 * scanners' own test suites) often hold such runs.
 */
function madeUp(value: string): boolean {
  return /^(.)\1+$/.test(value) || /(.)\1{7,}/.test(value) || MADE_UP.test(value) || isEnvReference(value) || isTemplated(value)
}

/** Replaces the general placeholder check with `madeUp`, keeping a spec's own check. */
function typedValuesAllowed(spec: ProviderSpec): ProviderSpec {
  if (spec.skipPlaceholderCheck === true) return spec
  const own = spec.validate
  return { ...spec, skipPlaceholderCheck: true, validate: (token) => !madeUp(token) && (own === undefined || own(token)) }
}

/** The provider a spec is for: the first word of its id. */
const providerOf = (spec: ProviderSpec): string => spec.id.split('-')[0] ?? spec.id

/**
 * The specs of this group, by provider name. The sort is stable, so that specs of one provider keep
 * their order: where two report the same value at the same place, the first one listed is kept.
 */
export const SPECS: ProviderSpec[] = TABLE.map(typedValuesAllowed).sort((a, b) => providerOf(a).localeCompare(providerOf(b)))

/** One API whose key is a plain random string, recognised by the provider's name before it. */
interface Keyed {
  /** Provider name, lowercase, as written before the key; also the id's and the kind's stem. */
  name: string
  title: string
  /** Other names (regex sources) that may stand before the key. */
  also?: readonly string[]
  pattern: string
  /** A sample key (template) and one of the wrong length. */
  sample: string
  short: string
  severity?: ProviderSpec['severity']
  entropy?: number
}

/** Keyed specs: `<name>-api-key`, kind `<name>_api_key`, high severity unless said. */
function keyed(k: Keyed): ProviderSpec {
  const stem = k.name.replace(/[^a-z0-9]+/g, '')
  return {
    id: `${stem}-api-key`, kind: `${stem}_api_key`, severity: k.severity ?? 'high',
    description: `${k.title} API key next to the name ${k.title}`,
    pattern: k.pattern, near: [k.name.replace(/\./g, '\\.'), ...(k.also ?? [])],
    keywords: [k.name, ...(k.also ?? [])], entropy: k.entropy ?? 3,
    samples: { valid: named(stem, k.sample), invalid: [...unnamed(stem, k.sample, k.short, `<your-${stem}-key>`)] },
  }
}

/** APIs (many of them small) whose keys only their name tells apart. */
function keyedSpecs(): ProviderSpec[] {
  return [
    keyed({ name: 'abbysale', title: 'Abbysale', pattern: '[A-Za-z0-9]{40}', sample: '{a62:40}', short: '{a62:30}', severity: 'medium' }),
    keyed({ name: 'abuseipdb', title: 'AbuseIPDB', pattern: '[a-z0-9]{80}', sample: '{lc:80}', short: '{lc:60}', severity: 'medium' }),
    keyed({ name: 'accuweather', title: 'AccuWeather', pattern: '[A-Za-z0-9%]{32,35}', sample: '{a62:32}', short: '{a62:20}', severity: 'low' }),
    keyed({ name: 'airship', title: 'Airship', pattern: '[A-Za-z0-9]{91}', sample: '{a62:91}', short: '{a62:60}' }),
    keyed({ name: 'airvisual', title: 'AirVisual', pattern: '[a-z0-9-]{36}', sample: '{uuid}', short: '{lc:20}', severity: 'low' }),
    keyed({ name: 'alchemy', title: 'Alchemy', pattern: '[A-Za-z0-9]{23}_[A-Za-z0-9]{8}|[A-Za-z0-9_-]{32}', sample: '{a62:23}_{a62:8}', short: '{a62:20}', entropy: 3.5 }),
    keyed({ name: 'alconost', title: 'Alconost', pattern: '[A-Za-z0-9]{32}', sample: '{a62:32}', short: '{a62:20}', severity: 'medium' }),
    keyed({ name: 'aletheiaapi', title: 'Aletheia API', pattern: '[A-Z0-9]{32}', sample: '{uc:32}', short: '{uc:20}', severity: 'medium' }),
    keyed({ name: 'alienvault', title: 'AlienVault OTX', also: ['otx'], pattern: '[a-z0-9]{64}', sample: '{hex:64}', short: '{hex:40}', severity: 'medium' }),
    keyed({ name: 'allsports', title: 'AllSports', pattern: '[a-z0-9]{64}', sample: '{hex:64}', short: '{hex:40}', severity: 'low' }),
    keyed({ name: 'ambee', title: 'Ambee', pattern: '[a-f0-9]{64}', sample: '{hex:64}', short: '{hex:40}', severity: 'low' }),
    keyed({ name: 'apacta', title: 'Apacta', pattern: '[a-z0-9-]{36}', sample: '{uuid}', short: '{lc:20}', severity: 'medium' }),
    keyed({ name: 'apifonica', title: 'Apifonica', pattern: '[0-9a-z]{11}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}', sample: '{lc:11}-{lc:4}-{lc:4}-{lc:4}-{lc:12}', short: '{lc:11}-{lc:4}', severity: 'medium' }),
    keyed({ name: 'apiscience', title: 'API Science', pattern: '[A-Za-z0-9_-]{22}', sample: '{a62:22}', short: '{a62:15}', severity: 'low' }),
    keyed({ name: 'appfollow', title: 'AppFollow', pattern: '[A-Za-z0-9]{20}', sample: '{a62:20}', short: '{a62:14}', severity: 'medium', entropy: 3.3 }),
    keyed({ name: 'api2cart', title: 'API2Cart', pattern: '[a-f0-9]{32}', sample: '{hex:32}', short: '{hex:20}' }),
    keyed({ name: 'apideck', title: 'Apideck', pattern: '[A-Za-z0-9]{40}', sample: '{a62:40}', short: '{a62:30}' }),
    keyed({ name: 'apollo', title: 'Apollo', pattern: '[A-Za-z0-9]{22}', sample: '{a62:22}', short: '{a62:16}', entropy: 3.5 }),
    keyed({ name: 'appsynergy', title: 'AppSynergy', pattern: '[a-z0-9]{64}', sample: '{lc:64}', short: '{lc:40}', severity: 'medium' }),
    keyed({ name: 'atera', title: 'Atera', pattern: '[a-z0-9]{32}', sample: '{hex:32}', short: '{hex:20}' }),
    keyed({ name: 'audd', title: 'AudD', pattern: '[a-z0-9-]{32}', sample: '{lc:32}', short: '{lc:20}', severity: 'low' }),
    keyed({ name: 'autoklose', title: 'Autoklose', pattern: '[A-Za-z0-9-]{32}', sample: '{a62:32}', short: '{a62:20}', severity: 'medium' }),
    keyed({ name: 'autopilot', title: 'Autopilot', pattern: '[a-f0-9]{32}', sample: '{hex:32}', short: '{hex:20}', severity: 'medium' }),
    keyed({ name: 'avaza', title: 'Avaza', pattern: '[0-9]{1,12}-[a-f0-9]{40}', sample: '{d:6}-{hex:40}', short: '{d:6}-{hex:30}' }),
    keyed({ name: 'aviationstack', title: 'aviationstack', pattern: '[a-z0-9]{32}', sample: '{lc:32}', short: '{lc:20}', severity: 'low' }),
    keyed({ name: 'axonaut', title: 'Axonaut', pattern: '[a-z0-9]{32}', sample: '{lc:32}', short: '{lc:20}', severity: 'medium' }),
    keyed({ name: 'ayrshare', title: 'Ayrshare', pattern: '[A-Z]{7}-[A-Z0-9]{7}-[A-Z0-9]{7}-[A-Z0-9]{7}', sample: '{upper:7}-{uc:7}-{uc:7}-{uc:7}', short: '{upper:7}-{uc:7}-{uc:7}' }),
    keyed({ name: 'baremetrics', title: 'Baremetrics', pattern: '[A-Za-z0-9_]{25}', sample: '{a62:25}', short: '{a62:18}' }),
    keyed({ name: 'bitgo', title: 'BitGo', pattern: '(?:v2x)?[a-f0-9]{64}', sample: '{hex:64}', short: '{hex:50}', severity: 'critical' }),
    keyed({ name: 'blocknative', title: 'Blocknative', pattern: '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', sample: '{uuid}', short: '{hex:8}-{hex:4}-{hex:4}', severity: 'medium' }),
    keyed({ name: 'bscscan', title: 'BscScan', pattern: '[0-9A-Z]{34}', sample: '{uc:34}', short: '{uc:28}', severity: 'low' }),
    keyed({ name: 'coinmarketcap', title: 'CoinMarketCap', also: ['cmc[_-]pro', 'x-cmc'], pattern: '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', sample: '{uuid}', short: '{hex:8}-{hex:4}-{hex:4}', severity: 'medium' }),
    keyed({ name: 'customerio', title: 'Customer.io', also: ['customer[_.-]io'], pattern: '[A-Za-z0-9]{20}', sample: '{a62:20}', short: '{a62:14}', entropy: 3.3 }),
    keyed({ name: 'beebole', title: 'Beebole', pattern: '[a-z0-9]{40}', sample: '{lc:40}', short: '{lc:30}', severity: 'medium' }),
    keyed({ name: 'besttime', title: 'BestTime', pattern: '[A-Za-z0-9_]{36}', sample: '{a62:36}', short: '{a62:24}', severity: 'low' }),
    keyed({ name: 'bitbar', title: 'BitBar', pattern: '[a-z0-9]{32}', sample: '{lc:32}', short: '{lc:20}', severity: 'medium' }),
    keyed({ name: 'bitcoinaverage', title: 'BitcoinAverage', pattern: '[A-Za-z0-9]{43}', sample: '{a62:43}', short: '{a62:30}', severity: 'medium' }),
    keyed({ name: 'bitfinex', title: 'Bitfinex', pattern: '[A-Za-z0-9_-]{43}', sample: '{b64u:43}', short: '{b64u:30}', severity: 'critical' }),
    keyed({ name: 'blablabus', title: 'BlaBlaBus', pattern: '[A-Za-z0-9]{22}', sample: '{a62:22}', short: '{a62:15}', severity: 'low' }),
    keyed({ name: 'blazemeter', title: 'BlazeMeter', also: ['runscope'], pattern: '[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}', sample: '{uuid}', short: '{hex:8}-{hex:4}' }),
    keyed({ name: 'blitapp', title: 'Blitapp', pattern: '[A-Za-z0-9_-]{39}', sample: '{b64u:39}', short: '{b64u:30}', severity: 'medium' }),
    keyed({ name: 'bombbomb', title: 'BombBomb', pattern: '[A-Za-z0-9._-]{704}', sample: '{b64u:704}', short: '{b64u:300}', entropy: 4 }),
    keyed({ name: 'boostnote', title: 'Boost Note', pattern: '[a-f0-9]{64}', sample: '{hex:64}', short: '{hex:40}', severity: 'medium' }),
    keyed({ name: 'borgbase', title: 'BorgBase', pattern: '[A-Za-z0-9/_.-]{148,152}', sample: '{b64u:150}', short: '{b64u:100}', entropy: 4 }),
    keyed({ name: 'brandfetch', title: 'Brandfetch', pattern: '[A-Za-z0-9]{40}', sample: '{a62:40}', short: '{a62:30}', severity: 'low' }),
    keyed({ name: 'browshot', title: 'Browshot', pattern: '[A-Za-z0-9-]{28}', sample: '{a62:28}', short: '{a62:20}', severity: 'low' }),
    keyed({ name: 'buddyns', title: 'BuddyNS', pattern: '[a-z0-9]{40}', sample: '{lc:40}', short: '{lc:30}' }),
    keyed({ name: 'bugherd', title: 'BugHerd', pattern: '[a-z0-9]{22}', sample: '{lc:22}', short: '{lc:16}', severity: 'medium' }),
    keyed({ name: 'bulbul', title: 'Bulbul', pattern: '[a-z0-9]{32}', sample: '{lc:32}', short: '{lc:20}', severity: 'medium' }),
    keyed({ name: 'buttercms', title: 'ButterCMS', pattern: '[a-z0-9]{40}', sample: '{hex:40}', short: '{hex:30}', severity: 'medium' }),
    keyed({ name: 'caflou', title: 'Caflou', pattern: '[A-Za-z0-9._-]{155}', sample: '{a62:155}', short: '{a62:100}', entropy: 4 }),
    keyed({ name: 'calendarific', title: 'Calendarific', pattern: '[a-z0-9]{40}', sample: '{lc:40}', short: '{lc:30}', severity: 'low' }),
    keyed({ name: 'calendly', title: 'Calendly', pattern: '[A-Za-z0-9-]{20}\\.[A-Za-z0-9_-]{100,400}\\.[A-Za-z0-9_-]{43}', sample: 'eyJ{a62:17}.{b64u:171}.{b64u:43}', short: 'eyJ{a62:17}.{b64u:20}.{b64u:43}', entropy: 4 }),
    keyed({ name: 'calorieninja', title: 'CalorieNinjas', also: ['calorieninjas'], pattern: '[A-Za-z0-9]{40}', sample: '{a62:40}', short: '{a62:30}', severity: 'low' }),
    keyed({ name: 'campayn', title: 'Campayn', pattern: '[a-z0-9]{64}', sample: '{lc:64}', short: '{lc:40}', severity: 'medium' }),
    keyed({ name: 'canny', title: 'Canny', pattern: '[a-z0-9]{8}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{12}', sample: '{lc:8}-{lc:4}-{lc:4}-{d:4}-{lc:12}', short: '{lc:8}-{lc:4}', severity: 'medium' }),
    keyed({ name: 'capsulecrm', title: 'Capsule CRM', pattern: '[A-Za-z0-9._+=-]{64}', sample: '{b64u:64}', short: '{b64u:40}' }),
    keyed({ name: 'carboninterface', title: 'Carbon Interface', pattern: '[A-Za-z0-9]{21}', sample: '{a62:21}', short: '{a62:14}', severity: 'low' }),
    keyed({ name: 'centralstation', title: 'CentralStationCRM', pattern: '[a-z0-9]{30}', sample: '{lc:30}', short: '{lc:20}' }),
    keyed({ name: 'chatfuel', title: 'Chatfuel', pattern: '[A-Za-z0-9]{128}', sample: '{a62:128}', short: '{a62:90}' }),
    keyed({ name: 'checkly', title: 'Checkly', also: ['checklyhq'], pattern: '(?:cu_)?[a-z0-9]{32}', sample: '{lc:32}', short: '{lc:20}' }),
    keyed({ name: 'checio', title: 'Checio', pattern: 'pk_[a-z0-9]{45}', sample: 'pk_{lc:45}', short: 'pk_{lc:30}' }),
    keyed({ name: 'cicero', title: 'Cicero', pattern: '[a-z0-9]{40}', sample: '{lc:40}', short: '{lc:30}', severity: 'medium' }),
    keyed({ name: 'cliengo', title: 'Cliengo', pattern: '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', sample: '{uuid}', short: '{hex:8}-{hex:4}', severity: 'medium' }),
    keyed({ name: 'clinchpad', title: 'ClinchPad', pattern: '[a-z0-9]{32}', sample: '{lc:32}', short: '{lc:20}', severity: 'medium' }),
    keyed({ name: 'clockify', title: 'Clockify', pattern: '[A-Za-z0-9]{48}', sample: '{a62:48}', short: '{a62:30}' }),
    keyed({ name: 'cloudimage', title: 'Cloudimage', pattern: '[a-z0-9_]{30}', sample: '{lc:30}', short: '{lc:20}', severity: 'low' }),
    keyed({ name: 'cloudmersive', title: 'Cloudmersive', pattern: '[a-z0-9-]{36}', sample: '{uuid}', short: '{lc:20}', severity: 'medium' }),
    keyed({ name: 'cloudplan', title: 'Cloudplan', pattern: '[A-Z0-9-]{32}', sample: '{uc:32}', short: '{uc:20}', severity: 'medium' }),
    keyed({ name: 'cloverly', title: 'Cloverly', pattern: '[a-z0-9:_]{28}', sample: 'private_key:{lc:16}', short: '{lc:20}', severity: 'medium' }),
    keyed({ name: 'clustdoc', title: 'Clustdoc', pattern: '[A-Za-z0-9]{60}', sample: '{a62:60}', short: '{a62:40}' }),
    keyed({ name: 'coinapi', title: 'CoinAPI', pattern: '[A-Z0-9-]{36}', sample: '{HEX:8}-{HEX:4}-{HEX:4}-{HEX:4}-{HEX:12}', short: '{HEX:8}-{HEX:4}', severity: 'medium' }),
    keyed({ name: 'coinlayer', title: 'coinlayer', pattern: '[a-z0-9]{32}', sample: '{hex:32}', short: '{hex:20}', severity: 'low' }),
    keyed({ name: 'coinlib', title: 'Coinlib', pattern: '[a-z0-9]{16}', sample: '{lc:16}', short: '{lc:10}', severity: 'low' }),
    keyed({ name: 'column', title: 'Column', pattern: '(?:test|live)_[A-Za-z0-9]{27}', sample: 'live_{a62:27}', short: 'live_{a62:20}', severity: 'critical' }),
    keyed({ name: 'commercejs', title: 'Commerce.js', pattern: '[a-z0-9_]{48}', sample: 'sk_{hex:45}', short: '{hex:30}' }),
    keyed({ name: 'commodities', title: 'Commodities-API', pattern: '[A-Za-z0-9]{60}', sample: '{a62:60}', short: '{a62:40}', severity: 'low' }),
    keyed({ name: 'convertkit', title: 'ConvertKit', pattern: '[A-Za-z0-9_]{22}', sample: '{a62:22}', short: '{a62:16}' }),
    keyed({ name: 'convier', title: 'Convier', pattern: '[0-9]{2}\\|[A-Za-z0-9]{40}', sample: '{d:2}|{a62:40}', short: '{d:2}|{a62:20}', severity: 'medium' }),
    keyed({ name: 'countrylayer', title: 'countrylayer', pattern: '[a-z0-9]{32}', sample: '{hex:32}', short: '{hex:20}', severity: 'low' }),
    keyed({ name: 'cryptocompare', title: 'CryptoCompare', pattern: '[a-z0-9-]{64}', sample: '{hex:64}', short: '{hex:40}', severity: 'low' }),
    keyed({ name: 'currencyfreaks', title: 'CurrencyFreaks', pattern: '[a-z0-9]{32}', sample: '{hex:32}', short: '{hex:20}', severity: 'low' }),
    keyed({ name: 'currencylayer', title: 'currencylayer', pattern: '[a-z0-9]{32}', sample: '{hex:32}', short: '{hex:20}', severity: 'low' }),
    keyed({ name: 'currencyscoop', title: 'CurrencyScoop', pattern: '[a-z0-9]{32}', sample: '{hex:32}', short: '{hex:20}', severity: 'low' }),
    keyed({ name: 'currentsapi', title: 'Currents API', pattern: '[A-Za-z0-9_-]{48}', sample: '{b64u:48}', short: '{b64u:30}', severity: 'low' }),
    keyed({ name: 'daily', title: 'Daily', pattern: '[a-f0-9]{64}', sample: '{hex:64}', short: '{hex:40}' }),
    keyed({ name: 'dandelion', title: 'Dandelion', pattern: '[a-z0-9]{32}', sample: '{lc:32}', short: '{lc:20}', severity: 'low' }),
    keyed({ name: 'data.gov', title: 'api.data.gov', also: ['datagov', 'data_gov'], pattern: '[A-Za-z0-9]{40}', sample: '{a62:40}', short: '{a62:30}', severity: 'low' }),
    keyed({ name: 'datafire', title: 'DataFire', pattern: '[A-Za-z0-9._-]{175,190}', sample: '{a62:180}', short: '{a62:120}', entropy: 4 }),
    keyed({ name: 'deepai', title: 'DeepAI', pattern: '[a-z0-9-]{36}', sample: '{uuid}', short: '{lc:20}' }),
    keyed({ name: 'delighted', title: 'Delighted', pattern: '[A-Za-z0-9]{32}', sample: '{a62:32}', short: '{a62:20}' }),
    keyed({ name: 'detectlanguage', title: 'Detect Language', pattern: '[a-z0-9]{32}', sample: '{lc:32}', short: '{lc:20}', severity: 'low' }),
    keyed({ name: 'diffbot', title: 'Diffbot', pattern: '[a-z0-9]{32}', sample: '{lc:32}', short: '{lc:20}', severity: 'medium' }),
    keyed({ name: 'disqus', title: 'Disqus', pattern: '[A-Za-z0-9]{64}', sample: '{a62:64}', short: '{a62:40}', severity: 'medium' }),
    keyed({ name: 'ditto', title: 'Ditto', pattern: '[a-z0-9]{8}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{12}\\.[a-z0-9]{40}', sample: '{uuid}.{hex:40}', short: '{uuid}.{hex:20}' }),
    keyed({ name: 'docparser', title: 'Docparser', pattern: '[a-f0-9]{40}', sample: '{hex:40}', short: '{hex:30}' }),
    keyed({ name: 'dovico', title: 'Dovico', pattern: '[a-z0-9]{32}\\.[a-z0-9]{1,40}', sample: '{lc:32}.{lc:12}', short: '{lc:20}.{lc:12}', severity: 'medium' }),
    keyed({ name: 'dronahq', title: 'DronaHQ', pattern: '[a-z0-9]{50}', sample: '{lc:50}', short: '{lc:30}' }),
    keyed({ name: 'dwolla', title: 'Dwolla', pattern: '[A-Za-z0-9-]{50}', sample: '{a62:50}', short: '{a62:30}', severity: 'critical' }),
    keyed({ name: 'dynalist', title: 'Dynalist', pattern: '[A-Za-z0-9_-]{128}', sample: '{b64u:128}', short: '{b64u:90}', severity: 'medium' }),
    keyed({ name: 'dyspatch', title: 'Dyspatch', pattern: '[A-Z0-9]{52}', sample: '{uc:52}', short: '{uc:40}' }),
  ]
}

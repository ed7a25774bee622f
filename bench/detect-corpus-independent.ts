/**
 * An independent labelled corpus for `leakgate scan`, written without reading the detectors'
 * own generator (control-plane/detect/corpus/): fake credentials made at run time with the
 * structure and checksums their issuers give them, planted the way they turn up in real
 * repositories (source in eight languages, .env, Kubernetes, GitHub Actions, compose, Helm,
 * Postman, notebooks, Terraform, Dockerfiles, INI/properties/TOML, docs, logs, minified
 * bundles, CSV, Maven/.NET XML, SQL dumps), beside hard negatives that sit where secrets would.
 *
 * Labels name the file and the secret's value as a scanner should hash it (decoded where the
 * text encodes it: base64 in docker `auth` and Kubernetes `data` labels the password).
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

/** One planted secret. */
export interface Label {
  file: string
  /** The secret (or, for pairs encoded together, the part that must be among the finding's value). */
  value: string
  /** This corpus's category, for per-kind figures. */
  kind: string
  /** Only git history holds it (not at HEAD). */
  historyOnly?: boolean
}

/** A generated corpus on disk. */
export interface Corpus {
  labels: Label[]
  files: number
  bytes: number
  /** Negative files, by category, for per-category false positives. */
  negativeFiles: Map<string, string>
}

// ---------------------------------------------------------------- randomness

/** mulberry32: a small seeded PRNG, so a run can be reproduced from its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
const HEX = '0123456789abcdef'
const B64 = ALNUM + '+/'
const B64URL = ALNUM + '-_'
const UPPER32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
const BECH32 = 'QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L'

class Gen {
  constructor(readonly r: () => number) {}
  int(n: number): number { return Math.floor(this.r() * n) }
  pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)]! }
  str(alphabet: string, n: number): string {
    let s = ''
    for (let i = 0; i < n; i++) s += alphabet[this.int(alphabet.length)]
    return s
  }
  digits(n: number): string { return String(1 + this.int(9)) + this.str('0123456789', n - 1) }
  bool(p = 0.5): boolean { return this.r() < p }
}

// CRC32 (IEEE), written here so the corpus does not share the detectors' checksum code.
const CRC_TABLE = (() => {
  const t = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    t[n] = c >>> 0
  }
  return t
})()
function crc32(s: string): number {
  let c = 0xffffffff
  for (const b of Buffer.from(s, 'utf8')) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}
function base62(n: number, width: number): string {
  const a = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
  let out = ''
  for (let v = n; v > 0; v = Math.floor(v / 62)) out = a[v % 62]! + out
  return out.padStart(width, '0')
}

// ---------------------------------------------------------------- secrets

/** A secret kind: how to make one, and the names people give it. */
interface Kind {
  kind: string
  make: (g: Gen) => string
  names: string[]
  /** Generic values need a telling name beside them; provider tokens are found by shape anywhere. */
  needsName?: boolean
  /** A provider shape too common to find alone (88 base64 characters): needs its name nearby, not a column header away. */
  contextual?: boolean
  /**
   * Only the provider's name says whose the value is (a Mollie `live_` key, a Paystack `sk_live_` key):
   * planted only where its name is written right before it, as a scanner of such names needs.
   */
  nameOnly?: boolean
}

function checksummed(g: Gen, prefix: string): string {
  const body = g.str(ALNUM, 30)
  return `${prefix}${body}${base62(crc32(body), 6)}`
}

/** A JWT with the given claims and a random HS256-sized signature. */
function jwtWith(g: Gen, claims: Record<string, unknown>): string {
  const enc = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url')
  return `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc(claims)}.${g.str(B64URL, 43)}`
}

const uuid = (g: Gen): string => `${g.str(HEX, 8)}-${g.str(HEX, 4)}-4${g.str(HEX, 3)}-${g.pick(['8', '9', 'a', 'b'])}${g.str(HEX, 3)}-${g.str(HEX, 12)}`

/** A Bedrock long-term key: ABSK and the base64 of `BedrockAPIKey-<id>-at-<account>:<secret>`. */
function bedrockKey(g: Gen): string {
  const inner = `BedrockAPIKey-${g.str('abcdefghijklmnopqrstuvwxyz0123456789', 4)}-at-${g.digits(12)}:${g.str(B64, 40)}`
  return `ABSK${Buffer.from(inner).toString('base64')}`
}

function password(g: Gen): string {
  switch (g.int(4)) {
    case 0: return g.str(ALNUM + '!#%^*-_+=~', 12 + g.int(12))
    case 1: return g.str(ALNUM, 16 + g.int(16))
    // Human-chosen: two capitalised words, digits, a symbol.
    case 2: return g.pick(['Blue', 'Falcon', 'River', 'Maple', 'Orbit', 'Cobalt', 'Winter']) + g.pick(['Tiger', 'Stone', 'Lake', 'Harbor', 'Quartz']) + g.digits(3) + g.pick(['!', '#', '%', '*'])
    default: return g.str(HEX, 32)
  }
}

function jwt(g: Gen): string {
  const enc = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url')
  const header = g.pick([{ alg: 'HS256', typ: 'JWT' }, { alg: 'RS256', typ: 'JWT', kid: g.str(HEX, 16) }, { typ: 'JWT', alg: 'ES256' }])
  const now = 1_700_000_000 + g.int(50_000_000)
  const payload = { sub: g.str(HEX, 24), iss: g.pick(['https://auth.acme.io/', 'api.internal', 'https://login.contoso.net']), aud: g.pick(['web', 'svc-billing']), iat: now, exp: now + 86_400 * 365, scope: 'read write' }
  return `${enc(header)}.${enc(payload)}.${g.str(B64URL, header.alg === 'HS256' ? 43 : 86)}`
}

const KINDS: Kind[] = [
  { kind: 'github_classic', make: (g) => checksummed(g, g.pick(['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'])), names: ['GITHUB_TOKEN', 'GH_TOKEN', 'githubToken', 'gh_pat'] },
  { kind: 'github_fine_grained', make: (g) => `github_pat_${g.str(ALNUM, 22)}_${g.str(ALNUM, 59)}`, names: ['GITHUB_PAT', 'ghToken'] },
  { kind: 'gitlab', make: (g) => `glpat-${g.str(ALNUM + '-_', 20)}`, names: ['GITLAB_TOKEN', 'CI_API_TOKEN', 'gitlabToken'] },
  { kind: 'aws_access_key_id', make: (g) => `AKIA${g.str(UPPER32, 16)}`, names: ['AWS_ACCESS_KEY_ID', 'aws_access_key_id', 'accessKeyId'] },
  { kind: 'stripe_secret', make: (g) => `${g.pick(['sk_live_', 'rk_live_'])}${g.str(ALNUM, g.pick([24, 99]))}`, names: ['STRIPE_SECRET_KEY', 'stripe_api_key', 'stripeKey'] },
  { kind: 'slack_token', make: (g) => g.pick([`xoxb-${g.digits(11)}-${g.digits(13)}-${g.str(ALNUM, 24)}`, `xoxp-${g.digits(11)}-${g.digits(11)}-${g.digits(13)}-${g.str(HEX, 32)}`, `xapp-1-A${g.str('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 10)}-${g.digits(13)}-${g.str(HEX, 64)}`]), names: ['SLACK_BOT_TOKEN', 'slack_token', 'slackToken'] },
  { kind: 'slack_webhook', make: (g) => `https://hooks.slack.com/services/T${g.str('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 8)}/B${g.str('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 10)}/${g.str(ALNUM, 24)}`, names: ['SLACK_WEBHOOK_URL', 'webhook_url', 'alertsWebhook'] },
  { kind: 'google_api_key', make: (g) => `AIza${g.str(ALNUM + '-_', 35)}`, names: ['GOOGLE_API_KEY', 'MAPS_API_KEY', 'firebaseApiKey'] },
  { kind: 'openai', make: (g) => g.pick([`sk-proj-${g.str(B64URL, 74)}T3BlbkFJ${g.str(B64URL, 74)}`, `sk-${g.str(ALNUM, 20)}T3BlbkFJ${g.str(ALNUM, 20)}`, `sk-svcacct-${g.str(B64URL, 74)}T3BlbkFJ${g.str(B64URL, 74)}`]), names: ['OPENAI_API_KEY', 'openai_key', 'openAiKey'] },
  { kind: 'anthropic', make: (g) => `sk-ant-api03-${g.str(B64URL, 93)}AA`, names: ['ANTHROPIC_API_KEY', 'claude_key'] },
  { kind: 'npm', make: (g) => checksummed(g, 'npm_'), names: ['NPM_TOKEN', 'NODE_AUTH_TOKEN'] },
  { kind: 'pypi', make: (g) => `pypi-AgEIcHlwaS5vcmc${g.str(B64URL, 140 + g.int(40))}`, names: ['PYPI_TOKEN', 'TWINE_PASSWORD'] },
  { kind: 'twilio_api_key', make: (g) => `SK${g.str(HEX, 32)}`, names: ['TWILIO_API_KEY', 'twilioApiKey'] },
  { kind: 'sendgrid', make: (g) => `SG.${g.str(B64URL, 22)}.${g.str(B64URL, 43)}`, names: ['SENDGRID_API_KEY', 'sendgridKey'] },
  { kind: 'mailgun', make: (g) => `key-${g.str(HEX, 32)}`, names: ['MAILGUN_API_KEY', 'mailgun_key'] },
  { kind: 'shopify', make: (g) => `${g.pick(['shpat_', 'shpss_', 'shpca_', 'shppa_'])}${g.str(HEX, 32)}`, names: ['SHOPIFY_ACCESS_TOKEN', 'shopify_secret'] },
  { kind: 'huggingface', make: (g) => `hf_${g.str(ALNUM, 34)}`, names: ['HF_TOKEN', 'HUGGINGFACE_HUB_TOKEN'] },
  { kind: 'digitalocean', make: (g) => `${g.pick(['dop_v1_', 'doo_v1_'])}${g.str(HEX, 64)}`, names: ['DIGITALOCEAN_TOKEN', 'do_token'] },
  { kind: 'dockerhub', make: (g) => `dckr_pat_${g.str(B64URL, 27)}`, names: ['DOCKERHUB_TOKEN', 'DOCKER_PASSWORD'] },
  { kind: 'vault', make: (g) => `hvs.${g.str(ALNUM, 24)}`, names: ['VAULT_TOKEN', 'vaultToken'] },
  { kind: 'vault_long', make: (g) => `hvs.CAESI${g.str(B64URL, 86)}`, names: ['VAULT_TOKEN'] },
  { kind: 'databricks', make: (g) => `dapi${g.str(HEX, 32)}`, names: ['DATABRICKS_TOKEN', 'databricks_pat'] },
  { kind: 'azure_client_secret', make: (g) => `${g.str(ALNUM, 3)}${g.int(10)}Q~${g.str(ALNUM + '_~.-', 34)}`, names: ['AZURE_CLIENT_SECRET', 'clientSecret'] },
  { kind: 'azure_storage_key', make: (g) => `${g.str(B64, 86)}==`, names: ['AZURE_STORAGE_KEY', 'storage_account_key'], contextual: true },
  { kind: 'age', make: (g) => `AGE-SECRET-KEY-1${g.str(BECH32, 58)}`, names: ['SOPS_AGE_KEY', 'age_key'] },
  { kind: 'jwt', make: jwt, names: ['ACCESS_TOKEN', 'SERVICE_JWT', 'authToken'] },
  // Formats added after the first version of this corpus, written from the issuers' published layouts.
  { kind: 'aws_bedrock_key', make: bedrockKey, names: ['AWS_BEARER_TOKEN_BEDROCK', 'bedrockApiKey'] },
  { kind: 'atlassian_api_token', make: (g) => `ATATT3xFfGF0${g.str(B64URL, 171)}=${g.str('0123456789ABCDEF', 8)}`, names: ['JIRA_API_TOKEN', 'ATLASSIAN_TOKEN', 'confluenceToken'] },
  { kind: 'azure_storage_identifiable', make: (g) => `${g.str(B64, 76)}+ASt${g.str(B64, 5)}${g.pick(['A', 'Q', 'g', 'w'])}==`, names: ['STORAGE_KEY', 'blobKey'] },
  { kind: 'azure_function_key', make: (g) => `${g.str(B64URL, 44)}AzFu${g.str(B64URL, 5)}${g.pick(['A', 'Q', 'g', 'w'])}==`, names: ['FUNCTION_KEY', 'x_functions_key'] },
  { kind: 'azure_service_bus_key', make: (g) => `${g.str(B64, 33)}+ASb${g.str('ABCDEFGHIJKLMNOP', 1)}${g.str(B64, 5)}=`, names: ['SERVICEBUS_SHARED_ACCESS_KEY', 'sasKey'] },
  { kind: 'akamai_edgegrid', make: (g) => `akab-${g.str('abcdefghijklmnopqrstuvwxyz0123456789', 16)}-${g.str('abcdefghijklmnopqrstuvwxyz0123456789', 16)}`, names: ['client_token', 'AKAMAI_ACCESS_TOKEN'] },
  { kind: 'amazon_mws', make: (g) => `amzn.mws.${uuid(g)}`, names: ['MWS_AUTH_TOKEN', 'mwsAuthToken'] },
  { kind: 'tencent_secret_id', make: (g) => `AKID${g.str(ALNUM, 32)}`, names: ['TENCENTCLOUD_SECRET_ID', 'secretId'] },
  { kind: 'wakatime', make: (g) => `waka_${uuid(g)}`, names: ['WAKATIME_API_KEY'] },
  { kind: 'rootly', make: (g) => `rootly_${g.str(HEX, 64)}`, names: ['ROOTLY_API_TOKEN'] },
  { kind: 'pinecone', make: (g) => `pcsk_${g.str(ALNUM, 6)}_${g.str(ALNUM, 63)}`, names: ['PINECONE_API_KEY', 'pineconeKey'] },
  { kind: 'paystack', make: (g) => `sk_${g.pick(['live', 'test'])}_${g.str(HEX, 40)}`, names: ['PAYSTACK_SECRET_KEY', 'paystack_secret'], nameOnly: true },
  { kind: 'mollie', make: (g) => `${g.pick(['live', 'test'])}_${g.str(ALNUM, 30)}`, names: ['MOLLIE_API_KEY', 'mollieKey'], nameOnly: true },
  { kind: 'twilio_auth_token', make: (g) => g.str(HEX, 32), names: ['TWILIO_AUTH_TOKEN', 'twilioAuthToken'], nameOnly: true },
  { kind: 'monday', make: (g) => jwtWith(g, { tid: 100_000_000 + g.int(800_000_000), aai: 11 + g.int(80), uid: 10_000_000 + g.int(80_000_000), iad: '2024-06-01T09:30:00.000Z', per: 'me:write', actid: 1_000_000 + g.int(8_000_000), rgn: 'use1' }), names: ['MONDAY_API_TOKEN', 'mondayToken'], nameOnly: true },
  { kind: 'supabase_service_role', make: (g) => jwtWith(g, { iss: 'supabase', ref: g.str('abcdefghijklmnopqrstuvwxyz', 20), role: 'service_role', iat: 1_700_000_000 + g.int(40_000_000), exp: 2_000_000_000 + g.int(90_000_000) }), names: ['SUPABASE_SERVICE_ROLE_KEY', 'supabaseServiceKey'], nameOnly: true },
  { kind: 'generic_password', make: password, names: ['DB_PASSWORD', 'db_pass', 'DB_PASS', 'password', 'MYSQL_ROOT_PASSWORD', 'adminPassword', 'SMTP_PASSWORD', 'redisPassword'], needsName: true },
  { kind: 'generic_secret', make: (g) => g.str(g.pick([ALNUM, HEX, B64URL]), 24 + g.int(24)), names: ['api_secret', 'client_secret', 'APP_SECRET', 'SECRET_KEY', 'jwtSecret', 'API_KEY', 'webhook_secret', 'encryption_key', 'signing_secret'], needsName: true },
]

const PROVIDERS = KINDS.filter((k) => k.needsName !== true)
const kindOf = (name: string): Kind => KINDS.find((k) => k.kind === name)!

// ---------------------------------------------------------------- file shapes

interface Planted { kind: string; value: string; name: string }
interface Made { path: string; text: string; labels: Array<{ kind: string; value: string }> }

const camel = (s: string): string => s.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())
const lower = (s: string): string => s.toLowerCase()
const HOSTS = ['db.internal', 'prod-db-1.cluster-c9x.eu-west-1.rds.amazonaws.com', '10.0.3.17', 'mysql.acme.local', 'cache.prod.svc.cluster.local', 'mongo-0.mongo']
const USERS = ['app', 'admin', 'svc_billing', 'deploy', 'postgres', 'root', 'etl_user']

/** A line assigning `p` in one language or format, with the quoting and spacing people use. */
type Shape = (g: Gen, p: Planted) => { path: string; text: string }

const filler = (g: Gen, lang: string): string => {
  const lines: Record<string, string[]> = {
    py: ['import logging', 'from datetime import timedelta', 'log = logging.getLogger(__name__)', 'TIMEOUT = timedelta(seconds=30)', 'def handler(event, context):\n    return {"ok": True}'],
    js: ["import express from 'express'", 'const app = express()', "app.get('/healthz', (req, res) => res.send('ok'))", 'module.exports.retries = 3'],
    go: ['package config', 'import "time"', 'var Timeout = 30 * time.Second', 'func Port() int { return 8080 }'],
  }
  const pool = lines[lang] ?? ['# settings', '']
  return Array.from({ length: 1 + g.int(3) }, () => g.pick(pool)).join('\n')
}

const SHAPES: Record<string, Shape> = {
  python: (g, p) => ({ path: `app/${g.pick(['settings', 'config', 'client', 'tasks'])}.py`, text: `${filler(g, 'py')}\n${g.pick([`${p.name.toUpperCase()} = "${p.value}"`, `${lower(p.name)} = '${p.value}'`, `client = Client(${lower(p.name)}="${p.value}")`, `os.environ.setdefault("${p.name.toUpperCase()}", "${p.value}")`])}\n` }),
  js: (g, p) => ({ path: `src/${g.pick(['config', 'api', 'client'])}.${g.pick(['js', 'ts', 'mjs'])}`, text: `${filler(g, 'js')}\n${g.pick([`const ${camel(p.name)} = '${p.value}';`, `export default {\n  ${camel(p.name)}: "${p.value}",\n  region: 'eu-west-1',\n}`, `export const ${p.name.toUpperCase()} = \`${p.value}\``, `const opts = { ${camel(p.name)}:"${p.value}", retries: 2 }`])}\n` }),
  go: (g, p) => ({ path: `internal/${g.pick(['config', 'auth'])}/${g.pick(['keys', 'client'])}.go`, text: `${filler(g, 'go')}\n${g.pick([`const ${camel(p.name)} = "${p.value}"`, `\t${camel(p.name)} := "${p.value}"`, `var ${camel(p.name)} = \`${p.value}\``])}\n` }),
  java: (g, p) => ({ path: `src/main/java/com/acme/${g.pick(['Config', 'ApiClient'])}.java`, text: `package com.acme;\n\npublic class Config {\n    private static final String ${p.name.toUpperCase()} = "${p.value}";\n}\n` }),
  ruby: (g, p) => ({ path: `config/initializers/${g.pick(['services', 'stripe', 'mail'])}.rb`, text: g.pick([`Rails.application.configure do\n  config.${lower(p.name)} = '${p.value}'\nend\n`, `${p.name.toUpperCase()} = "${p.value}".freeze\n`]) }),
  php: (g, p) => ({ path: g.pick(['wp-config.php', 'config/services.php', 'app/config.php']), text: g.pick([`<?php\ndefine('${p.name.toUpperCase()}', '${p.value}');\n`, `<?php\nreturn [\n    '${lower(p.name)}' => '${p.value}',\n];\n`, `<?php\n$${camel(p.name)} = "${p.value}";\n`]) }),
  csharp: (g, p) => ({ path: `src/Api/${g.pick(['Settings', 'Startup'])}.cs`, text: g.pick([`public static class Settings\n{\n    public const string ${p.name.split('_').map((w) => w[0]! + w.slice(1).toLowerCase()).join('')} = "${p.value}";\n}\n`, `var ${camel(p.name)} = "${p.value}";\n`]) }),
  shell: (g, p) => ({ path: `scripts/${g.pick(['deploy', 'release', 'bootstrap'])}.sh`, text: `#!/usr/bin/env bash\nset -euo pipefail\n${g.pick([`export ${p.name.toUpperCase()}=${p.value}`, `export ${p.name.toUpperCase()}="${p.value}"`, `${p.name.toUpperCase()}='${p.value}' ./bin/run`])}\n` }),
  dotenv: (g, p) => ({ path: g.pick(['.env', '.env.production', 'deploy/.env.local', 'services/api/.env']), text: `NODE_ENV=production\nPORT=3000\n${g.pick([`${p.name.toUpperCase()}=${p.value}`, `${p.name.toUpperCase()}="${p.value}"`, `${p.name.toUpperCase()} = ${p.value}`, `export ${p.name.toUpperCase()}='${p.value}'`])}\nLOG_LEVEL=info\n` }),
  actions: (g, p) => ({ path: `.github/workflows/${g.pick(['ci', 'deploy', 'release'])}.yml`, text: `name: ci\non: [push]\njobs:\n  build:\n    runs-on: ubuntu-latest\n    env:\n      ${p.name.toUpperCase()}: ${g.pick([p.value, `"${p.value}"`])}\n    steps:\n      - uses: actions/checkout@v4\n      - run: npm test\n` }),
  compose: (g, p) => ({ path: 'docker-compose.yml', text: `services:\n  api:\n    image: acme/api:1.4\n    environment:\n      ${g.pick([`- ${p.name.toUpperCase()}=${p.value}`, `${p.name.toUpperCase()}: "${p.value}"`])}\n      - LOG_LEVEL=debug\n` }),
  helm: (g, p) => ({ path: `charts/api/values${g.pick(['', '-prod'])}.yaml`, text: `replicaCount: 2\nimage:\n  repository: acme/api\n  tag: "1.4.2"\nsecrets:\n  ${camel(p.name)}: ${g.pick([p.value, `"${p.value}"`, `'${p.value}'`])}\n` }),
  k8s_env: (g, p) => ({ path: `k8s/${g.pick(['deployment', 'cronjob'])}.yaml`, text: `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n      containers:\n        - name: api\n          env:\n            - name: ${p.name.toUpperCase()}\n              value: ${g.pick([`"${p.value}"`, p.value])}\n` }),
  package_json: (g, p) => ({ path: g.pick(['config/default.json', 'appsettings.json', 'firebase.json']), text: JSON.stringify({ name: 'api', port: 8080, [camel(p.name)]: p.value, features: { beta: false } }, null, 2) + '\n' }),
  postman: (g, p) => ({ path: `postman/${g.pick(['Acme API', 'payments'])}.postman_collection.json`, text: JSON.stringify({ info: { name: 'Acme', schema: 'https://schema.getpostman.com/json/collection/v2.1.0/collection.json' }, item: [{ name: 'list', request: { method: 'GET', header: [{ key: 'Authorization', value: `Bearer ${p.value}`, type: 'text' }], url: { raw: 'https://api.acme.io/v1/items' } } }], variable: [{ key: camel(p.name), value: p.value }] }, null, '\t') + '\n' }),
  notebook: (g, p) => {
    const cells = [
      { cell_type: 'code', execution_count: 1, metadata: {}, outputs: [], source: ['import requests\n', `${lower(p.name)} = "${p.value}"\n`, 'resp = requests.get(URL)'] },
      { cell_type: 'code', execution_count: 2, metadata: {}, outputs: [{ name: 'stdout', output_type: 'stream', text: [`using key ${p.value}\n`] }], source: ['print(f"using key {' + lower(p.name) + '}")'] },
    ]
    return { path: `notebooks/${g.pick(['explore', 'eval', 'Untitled1'])}.ipynb`, text: JSON.stringify({ cells, metadata: { kernelspec: { name: 'python3' } }, nbformat: 4, nbformat_minor: 5 }, null, 1) + '\n' }
  },
  terraform: (g, p) => ({ path: g.pick(['infra/main.tf', 'infra/prod.tfvars', 'terraform.tfvars']), text: g.pick([`provider "acme" {\n  region = "eu-west-1"\n  ${lower(p.name)} = "${p.value}"\n}\n`, `${lower(p.name)} = "${p.value}"\nenvironment = "prod"\n`]) }),
  dockerfile: (g, p) => ({ path: g.pick(['Dockerfile', 'docker/api.Dockerfile']), text: `FROM node:20-alpine\nWORKDIR /app\n${g.pick([`ENV ${p.name.toUpperCase()}=${p.value}`, `ENV ${p.name.toUpperCase()} ${p.value}`, `ARG ${p.name.toUpperCase()}=${p.value}`])}\nCOPY . .\nCMD ["node", "server.js"]\n` }),
  ini: (g, p) => ({ path: g.pick(['config/app.ini', 'setup.cfg', 'config/settings.conf']), text: `[service]\nhost = 0.0.0.0\n${lower(p.name)} = ${p.value}\n` }),
  properties: (g, p) => ({ path: 'src/main/resources/application.properties', text: `server.port=8080\napp.${lower(p.name).replace(/_/g, '.')}=${p.value}\n` }),
  toml: (g, p) => ({ path: g.pick(['config.toml', 'Cargo.config.toml', 'pyproject.toml']), text: `[tool.deploy]\nregion = "eu"\n${lower(p.name)} = "${p.value}"\n` }),
  // A password is not sent as a bearer token; an API key or token is.
  markdown: (g, p) => ({ path: g.pick(['README.md', 'docs/setup.md', 'docs/api.md']), text: `# Getting started\n\nCall the API:\n\n\`\`\`sh\n${g.pick([...(p.kind === 'generic_password' ? [] : [`curl -H "Authorization: Bearer ${p.value}" https://api.acme.io/v1/me`]), `export ${p.name.toUpperCase()}=${p.value}`])}\n\`\`\`\n` }),
  log: (g, p) => ({ path: `logs/${g.pick(['app', 'debug', 'worker'])}.log`, text: `2025-03-02T10:11:12Z INFO starting worker pid=4121\n2025-03-02T10:11:13Z DEBUG config loaded ${lower(p.name)}=${p.value} region=eu-west-1\n2025-03-02T10:11:14Z INFO ready\n` }),
  minified: (g, p) => ({ path: `public/assets/${g.pick(['main', 'vendor', 'app'])}.${g.str(HEX, 8)}.js`, text: `!function(){"use strict";var e=window,t={env:"production",${camel(p.name)}:"${p.value}",retry:3};function n(r){return e.fetch(r)}` + 'var o=[1,2,3].map(function(a){return a*2});'.repeat(40) + 'e.__cfg=t}();\n' }),
  csv: (g, p) => ({ path: `exports/${g.pick(['keys', 'credentials', 'integrations'])}.csv`, text: `id,service,${lower(p.name)},created_at\n1,billing,${p.value},2024-01-02\n2,search,,2024-02-03\n` }),
  maven: (g, p) => ({ path: g.pick(['.m2/settings.xml', 'ci/settings.xml']), text: `<settings>\n  <servers>\n    <server>\n      <id>releases</id>\n      <username>deploy</username>\n      <password>${p.value}</password>\n    </server>\n  </servers>\n</settings>\n` }),
  webconfig: (g, p) => ({ path: 'Web.config', text: `<?xml version="1.0"?>\n<configuration>\n  <appSettings>\n    <add key="${p.name.split('_').map((w) => w[0]! + w.slice(1).toLowerCase()).join('')}" value="${p.value}" />\n  </appSettings>\n</configuration>\n` }),
  sql: (g, p) => ({ path: `db/${g.pick(['dump', 'seed', 'backup-2024'])}.sql`, text: `-- MySQL dump 10.13\nCREATE TABLE integrations (id int, name varchar(64), ${lower(p.name)} varchar(255));\nINSERT INTO integrations (id, name, ${lower(p.name)}) VALUES (1, 'billing', '${p.value}');\n` }),
}

/** Shapes where a value has no telling name beside it, only a column header or a prefix: for provider tokens. */
const PROVIDER_ONLY_SHAPES = new Set(['csv', 'sql', 'log'])
/** Shapes that also drop or move the name (a bearer header, a Maven password, a Postman variable): not for `nameOnly` kinds. */
const NAMELESS_SHAPES = new Set([...PROVIDER_ONLY_SHAPES, 'maven', 'postman', 'markdown'])

/** Secrets that need more than a `name = value` line. */
function structured(g: Gen): Made {
  const user = g.pick(USERS)
  const pw = password(g).replace(/[%#/?@:]/g, 'x')
  const host = g.pick(HOSTS)
  switch (g.int(36)) {
    case 0: { // URL passwords in several schemes
      const scheme = g.pick(['postgres', 'postgresql', 'mysql', 'mongodb+srv', 'redis', 'rediss', 'amqp', 'amqps', 'mssql'])
      const url = scheme === 'redis' && g.bool() ? `redis://:${pw}@${host}:6379/0` : `${scheme}://${user}:${pw}@${host}${scheme.startsWith('mongodb') ? '' : ':' + (5432 + g.int(100))}/${g.pick(['app', 'orders', 'vhost'])}`
      const line = g.pick([`DATABASE_URL=${url}`, `  url: "${url}"`, `engine = create_engine("${url}")`, `spring.rabbitmq.addresses=${url}`, `const client = new MongoClient('${url}');`])
      return { path: g.pick(['.env', 'config/database.yml', 'app/db.py', 'src/db.ts', 'config/application.properties']), text: `# connection\n${line}\n`, labels: [{ kind: `url_password_${scheme.replace(/\W/g, '')}`, value: pw }] }
    }
    case 1: { // JDBC
      const url = g.pick([`jdbc:postgresql://${host}:5432/app?user=${user}&password=${pw}&ssl=true`, `jdbc:mysql://${user}:${pw}@${host}:3306/app`, `jdbc:sqlserver://${host}:1433;databaseName=app;user=${user};password=${pw};encrypt=true`])
      return { path: g.pick(['src/main/resources/application.properties', 'conf/jdbc.properties']), text: `spring.datasource.url=${url}\nspring.jpa.hibernate.ddl-auto=none\n`, labels: [{ kind: 'jdbc_password', value: pw }] }
    }
    case 2: { // ADO.NET / ODBC
      const cs = g.pick([`Server=tcp:${host},1433;Initial Catalog=app;Persist Security Info=False;User ID=${user};Password=${pw};Encrypt=True;`, `Data Source=${host};Initial Catalog=orders;User Id=${user};Password=${pw};`, `Driver={ODBC Driver 18 for SQL Server};Server=${host};Database=app;Uid=${user};Pwd=${pw};`, `Host=${host};Port=5432;Database=app;Username=${user};Password=${pw}`])
      const where = g.int(3)
      const text = where === 0
        ? `<?xml version="1.0"?>\n<configuration>\n  <connectionStrings>\n    <add name="Default" connectionString="${cs}" providerName="System.Data.SqlClient" />\n  </connectionStrings>\n</configuration>\n`
        : where === 1 ? JSON.stringify({ ConnectionStrings: { DefaultConnection: cs }, Logging: { LogLevel: { Default: 'Information' } } }, null, 2) + '\n'
          : `var conn = new SqlConnection("${cs}");\n`
      return { path: where === 0 ? 'Web.config' : where === 1 ? 'appsettings.Production.json' : 'src/Data/Db.cs', text, labels: [{ kind: 'adonet_password', value: pw }] }
    }
    case 3: { // docker config auth
      const pair = `${user}:${pw}`
      const auth = Buffer.from(pair).toString('base64')
      return { path: g.pick(['.docker/config.json', 'ci/docker-config.json']), text: JSON.stringify({ auths: { [g.pick(['https://index.docker.io/v1/', 'ghcr.io', 'registry.acme.io'])]: { auth } } }, null, '\t') + '\n', labels: [{ kind: 'docker_auth', value: pw }] }
    }
    case 4: { // Kubernetes Secret data
      const key = g.pick(['password', 'api-token', 'DB_PASSWORD', 'client-secret'])
      const v = g.bool() ? pw : g.str(ALNUM, 32)
      return { path: `k8s/${g.pick(['secret', 'db-secret', 'app-secrets'])}.yaml`, text: `apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\n  namespace: prod\ntype: Opaque\ndata:\n  username: ${Buffer.from(user).toString('base64')}\n  ${key}: ${Buffer.from(v).toString('base64')}\n`, labels: [{ kind: 'k8s_secret_data', value: v }] }
    }
    case 5: { // PEM in a file
      const body = g.str(B64, 1216)
      const type = g.pick(['RSA PRIVATE KEY', 'PRIVATE KEY', 'EC PRIVATE KEY', 'OPENSSH PRIVATE KEY'])
      const lines = body.match(/.{1,64}/g)!.join('\n')
      return { path: g.pick(['deploy/id_rsa', 'certs/server.key', 'keys/signing.pem']), text: `-----BEGIN ${type}-----\n${lines}\n-----END ${type}-----\n`, labels: [{ kind: 'pem_file', value: body.slice(0, 200) }] }
    }
    case 6: { // PEM escaped in JSON (service account)
      const body = g.str(B64, 1216)
      const pem = `-----BEGIN PRIVATE KEY-----\n${body.match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`
      return { path: g.pick(['gcp-service-account.json', 'config/firebase-adminsdk.json']), text: JSON.stringify({ type: 'service_account', project_id: 'acme-prod', private_key_id: g.str(HEX, 40), private_key: pem, client_email: 'deploy@acme-prod.iam.gserviceaccount.com' }, null, 2) + '\n', labels: [{ kind: 'pem_escaped_json', value: body.slice(0, 200) }] }
    }
    case 7: { // PEM in a YAML block scalar
      const body = g.str(B64, 1216)
      return { path: 'charts/api/values-tls.yaml', text: `tls:\n  enabled: true\n  key: |\n    -----BEGIN RSA PRIVATE KEY-----\n${body.match(/.{1,64}/g)!.map((l) => '    ' + l).join('\n')}\n    -----END RSA PRIVATE KEY-----\n`, labels: [{ kind: 'pem_yaml_block', value: body.slice(0, 200) }] }
    }
    case 8: { // AWS pair
      const id = `AKIA${g.str(UPPER32, 16)}`
      const secret = g.str(B64, 40)
      const text = g.pick([
        `[default]\naws_access_key_id = ${id}\naws_secret_access_key = ${secret}\nregion = eu-west-1\n`,
        `AWS_ACCESS_KEY_ID=${id}\nAWS_SECRET_ACCESS_KEY=${secret}\n`,
        `s3 = boto3.client("s3", aws_access_key_id="${id}", aws_secret_access_key="${secret}")\n`,
        `const s3 = new S3Client({ credentials: { accessKeyId: '${id}', secretAccessKey: '${secret}' } })\n`,
        `provider "aws" {\n  access_key = "${id}"\n  secret_key = "${secret}"\n}\n`,
      ])
      return { path: g.pick(['.aws/credentials', '.env', 'scripts/upload.py', 'src/s3.ts', 'infra/aws.tf']), text, labels: [{ kind: 'aws_access_key_id', value: id }, { kind: 'aws_secret_key', value: secret }] }
    }
    case 9: { // Twilio SID + auth token
      const token = g.str(HEX, 32)
      return { path: g.pick(['sms/send.py', '.env']), text: `TWILIO_ACCOUNT_SID=AC${g.str(HEX, 32)}\nTWILIO_AUTH_TOKEN=${token}\n`, labels: [{ kind: 'twilio_auth_token', value: token }] }
    }
    case 10: { // Azure storage connection string
      const key = `${g.str(B64, 86)}==`
      return { path: g.pick(['local.settings.json', '.env']), text: `AzureWebJobsStorage="DefaultEndpointsProtocol=https;AccountName=acmeprod;AccountKey=${key};EndpointSuffix=core.windows.net"\n`, labels: [{ kind: 'azure_storage_key', value: key }] }
    }
    case 11: { // curl -u and basic auth in docs
      const v = g.str(ALNUM, 20)
      return { path: g.pick(['docs/webhooks.md', 'README.md']), text: `Test it:\n\n    curl -u ${user}:${v} https://api.acme.io/v1/charges\n`, labels: [{ kind: 'curl_user_password', value: v }] }
    }
    case 12: { // .npmrc / .pypirc
      const tok = checksummed(g, 'npm_')
      return g.bool()
        ? { path: '.npmrc', text: `registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=${tok}\n`, labels: [{ kind: 'npm', value: tok }] }
        : ((pypi) => ({ path: '.pypirc', text: `[distutils]\nindex-servers = pypi\n\n[pypi]\nusername = __token__\npassword = ${pypi}\n`, labels: [{ kind: 'pypi', value: pypi }] }))(kindOf('pypi').make(g))
    }
    case 13: { // Rails/Django style secret key
      const v = g.str(HEX, 128)
      return g.bool()
        ? { path: 'config/secrets.yml', text: `production:\n  secret_key_base: ${v}\n`, labels: [{ kind: 'framework_secret_key', value: v }] }
        : { path: 'mysite/settings.py', text: `SECRET_KEY = '${v.slice(0, 50)}'\nDEBUG = False\n`, labels: [{ kind: 'framework_secret_key', value: v.slice(0, 50) }] }
    }
    case 14: { // OAuth client secret in JSON (Google's client_secret.json shape)
      const v = `GOCSPX-${g.str(B64URL, 28)}`
      return { path: 'client_secret.json', text: JSON.stringify({ web: { client_id: `${g.digits(12)}-${g.str('abcdefghijklmnopqrstuvwxyz0123456789', 32)}.apps.googleusercontent.com`, project_id: 'acme', client_secret: v, redirect_uris: ['http://localhost:8080/callback'] } }) + '\n', labels: [{ kind: 'google_oauth_client_secret', value: v }] }
    }
    case 16: { // Ruby hash, Go struct literal, PowerShell secure string, Ansible inventory
      const v = password(g).replace(/["'\\$`]/g, 'Q')
      const shape = g.int(5)
      const [path, text] = [
        ['config/database.rb', `DB = Sequel.connect(adapter: 'postgres', host: '${host}', user: '${user}', :password => '${v}')\n`],
        ['cmd/worker/main.go', `cfg := mysql.Config{\n\tUser:   "${user}",\n\tPasswd: "${v}",\n\tAddr:   "${host}:3306",\n}\n`],
        ['deploy/setup.ps1', `$secpass = ConvertTo-SecureString "${v}" -AsPlainText -Force\n$cred = New-Object System.Management.Automation.PSCredential ("${user}", $secpass)\n`],
        ['inventory/prod.ini', `[db]\n${host} ansible_user=${user} ansible_password=${v} ansible_become_pass=${v}\n`],
        ['src/main/resources/application.yml', `spring:\n  datasource:\n    url: jdbc:postgresql://${host}:5432/app\n    username: ${user}\n    password: ${v}\n`],
      ][shape]!
      return { path: path!, text: text!, labels: [{ kind: ['ruby_hash_password', 'go_struct_password', 'powershell_securestring', 'ansible_password', 'spring_yaml_password'][shape]!, value: v }] }
    }
    case 17: { // credentials inside a git remote URL with a provider token
      const tok = g.bool() ? checksummed(g, 'ghp_') : `glpat-${g.str(ALNUM, 20)}`
      return { path: g.pick(['.git-credentials', 'scripts/mirror.sh', '.gitlab-ci.yml']), text: `git clone https://${g.pick(['oauth2', 'x-access-token', user])}:${tok}@${tok.startsWith('ghp') ? 'github.com' : 'gitlab.com'}/acme/api.git\n`, labels: [{ kind: 'token_in_git_url', value: tok }] }
    }
    case 18: { // JSON API response saved to a fixture file, no marker
      const v = g.str(ALNUM, 40)
      const refresh = g.str(ALNUM, 40)
      return { path: g.pick(['tmp/response.json', 'debug/oauth.json']), text: JSON.stringify({ access_token: v, token_type: 'bearer', expires_in: 3600, refresh_token: refresh, scope: 'repo' }) + '\n', labels: [{ kind: 'oauth_access_token_json', value: v }, { kind: 'oauth_access_token_json', value: refresh }] }
    }
    case 19: { // notebook whose output shows a generic password from a dict repr
      const v = g.str(ALNUM + '!#%', 18)
      const nb = { cells: [{ cell_type: 'code', execution_count: 3, metadata: {}, source: ['conn_params'], outputs: [{ output_type: 'execute_result', execution_count: 3, metadata: {}, data: { 'text/plain': [`{'host': '${host}', 'user': '${user}', 'password': '${v}', 'port': 5432}`] } }] }], metadata: {}, nbformat: 4, nbformat_minor: 5 }
      return { path: 'notebooks/db-check.ipynb', text: JSON.stringify(nb, null, 1) + '\n', labels: [{ kind: 'notebook_output_password', value: v }] }
    }
    case 20: { // percent-encoded password in a URL
      const raw = g.str(ALNUM, 10) + g.pick(['@', '#', '/', ':', '?']) + g.str(ALNUM, 6)
      const enc = encodeURIComponent(raw)
      return { path: g.pick(['.env', 'config/celery.py']), text: `CELERY_BROKER_URL=amqp://${user}:${enc}@${host}:5672//\n`, labels: [{ kind: 'url_password_percent_encoded', value: enc }] }
    }
    case 21: { // YAML secret on the next line of a nested map, .env with an inline comment
      const v = g.str(ALNUM, 28)
      return g.bool()
        ? { path: 'config/app.yaml', text: `smtp:\n  host: smtp.acme.io\n  auth:\n    user: mailer\n    password: "${v}"   # rotated 2024-05\n`, labels: [{ kind: 'yaml_nested_password', value: v }] }
        : { path: '.env', text: `SMTP_PASSWORD=${v} # ask ops before rotating\n`, labels: [{ kind: 'dotenv_inline_comment', value: v }] }
    }
    case 22: { // basic-auth tuples and calls in code
      const v = password(g).replace(/["'\\$`]/g, 'Q')
      const [path, text] = g.pick([
        ['scripts/report.py', `resp = requests.get(URL, auth=("${user}", "${v}"), timeout=10)\n`],
        ['scripts/sync.py', `session.auth = HTTPBasicAuth('${user}', '${v}')\n`],
        ['client/http.go', `req.SetBasicAuth("${user}", "${v}")\n`],
        ['src/Mailer.java', `return new PasswordAuthentication("${user}", "${v}");\n`],
      ] as const)
      return { path, text, labels: [{ kind: 'basic_auth_in_code', value: v }] }
    }
    case 23: { // docker login -p, .pgpass
      const v = password(g).replace(/["'\\$`:]/g, 'Q')
      return g.bool()
        ? { path: g.pick(['.gitlab-ci.yml', 'scripts/push.sh', 'Jenkinsfile']), text: `script:\n  - docker login -u ${user} -p ${v} registry.acme.io\n  - docker push registry.acme.io/api\n`, labels: [{ kind: 'docker_login_p', value: v }] }
        : { path: '.pgpass', text: `${host}:5432:app:${user}:${v}\n`, labels: [{ kind: 'pgpass', value: v }] }
    }
    case 24: { // WordPress salts: punctuation-heavy random strings
      const v = g.str(ALNUM + '!#%^*()-_+=[]{}|;:,.<>~', 64).replace(/'/g, '#')
      return { path: 'wp-config.php', text: `<?php
define( 'AUTH_KEY',         '${v}' );
define( 'DB_HOST', 'localhost' );
`, labels: [{ kind: 'wordpress_salt', value: v }] }
    }
    case 25: { // .env values with $ and = inside, properties with ':' separator
      const v = g.str(ALNUM, 10) + '$' + g.str(ALNUM, 6) + '=='
      return g.bool()
        ? { path: '.env', text: `APP_SECRET=${v}\n`, labels: [{ kind: 'dotenv_dollar_value', value: v }] }
        : { path: 'conf/app.properties', text: `db.url=jdbc:h2:mem:test\ndb.password : ${v}\n`, labels: [{ kind: 'properties_colon', value: v }] }
    }
    // Held-out round: shapes added after the fixes, measured before any further change.
    case 26: { // Gradle, Swift, Rust
      const v = g.str(ALNUM, 24)
      const [path, text, kind] = g.pick([
        ['gradle.properties', `org.gradle.jvmargs=-Xmx2g\nsigning.password=${v}\nossrhPassword=${v}\n`, 'gradle_properties'],
        ['Sources/App/Config.swift', `enum Config {\n    static let apiKey = "${v}"\n}\n`, 'swift_literal'],
        ['src/config.rs', `pub const API_TOKEN: &str = "${v}";\n`, 'rust_const'],
      ] as const)
      return { path, text, labels: [{ kind, value: v }] }
    }
    case 27: { // ASP.NET JWT signing key, Laravel APP_KEY
      const v = g.str(B64, 43) + '='
      return g.bool()
        ? { path: 'appsettings.json', text: JSON.stringify({ Jwt: { Key: v, Issuer: 'https://api.acme.io', Audience: 'acme' } }, null, 2) + '\n', labels: [{ kind: 'aspnet_jwt_key', value: v }] }
        : { path: '.env', text: `APP_NAME=Acme\nAPP_ENV=production\nAPP_KEY=base64:${v}\nAPP_DEBUG=false\n`, labels: [{ kind: 'laravel_app_key', value: v }] }
    }
    case 28: { // SMTP/FTP/HTTPS URLs, MongoDB replica-set host lists
      const [url, kind] = g.pick([
        [`smtp://${user}:${pw}@smtp.gmail.com:587`, 'url_password_smtp'],
        [`ftp://${user}:${pw}@files.acme.io/upload`, 'url_password_ftp'],
        [`https://${user}:${pw}@nexus.acme.internal/repository/npm/`, 'url_password_https'],
        [`mongodb://${user}:${pw}@mongo-0.db:27017,mongo-1.db:27017,mongo-2.db:27017/app?replicaSet=rs0`, 'url_password_mongo_hosts'],
      ] as const)
      return { path: g.pick(['.env', 'config/mail.yml', 'settings.ini']), text: `# ${kind}\nURL=${url}\n`, labels: [{ kind, value: pw }] }
    }
    case 29: { // systemd unit Environment=, XML CDATA
      const v = g.str(ALNUM, 20)
      return g.bool()
        ? { path: 'deploy/api.service', text: `[Service]\nEnvironment="NODE_ENV=production"\nEnvironment="DB_PASSWORD=${v}"\nExecStart=/usr/bin/node server.js\n`, labels: [{ kind: 'systemd_environment', value: v }] }
        : { path: 'conf/server.xml', text: `<datasource>\n  <user>app</user>\n  <password><![CDATA[${v}]]></password>\n</datasource>\n`, labels: [{ kind: 'xml_cdata_password', value: v }] }
    }
    case 30: { // REST-client .http files and API keys in headers
      const v = g.str(HEX, 40)
      return { path: g.pick(['api.http', 'requests/orders.http']), text: `GET https://api.acme.io/v1/orders\nX-Api-Key: ${v}\nAccept: application/json\n`, labels: [{ kind: 'http_file_api_key', value: v }] }
    }
    case 31: { // Kubernetes ConfigMap holding a password by mistake, Helm --set
      const v = g.str(ALNUM, 22)
      return g.bool()
        ? { path: 'k8s/configmap.yaml', text: `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  DB_HOST: db.internal\n  DB_PASSWORD: "${v}"\n`, labels: [{ kind: 'configmap_password', value: v }] }
        : { path: 'scripts/deploy.sh', text: `helm upgrade --install api ./chart --set image.tag=1.4.2 --set db.password=${v}\n`, labels: [{ kind: 'helm_set_password', value: v }] }
    }
    // Second held-out round.
    case 32: { // C #define, Elixir config, YAML anchors
      const v = g.str(ALNUM, 26)
      const [path, text, kind] = g.pick([
        ['firmware/secrets.h', `#pragma once\n#define WIFI_PASSWORD "${v}"\n#define API_KEY "${v}"\n`, 'c_define'],
        ['config/prod.exs', `config :app, App.Repo,\n  username: "app",\n  password: "${v}",\n  hostname: "db"\n`, 'elixir_config'],
        ['docker-compose.override.yml', `x-db: &db\n  POSTGRES_USER: app\n  POSTGRES_PASSWORD: ${v}\nservices:\n  db:\n    environment: *db\n`, 'yaml_anchor'],
      ] as const)
      return { path, text, labels: [{ kind, value: v }] }
    }
    case 33: { // command lines: redis-cli -a, PGPASSWORD= inline, curl --user, netrc written by RUN echo
      const v = g.str(ALNUM, 20)
      const [path, text, kind] = g.pick([
        ['scripts/flush.sh', `redis-cli -h ${host} -a ${v} FLUSHALL\n`, 'redis_cli_a'],
        ['scripts/backup.sh', `PGPASSWORD=${v} pg_dump -h ${host} -U ${user} app > dump.sql\n`, 'pgpassword_inline'],
        ['scripts/check.sh', `curl --user ${user}:${v} https://ci.acme.io/api/json\n`, 'curl_user_long'],
        ['Dockerfile', `FROM alpine\nRUN echo "machine github.com login ${user} password ${v}" > /root/.netrc\n`, 'netrc_echo'],
      ] as const)
      return { path, text, labels: [{ kind, value: v }] }
    }
    case 34: { // Spring/Java properties, GitLab CI variables, quoted-key JS
      const v = g.str(ALNUM + '!#%', 22)
      const [path, text, kind] = g.pick([
        ['src/main/resources/application-prod.properties', `spring.mail.host=smtp.acme.io\nspring.mail.password=${v}\nserver.ssl.key-store-password=${v}\n`, 'spring_properties'],
        ['.gitlab-ci.yml', `variables:\n  DOCKER_DRIVER: overlay2\n  DEPLOY_TOKEN: "${v}"\n`, 'gitlab_ci_variables'],
        ['src/oauth.js', `module.exports = {\n  'client-id': 'acme-web',\n  'client-secret': '${v}',\n}\n`, 'quoted_key_js'],
      ] as const)
      return { path, text, labels: [{ kind, value: v }] }
    }
    case 35: { // Terraform jsonencode, Ruby ENV.fetch default
      const v = g.str(ALNUM, 24)
      return g.bool()
        ? { path: 'infra/secrets.tf', text: `resource "aws_secretsmanager_secret_version" "db" {\n  secret_id     = aws_secretsmanager_secret.db.id\n  secret_string = jsonencode({ username = "app", password = "${v}" })\n}\n`, labels: [{ kind: 'terraform_jsonencode', value: v }] }
        : { path: 'config/initializers/api.rb', text: `API_KEY = ENV.fetch("API_KEY", "${v}")\n`, labels: [{ kind: 'ruby_env_fetch_default', value: v }] }
    }
    default: { // escaped PEM in a code string
      const body = g.str(B64, 880)
      const esc = `-----BEGIN EC PRIVATE KEY-----\\n${body.match(/.{1,64}/g)!.join('\\n')}\\n-----END EC PRIVATE KEY-----\\n`
      return { path: g.pick(['src/jwt.ts', 'app/signing.py', 'internal/sign/key.go']), text: `const signingKey = "${esc}"\n`, labels: [{ kind: 'pem_escaped_code', value: body.slice(0, 200) }] }
    }
  }
}

// ---------------------------------------------------------------- negatives

/** Hard negatives: values where a secret would be, that are not one. Each returns [category, path, text]. */
function negative(g: Gen): [string, string, string] {
  const badGh = (() => { const t = checksummed(g, 'ghp_'); return t.slice(0, -6) + g.str(ALNUM, 6) })()
  const cases: Array<() => [string, string, string]> = [
    () => ['placeholder', '.env.example', `GITHUB_TOKEN=<your-token>\nSTRIPE_SECRET_KEY=sk_live_xxxxxxxxxxxxxxxxxxxxxxxx\nDB_PASSWORD=changeme\nAPI_KEY=\nSECRET_KEY=your-secret-key-here\n`],
    () => ['env_reference', 'src/config.ts', `export const config = {\n  apiKey: process.env.API_KEY,\n  password: process.env.DB_PASSWORD ?? '',\n  token: \`\${process.env.GITHUB_TOKEN}\`,\n}\n`],
    () => ['env_reference', 'app/settings.py', `SECRET_KEY = os.environ["SECRET_KEY"]\nDB_PASSWORD = os.getenv("DB_PASSWORD")\napi_key = settings.API_KEY\n`],
    () => ['templating', 'charts/api/templates/secret.yaml', `apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}\nstringData:\n  password: {{ .Values.db.password | quote }}\n  token: "{{ .Values.token }}"\n`],
    () => ['templating', '.github/workflows/deploy.yml', `env:\n  NPM_TOKEN: \${{ secrets.NPM_TOKEN }}\n  DB_PASSWORD: \${{ secrets.DB_PASSWORD }}\n  AWS_SECRET_ACCESS_KEY: \${{ secrets.AWS_SECRET }}\n`],
    () => ['templating', 'docker-compose.yml', `services:\n  db:\n    environment:\n      POSTGRES_PASSWORD: \${POSTGRES_PASSWORD}\n      DATABASE_URL: postgres://app:\${DB_PASS}@db:5432/app\n`],
    () => ['uuid', 'data/fixtures.json', JSON.stringify({ requestId: crypto.randomUUID(), tenant_id: crypto.randomUUID(), client_id: crypto.randomUUID(), correlation: crypto.randomUUID() }, null, 2)],
    () => ['git_sha', 'CHANGELOG.md', `## 1.4.2\n\n- fix retry (commit ${g.str(HEX, 40)})\n- bump deps ${g.str(HEX, 7)}\n\nRevision: ${g.str(HEX, 40)}\n`],
    () => ['lockfile', 'package-lock.json', JSON.stringify({ name: 'x', lockfileVersion: 3, packages: { 'node_modules/left-pad': { version: '1.3.0', resolved: 'https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz', integrity: `sha512-${Buffer.from(g.str(ALNUM, 64)).toString('base64')}` } } }, null, 2)],
    () => ['lockfile', 'yarn.lock', `left-pad@^1.3.0:\n  version "1.3.0"\n  resolved "https://registry.yarnpkg.com/left-pad/-/left-pad-1.3.0.tgz#${g.str(HEX, 40)}"\n  integrity sha1-${Buffer.from(g.str(HEX, 20)).toString('base64')}\n`],
    () => ['content_hash', 'dist/manifest.json', JSON.stringify({ 'main.js': `main.${g.str(HEX, 20)}.js`, etag: `"${g.str(HEX, 32)}"`, sha256: g.str(HEX, 64), checksum: g.str(HEX, 64) }, null, 2)],
    () => ['base64_image', 'src/styles.css', `.logo { background: url(data:image/png;base64,${g.str(B64, 600)}=); }\n`],
    () => ['doc_example', 'docs/aws.md', `Configure:\n\n    aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n    aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n`],
    () => ['doc_example', 'docs/stripe.md', `\`\`\`sh\ncurl https://api.stripe.com/v1/charges -u sk_test_4eC39HqLyjWDarjtT1zdp7dc:\n\`\`\`\n`],
    () => ['bad_checksum', 'test/tokens.txt', `token: ${badGh}\n`],
    () => ['public_key', 'deploy/authorized_keys', `ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ${g.str(B64, 360)} deploy@ci\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${g.str(B64, 43)} me@laptop\n`],
    () => ['public_key', 'certs/ca.pem', `-----BEGIN CERTIFICATE-----\n${g.str(B64, 1024).match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n-----BEGIN PUBLIC KEY-----\n${g.str(B64, 392).match(/.{1,64}/g)!.join('\n')}\n-----END PUBLIC KEY-----\n`],
    () => ['stripe_publishable', 'src/checkout.js', `const stripe = Stripe('pk_live_${g.str(ALNUM, 24)}');\nconst publishableKey = "pk_test_${g.str(ALNUM, 24)}";\n`],
    () => ['marked_fixture', 'test/auth.test.ts', `// test fixture: not a real token\nconst token = 'ghp_${g.str(ALNUM, 36)}' // gitleaks:allow\nconst password = "${g.str(ALNUM, 16)}" // pragma: allowlist secret\n`],
    () => ['identifier', 'src/ids.ts', `export const TRACKING_ID = 'UA-${g.digits(8)}-1'\nconst sessionKeyName = 'sid'\nconst tokenType = 'Bearer'\nconst passwordField = 'password'\nconst cacheKey = \`user:\${id}\`\n`],
    () => ['i18n', 'locales/en.json', JSON.stringify({ password_label: 'Enter your password', token_expired: 'Your session token has expired', secret_hint: 'Keep your secret key safe', api_key_help: 'Find your API key in Settings → Developer' }, null, 2)],
    () => ['i18n', 'locales/de.yml', `de:\n  password: "Passwort"\n  forgot_password: "Passwort vergessen?"\n  token: "Zugangstoken"\n  secret: "Geheimnis"\n`],
    () => ['code_reference', 'src/auth.go', `func login(password string) error {\n\ttoken := generateToken(user.ID)\n\tsecret := cfg.Secret\n\treturn verify(password, user.PasswordHash)\n}\n`],
    () => ['code_reference', 'app/Auth.java', `String password = request.getParameter("password");\nchar[] secret = keyStore.getKey(alias, password.toCharArray());\nthis.apiKey = apiKey;\n`],
    () => ['password_hash', 'db/users.sql', `INSERT INTO users (email, password_hash) VALUES ('a@b.c', '$2b$12$${g.str(ALNUM + './', 53)}');\n`],
    () => ['random_id', 'data/orders.csv', `order_id,customer,stripe_charge\n1,cus_${g.str(ALNUM, 14)},ch_${g.str(ALNUM, 24)}\n2,cus_${g.str(ALNUM, 14)},pi_${g.str(ALNUM, 24)}\n`],
    () => ['url_no_password', '.env.example', `DATABASE_URL=postgres://user:password@localhost:5432/app\nREDIS_URL=redis://localhost:6379\nAMQP_URL=amqp://guest:guest@localhost:5672/\n`],
    () => ['ansible_vault', 'group_vars/prod.yml', `db_password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  ${g.str(HEX, 64)}\n  ${g.str(HEX, 64)}\n  ${g.str(HEX, 64)}\n`],
    () => ['sops', 'secrets/prod.enc.yaml', `db_password: ENC[AES256_GCM,data:${g.str(B64, 24)}=,iv:${g.str(B64, 43)}=,tag:${g.str(B64, 22)}==,type:str]\napi_token: ENC[AES256_GCM,data:${g.str(B64, 40)},iv:${g.str(B64, 43)}=,tag:${g.str(B64, 22)}==,type:str]\nsops:\n  age:\n    - recipient: age1${g.str('qpzry9x8gf2tvdw0s3jn54khce6mua7l', 58)}\n`],
    () => ['sealed_secret', 'k8s/sealed.yaml', `apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: db\nspec:\n  encryptedData:\n    password: Ag${g.str(B64, 600)}==\n    api-token: Ag${g.str(B64, 600)}==\n`],
    () => ['terraform_reference', 'infra/db.tf', `resource "aws_db_instance" "main" {\n  username = "app"\n  password = var.db_password\n  master_password = random_password.db.result\n  kms_key_id = aws_kms_key.db.arn\n}\n`],
    () => ['code_reference', 'app/models.py', `class Settings(BaseSettings):\n    password: SecretStr = Field(..., min_length=12)\n    api_key: str | None = None\n    SECRET_KEY = get_random_secret_key()\n`],
    () => ['code_reference', 'internal/user.go', 'type User struct {\n\tPassword string `json:"password" db:"password_hash"`\n\tAPIKey   string `json:"api_key,omitempty"`\n}\n'],
    () => ['config_policy', 'config/security.yml', `password_min_length: 12\npassword_require_symbols: true\ntoken_lifetime: 3600\napi_key_header: X-API-Key\nsecret_name: prod/db/password\nsecret_arn: arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf\n`],
    () => ['empty_connection', 'appsettings.Development.json', JSON.stringify({ ConnectionStrings: { Default: 'Server=(localdb)\\\\mssqllocaldb;Database=app;Trusted_Connection=True;', Other: 'Server=db;Database=app;User Id=sa;Password=${SA_PASSWORD};' } }, null, 2)],
    () => ['sourcemap', 'dist/main.js.map', JSON.stringify({ version: 3, sources: ['src/index.ts'], names: ['apiKey', 'token', 'password'], mappings: Array.from({ length: 60 }, () => g.str('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', 4 + g.int(4))).join(',') + ';' }) + '\n'],
    () => ['csrf_nonce', 'templates/base.html', `<meta name="csrf-token" content="${g.str(B64URL, 40)}">\n<script nonce="${g.str(B64, 22)}==">init()</script>\n`],
    () => ['public_ids', 'src/firebase-config.js', `export const firebaseConfig = {\n  authDomain: "acme-prod.firebaseapp.com",\n  projectId: "acme-prod",\n  appId: "1:${g.digits(12)}:web:${g.str(HEX, 22)}",\n  measurementId: "G-${g.str('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 10)}",\n}\nconst clientId = "${g.digits(12)}-${g.str('abcdefghijklmnopqrstuvwxyz0123456789', 32)}.apps.googleusercontent.com"\n`],
    () => ['git_urls', '.gitmodules', `[submodule "vendor/lib"]\n\tpath = vendor/lib\n\turl = https://github.com/acme/lib.git\n[submodule "tools"]\n\turl = git@github.com:acme/tools.git\n`],
    () => ['sentry_dsn', 'src/sentry.ts', `Sentry.init({ dsn: "https://${g.str(HEX, 32)}@o${g.digits(6)}.ingest.sentry.io/${g.digits(7)}" })\n`],
    () => ['docs_placeholder', 'docs/auth.md', `Set your token:\n\n    export GITHUB_TOKEN=ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\n    curl -H "Authorization: Bearer $GITHUB_TOKEN" https://api.github.com/user\n    curl -u "$USER:$PASSWORD" https://api.acme.io\n    mysql -u root -p\n`],
    () => ['k8s_weak_placeholder', 'k8s/dev-secret.yaml', `apiVersion: v1\nkind: Secret\nmetadata:\n  name: dev\ndata:\n  password: ${Buffer.from('changeme').toString('base64')}\n  username: ${Buffer.from('admin').toString('base64')}\n  host: ${Buffer.from('postgres.default.svc').toString('base64')}\n`],
    () => ['empty_or_null', 'config/app.yml', `password: ""\ntoken: null\nsecret: false\napi_key: ~\nclient_secret: ''\n`],
    () => ['secret_ref', 'k8s/deploy.yaml', `env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef:\n        name: db\n        key: password\n  - name: API_TOKEN_FILE\n    value: /run/secrets/api_token\n`],
    () => ['secret_ref', 'docker-compose.yml', `services:\n  db:\n    environment:\n      POSTGRES_PASSWORD_FILE: /run/secrets/db_password\n    secrets:\n      - db_password\nsecrets:\n  db_password:\n    file: ./db_password.txt\n`],
    () => ['ansible_template', 'roles/db/vars/main.yml', `db_password: "{{ vault_db_password }}"\napi_token: "{{ lookup('env', 'API_TOKEN') }}"\n`],
    () => ['regex_policy', 'src/validation.ts', `export const passwordRegex = /^(?=.*[A-Z])(?=.*\\d).{12,}$/\nconst PASSWORD_PATTERN = "^(?=.*[a-z])(?=.*[A-Z]).{8,}$"\nconst tokenPrefix = "ghp_"\n`],
    () => ['checksums', 'SHA256SUMS', Array.from({ length: 4 }, (_, i) => `${g.str(HEX, 64)}  leakgate-${i}.tar.gz`).join('\n') + '\n'],
    () => ['snapshot', '__snapshots__/app.test.ts.snap', `exports[\`renders 1\`] = \`"<div data-hash=\\"${g.str(HEX, 32)}\\" class=\\"css-${g.str('abcdefghijklmnopqrstuvwxyz0123456789', 6)}\\">"\`;\n`],
    () => ['aws_ids', 'infra/iam.json', JSON.stringify({ Role: `arn:aws:iam::${g.digits(12)}:role/deploy`, AccountId: g.digits(12), KmsKeyId: crypto.randomUUID() }, null, 2)],
    () => ['doc_example', 'docs/jwt.md', 'Example token:\n\n    eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c\n'],
    () => ['doc_example', 'docs/slack.md', 'SLACK_BOT_TOKEN=xoxb-not-a-real-token-this-will-not-work\nTWILIO_ACCOUNT_SID=ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\nTWILIO_AUTH_TOKEN=your_auth_token\n'],
    () => ['npmrc_reference', '.npmrc', '//registry.npmjs.org/:_authToken=${NPM_TOKEN}\nalways-auth=true\n'],
    () => ['http_file_variable', 'api.http', '@token = {{$dotenv API_TOKEN}}\nGET https://api.acme.io/v1/me\nAuthorization: Bearer {{token}}\nX-Api-Key: {{apiKey}}\n'],
    () => ['code_reference', 'app/src/main/java/com/acme/Api.kt', 'val password = BuildConfig.DB_PASSWORD\nval apiKey: String = System.getenv("API_KEY") ?: ""\n'],
    () => ['terraform_reference', 'infra/app.tf', 'resource "aws_ecs_task_definition" "api" {\n  container_definitions = jsonencode([{ secrets = [{ name = "DB_PASSWORD", valueFrom = aws_secretsmanager_secret.db.arn }] }])\n}\nlocals {\n  db_password = data.aws_secretsmanager_secret_version.db.secret_string\n}\n'],
    () => ['lockfile', 'Cargo.lock', `[[package]]\nname = "serde"\nversion = "1.0.197"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\nchecksum = "${g.str(HEX, 64)}"\n`],
    () => ['lockfile', 'go.sum', `github.com/acme/lib v1.2.3 h1:${g.str(B64, 43)}=\ngithub.com/acme/lib v1.2.3/go.mod h1:${g.str(B64, 43)}=\n`],
    () => ['lockfile', 'poetry.lock', `[[package]]\nname = "requests"\nfiles = [\n    {file = "requests-2.31.0.tar.gz", hash = "sha256:${g.str(HEX, 64)}"},\n]\n`],
    () => ['image_digest', 'k8s/api.yaml', `spec:\n  containers:\n    - name: api\n      image: ghcr.io/acme/api@sha256:${g.str(HEX, 64)}\n`],
    () => ['masked', 'config/app.yml', 'password: "********"\napi_key: "sk-...abcd"\ntoken: "[REDACTED]"\n'],
    () => ['openapi', 'openapi.yaml', 'components:\n  securitySchemes:\n    api_key:\n      type: apiKey\n      name: X-API-Key\n      in: header\n    bearer_token:\n      type: http\n      scheme: bearer\n      bearerFormat: JWT\n'],
    () => ['html_form', 'templates/login.html', '<form method="post">\n  <input type="password" name="password" value="" autocomplete="current-password">\n  <input type="hidden" name="reset_password_token_invalid" value="1">\n</form>\n'],
    () => ['css', 'src/theme.css', `:root { --primary: #${g.str(HEX, 6)}; --token-bg: #${g.str(HEX, 6)}; }\n.secret-banner { color: #${g.str(HEX, 6)}; }\n`],
    () => ['code_reference', 'src/client.js', 'const header = "Bearer " + getToken()\nconst opts = { secretOrKey: process.env.JWT_SECRET, passReqToCallback: true }\n'],
    () => ['shell_pwd', 'scripts/build.sh', 'cd "$(pwd)/build"\nPWD=/home/app\nOLDPWD=$PWD\npassword_file=/etc/app/password\n'],
    () => ['config_policy', 'config/crypto.env', 'KEY_LENGTH=32\nSECRET_LENGTH=64\nTOKEN_TTL_SECONDS=3600\napi_key_id=1042\npassword_hash_algorithm=argon2id\n'],
    () => ['ml_config', 'model/config.json', JSON.stringify({ tokenizer: 'wordpiece', tokenizer_class: 'BertTokenizer', pad_token: '[PAD]', secret_sauce: false, max_token_length: 512 }, null, 2)],
    () => ['prose', 'docs/install.md', 'Set `password` to your database password and `api_key` to the key from the dashboard.\nThe token: it expires after one hour.\nPassword: must be 12 characters or more.\n'],
    () => ['gitignore', '.gitignore', 'node_modules/\n.env\nsecrets.env\n*.pem\ncredentials.json\n'],
    () => ['masked', 'logs/app.log', `2025-01-01 INFO token=ghp_****************************abcd password=******** key=sk_live_…\n`],
  ]
  return g.pick(cases)()
}

// ---------------------------------------------------------------- writing

function write(root: string, path: string, text: string): string {
  const full = join(root, path)
  mkdirSync(dirname(full), { recursive: true })
  writeFileSync(full, text)
  return path
}

/** One positive file: a provider token or a named generic secret in some format, or a structured secret. */
function positive(g: Gen): Made {
  if (g.bool(0.3)) return structured(g)
  const kind = g.bool(0.7) ? g.pick(PROVIDERS) : g.pick(KINDS.filter((k) => k.needsName === true))
  const names = Object.keys(SHAPES).filter((s) => kind.nameOnly === true ? !NAMELESS_SHAPES.has(s) : (kind.needsName !== true && kind.contextual !== true) || !PROVIDER_ONLY_SHAPES.has(s))
  const shape = g.pick(names)
  const value = kind.make(g)
  let name = g.pick(kind.names)
  // Maven settings hold passwords; web.config appSettings keys are CamelCase words.
  if (shape === 'maven') name = 'password'
  const out = SHAPES[shape]!(g, { kind: kind.kind, value, name })
  return { ...out, labels: [{ kind: kind.kind, value }] }
}

/**
 * Writes `positives` files holding planted secrets and `negatives` files holding only hard
 * negatives into `root`, each in its own directory (paths repeat).
 */
export function writeCorpus(root: string, options: { seed: number; positives: number; negatives: number }): Corpus {
  const g = new Gen(rng(options.seed))
  const labels: Label[] = []
  const negativeFiles = new Map<string, string>()
  let bytes = 0
  for (let i = 0; i < options.positives; i++) {
    const made = positive(g)
    const path = write(root, `p${i}/${made.path}`, made.text)
    bytes += Buffer.byteLength(made.text)
    for (const l of made.labels) labels.push({ file: path, value: l.value, kind: l.kind })
  }
  for (let i = 0; i < options.negatives; i++) {
    const [category, p, text] = negative(g)
    const path = write(root, `n${i}/${p}`, text)
    negativeFiles.set(path, category)
    bytes += Buffer.byteLength(text)
  }
  return { labels, files: options.positives + options.negatives, bytes, negativeFiles }
}

// ---------------------------------------------------------------- history

function gitIn(cwd: string, args: string[], input?: string): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', input, env: { ...process.env, GIT_AUTHOR_NAME: 'Dev', GIT_AUTHOR_EMAIL: 'dev@acme.io', GIT_COMMITTER_NAME: 'Dev', GIT_COMMITTER_EMAIL: 'dev@acme.io' } })
}

/**
 * A git repository whose history holds secrets HEAD does not: added then removed, in files
 * later deleted, on branches never merged, on a tag whose branch is gone, in commit messages.
 * A few secrets stay at HEAD (labelled, not history-only). Negatives are committed too.
 */
export function writeHistoryRepo(root: string, options: { seed: number; rounds: number }): { labels: Label[]; commits: number } {
  const g = new Gen(rng(options.seed))
  rmSync(root, { recursive: true, force: true })
  mkdirSync(root, { recursive: true })
  gitIn(root, ['init', '-q', '-b', 'main'])
  const labels: Label[] = []
  let commits = 0
  const commit = (msg: string): void => {
    gitIn(root, ['add', '-A'])
    gitIn(root, ['commit', '-q', '--allow-empty', '-F', '-'], msg)
    commits++
  }
  write(root, 'README.md', '# service\n')
  commit('initial commit')
  for (let i = 0; i < options.rounds; i++) {
    const made = positive(g)
    const path = `r${i}/${made.path}`
    const how = g.int(6)
    if (how === 0) { // added, then the value replaced by an env reference
      write(root, path, made.text)
      commit(`add ${made.path}`)
      write(root, path, '# credentials moved to the secret store\n')
      commit(`remove credentials from ${made.path}`)
      for (const l of made.labels) labels.push({ file: path, value: l.value, kind: l.kind, historyOnly: true })
    } else if (how === 1) { // file deleted
      write(root, path, made.text)
      commit(`wip: ${made.path}`)
      gitIn(root, ['rm', '-q', path])
      commit(`drop ${made.path}`)
      for (const l of made.labels) labels.push({ file: path, value: l.value, kind: l.kind, historyOnly: true })
    } else if (how === 2) { // unmerged branch
      gitIn(root, ['checkout', '-q', '-b', `feature/${i}`])
      write(root, path, made.text)
      commit(`try ${made.path}`)
      gitIn(root, ['checkout', '-q', 'main'])
      for (const l of made.labels) labels.push({ file: path, value: l.value, kind: l.kind, historyOnly: true })
    } else if (how === 3) { // tag only: branch deleted
      gitIn(root, ['checkout', '-q', '-b', `release-${i}`])
      write(root, path, made.text)
      commit(`release ${i}`)
      gitIn(root, ['tag', `v0.${i}.0`])
      gitIn(root, ['checkout', '-q', 'main'])
      gitIn(root, ['branch', '-q', '-D', `release-${i}`])
      for (const l of made.labels) labels.push({ file: path, value: l.value, kind: l.kind, historyOnly: true })
    } else if (how === 4) { // commit message
      const k = g.pick(PROVIDERS)
      const v = k.make(g)
      const shapes = [`fix deploy\n\n${k.names[0]}=${v}`, ...(k.contextual === true || k.nameOnly === true ? [] : [`rotate ${k.names[0]}\n\nold value was ${v}, revoked`, `debug: token ${v}`])]
      write(root, `r${i}/NOTES.txt`, `round ${i}\n`)
      commit(g.pick(shapes))
      labels.push({ file: '(commit message)', value: v, kind: `${k.kind}_commit_message`, historyOnly: true })
    } else { // stays at HEAD
      write(root, path, made.text)
      commit(`add ${made.path}`)
      for (const l of made.labels) labels.push({ file: path, value: l.value, kind: l.kind })
    }
    if (g.bool(0.3)) {
      const [, p, text] = negative(g)
      write(root, `neg${i}/${p}`, text)
      commit(`add ${p}`)
    }
  }
  return { labels, commits }
}

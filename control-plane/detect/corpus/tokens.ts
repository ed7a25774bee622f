/**
 * Fake credentials with the structure of real ones (prefixes, lengths, alphabets, checksums),
 * made at test time from a seeded random source. None of them was ever issued by a provider.
 */
import { crc32Base62 } from '../detectors/checksums.js'
import { ALPHA, Rng } from './random.js'

/** A made-up token: `value` is what a finding's sha256 is taken of; `written` is how it appears in a file. */
export interface FakeToken {
  kind: string
  value: string
  written: string
}

const tok = (kind: string, value: string, written = value): FakeToken => ({ kind, value, written })

function withChecksum(prefix: string, rng: Rng): string {
  const random = rng.chars(30, ALPHA.base62)
  return `${prefix}${random}${crc32Base62(random)}`
}

/** Makers of provider tokens, by name. */
export const PROVIDER_TOKENS: Record<string, (rng: Rng) => FakeToken> = {
  githubClassic: (rng) => tok('github_pat', withChecksum(rng.pick(['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_']), rng)),
  githubFineGrained: (rng) => tok('github_pat', `github_pat_${rng.chars(22, ALPHA.base62)}_${rng.chars(59, ALPHA.base62)}`),
  gitlab: (rng) => tok('gitlab_token', `glpat-${rng.chars(20, ALPHA.base62 + '-_')}`),
  awsKeyId: (rng) => tok('aws_access_key', `AKIA${rng.chars(16, ALPHA.upper32)}`),
  stripeSecret: (rng) => {
    const prefix = rng.pick(['sk_live_', 'sk_test_', 'rk_live_'])
    return tok(prefix.includes('test') ? 'stripe_secret_test' : 'stripe_secret_live', `${prefix}${rng.chars(rng.pick([24, 99]), ALPHA.base62)}`)
  },
  slackBot: (rng) => tok('slack_token', `xoxb-${rng.chars(11, '0123456789')}-${rng.chars(13, '0123456789')}-${rng.chars(24, ALPHA.base62)}`),
  slackUser: (rng) => tok('slack_token', `xoxp-${rng.chars(11, '0123456789')}-${rng.chars(11, '0123456789')}-${rng.chars(13, '0123456789')}-${rng.chars(32, ALPHA.lowerHex)}`),
  slackApp: (rng) => tok('slack_token', `xapp-1-A${rng.chars(10, '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ')}-${rng.chars(13, '0123456789')}-${rng.chars(64, ALPHA.lowerHex)}`),
  slackWebhook: (rng) => tok('slack_webhook', `https://hooks.slack.com/services/T${rng.chars(8, '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ')}/B${rng.chars(8, '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ')}/${rng.chars(24, ALPHA.base62)}`),
  google: (rng) => tok('google_api_key', `AIza${rng.chars(35, ALPHA.base62 + '-_')}`),
  openai: (rng) => tok('openai_api_key', rng.next() < 0.5
    ? `sk-proj-${rng.chars(74, ALPHA.base62 + '-_')}T3BlbkFJ${rng.chars(74, ALPHA.base62 + '-_')}`
    : `sk-${rng.chars(20, ALPHA.base62)}T3BlbkFJ${rng.chars(20, ALPHA.base62)}`),
  anthropic: (rng) => tok('anthropic_api_key', `sk-ant-api03-${rng.chars(93, ALPHA.base62 + '-_')}AA`),
  npm: (rng) => tok('npm_token', withChecksum('npm_', rng)),
  pypi: (rng) => tok('pypi_token', `pypi-AgEIcHlwaS5vcmc${rng.chars(rng.int(60, 150), ALPHA.base64url)}`),
  twilio: (rng) => tok('twilio_api_key', `SK${rng.chars(32, ALPHA.lowerHex)}`),
  sendgrid: (rng) => tok('sendgrid_api_key', `SG.${rng.chars(22, ALPHA.base64url)}.${rng.chars(43, ALPHA.base64url)}`),
  mailgun: (rng) => tok('mailgun_api_key', `key-${rng.chars(32, ALPHA.lowerHex)}`),
  shopify: (rng) => tok('shopify_token', `${rng.pick(['shpat_', 'shpss_', 'shpca_'])}${rng.chars(32, ALPHA.lowerHex)}`),
  huggingface: (rng) => tok('huggingface_token', `hf_${rng.chars(34, ALPHA.letters)}`),
  digitalocean: (rng) => tok('digitalocean_token', `dop_v1_${rng.chars(64, ALPHA.lowerHex)}`),
  dockerhub: (rng) => tok('dockerhub_token', `dckr_pat_${rng.chars(27, ALPHA.base62 + '-_')}`),
  vault: (rng) => tok('vault_token', `hvs.${rng.chars(90, ALPHA.base62 + '_-')}`),
  databricks: (rng) => tok('databricks_token', `dapi${rng.chars(32, ALPHA.lowerHex)}`),
  azureClientSecret: (rng) => tok('azure_client_secret', `${rng.chars(3, ALPHA.base62)}${rng.int(0, 9)}Q~${rng.chars(34, ALPHA.base62 + '_~.-')}`),
  age: (rng) => tok('age_secret_key', `AGE-SECRET-KEY-1${rng.chars(58, ALPHA.bech32.toUpperCase())}`),
  jwt: (rng) => {
    const header = Buffer.from(JSON.stringify({ alg: rng.pick(['HS256', 'RS256', 'ES256']), typ: 'JWT' })).toString('base64url')
    const payload = Buffer.from(JSON.stringify({ sub: rng.chars(12, ALPHA.base62), iat: 1700000000 + rng.int(0, 1e7), role: 'service' })).toString('base64url')
    return tok('jwt', `${header}.${payload}.${rng.chars(43, ALPHA.base64url)}`)
  },
}

/** An AWS secret access key (40 base64 characters). */
export function awsSecret(rng: Rng): FakeToken {
  let s = rng.chars(40, ALPHA.base64)
  while (!/[A-Z]/.test(s) || !/[a-z]/.test(s) || !/[0-9]/.test(s)) s = rng.chars(40, ALPHA.base64)
  return tok('aws_secret_key', s)
}

/** An Azure storage account key (64 bytes, base64). */
export function azureStorageKey(rng: Rng): FakeToken {
  return tok('azure_storage_key', rng.bytes(64).toString('base64'))
}

/** A PEM private key; the value is the base64 body, which the scanner hashes whatever the wrapping. */
export function privateKey(rng: Rng): FakeToken & { pem: string; header: string } {
  const header = rng.pick(['RSA PRIVATE KEY', 'PRIVATE KEY', 'EC PRIVATE KEY', 'OPENSSH PRIVATE KEY'])
  const lead = header === 'EC PRIVATE KEY' ? 'MHcCAQEEI' : header === 'OPENSSH PRIVATE KEY' ? 'b3BlbnNzaC1rZXktdjEAAAAA' : 'MIIEowIBAAKCAQEA'
  const body = lead + rng.bytes(header === 'EC PRIVATE KEY' ? 90 : 600).toString('base64')
  const lines = body.match(/.{1,64}/g) ?? []
  const pem = `-----BEGIN ${header}-----\n${lines.join('\n')}\n-----END ${header}-----`
  return { kind: 'private_key', value: body, written: pem, pem, header }
}

/** A password a person might choose or a generator might make. */
export function password(rng: Rng): string {
  if (rng.next() < 0.5) return rng.chars(rng.int(12, 24), ALPHA.password)
  const words = ['Tiger', 'Maple', 'Orbit', 'Falcon', 'Cedar', 'Quartz', 'Nimbus', 'Harbor', 'Copper', 'Violet']
  return `${rng.pick(words)}${rng.int(10, 9999)}${rng.pick(['!', '#', '$', '%', '&', '*', '?'])}${rng.pick(words).toLowerCase()}`
}

/** A generic random secret (session keys, webhook secrets, internal API keys). */
export function genericSecret(rng: Rng): string {
  return rng.pick([
    () => rng.chars(32, ALPHA.lowerHex),
    () => rng.chars(rng.int(24, 48), ALPHA.base62),
    () => rng.bytes(32).toString('base64'),
    () => rng.chars(40, ALPHA.base64url),
  ])()
}

/**
 * What a leak a scan made is called: what the credential is and where it was found
 * (`GitHub token in acme/api .env`), in words an operator reads in a list, from the finding's kind.
 */

/** Whole kinds whose words alone would read badly. */
const KIND_LABELS: Readonly<Record<string, string>> = {
  github_pat: 'GitHub token',
  gitlab_token: 'GitLab token',
  aws_access_key: 'AWS access key',
  aws_secret_key: 'AWS secret key',
  stripe_secret_live: 'Stripe live secret key',
  stripe_secret_test: 'Stripe test secret key',
  private_key: 'Private key',
  generic_secret: 'Secret',
  http_credentials: 'HTTP credentials',
  npm_auth: 'npm credentials',
}

/** Words spelled as their owners spell them; any other word is written as in the kind. */
const WORDS: Readonly<Record<string, string>> = {
  api: 'API', aws: 'AWS', gcp: 'GCP', jwt: 'JWT', ssh: 'SSH', url: 'URL', id: 'ID', pat: 'token', oauth: 'OAuth',
  github: 'GitHub', gitlab: 'GitLab', openai: 'OpenAI', pypi: 'PyPI', npm: 'npm', sendgrid: 'SendGrid', mongodb: 'MongoDB',
  circleci: 'CircleCI', sonarqube: 'SonarQube', planetscale: 'PlanetScale', hubspot: 'HubSpot', mapbox: 'Mapbox',
  digitalocean: 'DigitalOcean', huggingface: 'Hugging Face', linkedin: 'LinkedIn', paypal: 'PayPal', pagerduty: 'PagerDuty',
}

/** The words for a kind: `github_pat` → `GitHub token`, `slack_webhook` → `Slack webhook`; none: `Credential`. */
export function kindLabel(kind: string | undefined): string {
  if (kind === undefined || kind === '') return 'Credential'
  const known = KIND_LABELS[kind]
  if (known !== undefined) return known
  const words = kind.split(/[_.:-]+/).filter((w) => w !== '').map((w) => WORDS[w.toLowerCase()] ?? w)
  if (words.length === 0) return 'Credential'
  const first = words[0]!
  // A word the table spells keeps its spelling; another starts with a capital letter.
  if (WORDS[first.toLowerCase()] === undefined) words[0] = first.charAt(0).toUpperCase() + first.slice(1)
  return words.join(' ')
}

/** A scan's leak title: the credential's label, then where (repository and file, or the file alone). */
export function findingTitle(kind: string | undefined, where: { repo?: string | undefined; repoUrl?: string | undefined; path?: string | undefined }): string {
  const place = [where.repo ?? where.repoUrl, where.path].filter((p) => p !== undefined && p !== '').join(' ')
  return place === '' ? kindLabel(kind) : `${kindLabel(kind)} in ${place}`
}

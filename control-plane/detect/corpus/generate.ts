/**
 * A labelled corpus for the detection tests and benchmark: realistic files with fake
 * credentials planted (source, .env, YAML, JSON, notebooks, Dockerfiles, Terraform, docs with
 * curl lines, minified bundles, manifests), hard negatives that must not be reported, and a git
 * repository whose secrets exist only in history, on other branches, tags and in commit messages.
 *
 * Each label is the sha256 of the planted token value, so the evaluation (evaluate.ts) needs no
 * raw secret from the scanner.
 */
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { ALPHA, Rng } from './random.js'
import { PROVIDER_TOKENS, awsSecret, azureStorageKey, genericSecret, password, privateKey, type FakeToken } from './tokens.js'
import { base62 } from '../detectors/checksums.js'

/** One planted secret. */
export interface Label {
  path: string
  kind: string
  sha256: string
  /** Only in git history (deleted, overwritten, other branch or tag, commit message). */
  history: boolean
}

/** A generated file. */
export interface CorpusFile {
  path: string
  content: string
  labels: Array<{ kind: string; value: string }>
}

/** What was generated. */
export interface Corpus {
  labels: Label[]
  /** Bytes of working-tree files. */
  bytes: number
  files: number
}

const sha = (v: string): string => createHash('sha256').update(v, 'utf8').digest('hex')
const file = (path: string, content: string, labels: Array<{ kind: string; value: string }> = []): CorpusFile => ({ path, content, labels })
const lab = (t: FakeToken): { kind: string; value: string } => ({ kind: t.kind, value: t.value })

const WORDS = ['user', 'order', 'invoice', 'payment', 'account', 'report', 'session', 'client', 'item', 'cart', 'queue', 'metric']

function filler(rng: Rng, lines: number, comment = '#'): string {
  const out: string[] = []
  for (let i = 0; i < lines; i++) {
    const w = rng.pick(WORDS)
    out.push(rng.pick([
      `${comment} handle ${w} ${rng.pick(['creation', 'updates', 'retries', 'caching'])}`,
      `${w}_count = ${rng.int(0, 999)}`,
      `${w}_enabled = ${rng.pick(['true', 'false'])}`,
      `MAX_${w.toUpperCase()}_SIZE = ${rng.int(1, 4096)}`,
    ]))
  }
  return out.join('\n')
}

function provider(rng: Rng): FakeToken {
  return PROVIDER_TOKENS[rng.pick(Object.keys(PROVIDER_TOKENS))]!(rng)
}

/** Positive file templates: each plants one or more secrets. */
const POSITIVE: Array<(rng: Rng, n: number) => CorpusFile> = [
  (rng, n) => {
    const t = provider(rng)
    const name = t.kind.toUpperCase().replace(/[^A-Z]/g, '_')
    return file(`src/app${n}/settings.py`, `import os\n\n${filler(rng, 5)}\n${name} = "${t.written}"\nDEBUG = False\n${filler(rng, 4)}\n`, [lab(t)])
  },
  (rng, n) => {
    const t = provider(rng)
    return file(`web/src/client${n}.ts`, `import { request } from './http.js'\n\nexport async function fetch${n}() {\n  return request('/v1/items', {\n    headers: { Authorization: \`Bearer ${t.written}\` },\n  })\n}\n`, [lab(t)])
  },
  (rng, n) => {
    const a = provider(rng)
    const pw = password(rng)
    const g = genericSecret(rng)
    return file(`services/svc${n}/.env`, `NODE_ENV=production\nPORT=${rng.int(3000, 9000)}\n${a.kind.toUpperCase()}=${a.written}\nDATABASE_URL=postgres://app:${pw}@db${n}.internal:5432/app\nSESSION_SECRET=${g}\nLOG_LEVEL=info\n`,
      [lab(a), { kind: 'password', value: pw }, { kind: 'generic_secret', value: g }])
  },
  (rng, n) => {
    const t = provider(rng)
    const pw = password(rng)
    return file(`deploy/config${n}.yaml`, `service:\n  name: api-${n}\n  replicas: ${rng.int(1, 5)}\nintegrations:\n  provider:\n    api_key: ${t.written}\ndatabase:\n  host: db.internal\n  user: app\n  password: "${pw}"\n`, [lab(t), { kind: 'password', value: pw }])
  },
  (rng, n) => {
    const w = PROVIDER_TOKENS.slackWebhook!(rng)
    const t = provider(rng)
    return file(`config/integrations${n}.json`, JSON.stringify({ name: `bot-${n}`, slack: { webhookUrl: w.written, channel: '#alerts' }, upstream: { token: t.written, timeoutMs: 3000 } }, null, 2) + '\n', [lab(w), lab(t)])
  },
  (rng, n) => {
    const t = rng.pick([PROVIDER_TOKENS.openai!, PROVIDER_TOKENS.anthropic!, PROVIDER_TOKENS.huggingface!])(rng)
    const cells = [
      { cell_type: 'markdown', metadata: {}, source: ['# Experiment ' + n + '\n', 'Compare models.'] },
      { cell_type: 'code', execution_count: 1, metadata: {}, outputs: [], source: ['import client\n', `client.api_key = "${t.written}"\n`, 'resp = client.complete("hello")\n'] },
    ]
    return file(`notebooks/experiment-${n}.ipynb`, JSON.stringify({ cells, metadata: { kernelspec: { name: 'python3' } }, nbformat: 4, nbformat_minor: 5 }, null, 1) + '\n', [lab(t)])
  },
  (rng, n) => {
    const t = PROVIDER_TOKENS.npm!(rng)
    const pw = password(rng)
    return file(`images/worker${n}/Dockerfile`, `FROM node:20-slim\nWORKDIR /app\nENV NPM_TOKEN=${t.written}\nCOPY package*.json ./\nRUN pip install --index-url https://deploy:${pw}@pypi.internal.corp/simple internal-lib\nRUN npm ci\nCMD ["node", "server.js"]\n`,
      [lab(t), { kind: 'password', value: pw }])
  },
  (rng, n) => {
    const id = PROVIDER_TOKENS.awsKeyId!(rng)
    const s = awsSecret(rng)
    return file(`infra/env${n}/main.tf`, `provider "aws" {\n  region     = "eu-west-1"\n  access_key = "${id.written}"\n  secret_key = "${s.written}"\n}\n\nresource "aws_s3_bucket" "logs" {\n  bucket = "logs-${n}"\n}\n`, [lab(id), lab(s)])
  },
  (rng, n) => {
    const t = provider(rng)
    const pw = password(rng)
    return file(`docs/api-${n}.md`, `# Calling the API\n\nList items:\n\n\`\`\`sh\ncurl -H "Authorization: Bearer ${t.written}" https://api.internal.corp/v1/items\ncurl -u admin:${pw} https://jenkins.internal.corp/api/json\n\`\`\`\n`, [lab(t), { kind: 'http_credentials', value: pw }])
  },
  (rng, n) => {
    const t = rng.pick([PROVIDER_TOKENS.google!, PROVIDER_TOKENS.stripeSecret!, PROVIDER_TOKENS.sendgrid!])(rng)
    const junk = Array.from({ length: 400 }, () => `function ${rng.chars(2, ALPHA.letters)}(${rng.chars(1, 'abcdef')}){return ${rng.chars(1, 'abcdef')}+${rng.int(0, 99)}}`).join(';')
    return file(`public/bundle-${n}.min.js`, `!function(){${junk};var cfg={apiKey:"${t.written}",env:"prod"};${junk}}();\n`, [lab(t)])
  },
  (rng, n) => {
    const pw = password(rng)
    const g = genericSecret(rng)
    const b = (v: string): string => Buffer.from(v).toString('base64')
    return file(`k8s/secret-${n}.yaml`, `apiVersion: v1\nkind: Secret\nmetadata:\n  name: app-${n}\ntype: Opaque\ndata:\n  username: ${b('app')}\n  password: ${b(pw)}\n  api-token: ${b(g)}\n`, [{ kind: 'kubernetes_secret', value: pw }, { kind: 'kubernetes_secret', value: g }])
  },
  (rng, n) => {
    const pw = password(rng)
    const b = (v: string): string => Buffer.from(v).toString('base64')
    return file(`k8s/exported-${n}.json`, JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: `svc-${n}`, namespace: 'prod' }, type: 'Opaque', data: { username: b('svc'), password: b(pw) } }, null, 2) + '\n', [{ kind: 'kubernetes_secret', value: pw }])
  },
  (rng, n) => {
    const pair = `ci-bot:${password(rng)}`
    return file(`ci/docker-${n}/config.json`, JSON.stringify({ auths: { 'registry.internal.corp': { auth: Buffer.from(pair).toString('base64') } } }, null, 2) + '\n', [{ kind: 'docker_auth', value: pair }])
  },
  (rng, n) => {
    const k = privateKey(rng)
    const style = n % 4
    if (style === 0) return file(`keys/deploy-${n}.pem`, k.pem + '\n', [lab(k)])
    if (style === 1) return file(`keys/service-account-${n}.json`, JSON.stringify({ type: 'service_account', project_id: `p-${n}`, private_key_id: rng.chars(40, ALPHA.lowerHex), private_key: k.pem + '\n', client_email: `svc@p-${n}.iam.gserviceaccount.com` }, null, 2) + '\n', [lab(k)])
    if (style === 2) return file(`helm/values-${n}.yaml`, `tls:\n  enabled: true\n  key: |\n${k.pem.split('\n').map((l) => '    ' + l).join('\n')}\n`, [lab(k)])
    return file(`src/sign${n}.go`, `package sign\n\nconst signingKey = "${k.pem.replace(/\n/g, '\\n')}"\n`, [lab(k)])
  },
  (rng, n) => {
    const pw = password(rng)
    return file(`dotnet/App${n}/appsettings.json`, JSON.stringify({ ConnectionStrings: { Default: `Server=sql${n}.internal;Database=shop;User Id=shop;Password=${pw};TrustServerCertificate=true` }, Logging: { LogLevel: { Default: 'Information' } } }, null, 2) + '\n', [{ kind: 'password', value: pw }])
  },
  (rng, n) => {
    const pw = password(rng)
    const g = genericSecret(rng)
    return file(`java/svc${n}/application.properties`, `server.port=8080\nspring.datasource.url=jdbc:mysql://db/app\nspring.datasource.username=app\nspring.datasource.password=${pw}\napp.webhook.secret=${g}\n`, [{ kind: 'password', value: pw }, { kind: 'generic_secret', value: g }])
  },
  (rng, n) => {
    const t = provider(rng)
    return file(`cmd/tool${n}/main.go`, `package main\n\nimport "fmt"\n\nconst apiToken = "${t.written}"\n\nfunc main() {\n\tfmt.Println(len(apiToken))\n}\n`, [lab(t)])
  },
  (rng, n) => {
    const k = azureStorageKey(rng)
    const c = PROVIDER_TOKENS.azureClientSecret!(rng)
    return file(`azure/app${n}.env`, `AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=https;AccountName=acct${n};AccountKey=${k.written};EndpointSuffix=core.windows.net"\nAZURE_CLIENT_ID=${rng.chars(8, ALPHA.lowerHex)}-0000-4000-8000-${rng.chars(12, ALPHA.lowerHex)}\nAZURE_CLIENT_SECRET=${c.written}\n`, [lab(k), lab(c)])
  },
  (rng, n) => {
    const pw = password(rng)
    return file(`scripts/backup${n}.sh`, `#!/bin/sh\nset -eu\nexport PGPASSWORD='${pw}'\npg_dump -h db.internal -U backup app > /backups/app-$(date +%F).sql\n`, [{ kind: 'generic_secret', value: pw }])
  },
]

/** Hard negatives: look like secrets, are not. */
const NEGATIVE: Array<(rng: Rng, n: number) => CorpusFile> = [
  (rng, n) => file(`services/svc${n}/.env.example`, `GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\nSTRIPE_SECRET_KEY=sk_live_XXXXXXXXXXXXXXXXXXXXXXXX\nAPI_KEY=your-api-key-here\nDB_PASSWORD=<password>\nSESSION_SECRET=changeme\nOPENAI_API_KEY=\nAWS_SECRET_ACCESS_KEY=${'*'.repeat(40)}\nDATABASE_URL=postgres://user:password@localhost:5432/app\n`),
  (rng, n) => file(`src/app${n}/config.py`, `import os\n\nGITHUB_TOKEN = os.environ["GITHUB_TOKEN"]\npassword = os.getenv("DB_PASSWORD")\napi_key = settings.API_KEY\nsecret = get_secret("stripe")\ntoken = request.headers.get("Authorization")\nif not token:\n    raise PermissionError("missing token")\n${filler(rng, 3)}\n`),
  (rng, n) => file(`web/src/env${n}.ts`, `export const config = {\n  apiKey: process.env.STRIPE_KEY ?? '',\n  password: process.env.DB_PASSWORD,\n  token: string,\n  secret: \`\${process.env.SECRET}\`,\n}\nfunction login(password: string, token?: string) {\n  return hash(password)\n}\n`),
  (rng, n) => file(`.github/workflows/release${n}.yml`, `on: push\njobs:\n  publish:\n    runs-on: ubuntu-latest\n    steps:\n      - run: npm publish\n        env:\n          NODE_AUTH_TOKEN: \${{ secrets.NPM_TOKEN }}\n          API_KEY: \${{ secrets.API_KEY }}\n`),
  (rng, n) => file(`helm/templates/secret${n}.yaml`, `apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}\nstringData:\n  password: {{ .Values.db.password | quote }}\n  token: "{{ required "token" .Values.token }}"\n`),
  (rng, n) => file(`data/records${n}.json`, JSON.stringify(Array.from({ length: 20 }, () => ({ id: uuid(rng), request_id: uuid(rng), session_token_id: uuid(rng), commit: rng.chars(40, ALPHA.lowerHex), sha256: rng.chars(64, ALPHA.lowerHex) })), null, 2) + '\n'),
  (rng, n) => file(`pkg${n}/package-lock.json`, JSON.stringify({ name: `pkg${n}`, lockfileVersion: 3, packages: Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`node_modules/dep${i}`, { version: `1.${i}.0`, resolved: `https://registry.npmjs.org/dep${i}/-/dep${i}-1.${i}.0.tgz`, integrity: `sha512-${rng.bytes(64).toString('base64')}` }])) }, null, 2) + '\n'),
  (rng, n) => file(`docs/aws-${n}.md`, `# Configure credentials\n\n\`\`\`ini\n[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n\`\`\`\n\nStripe's test key in their docs is \`sk_test_4eC39HqLyjWDarjtT1zdp7dc\`.\nA JWT looks like eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c\n\n    curl -u user:password https://api.example.com/\n    curl -H "Authorization: Bearer $TOKEN" https://api.example.com/\n`),
  (rng, n) => {
    // Tokens with the right shape and a wrong checksum.
    const bad = (prefix: string): string => {
      const random = rng.chars(30, ALPHA.base62)
      return `${prefix}${random}${base62(rng.int(0, 62 ** 6 - 1), 6)}`
    }
    return file(`tests/fixtures/tokens${n}.txt`, `${bad('ghp_')}\n${bad('gho_')}\n${bad('npm_')}\n`)
  },
  (rng, n) => file(`keys/deploy-${n}.pub`, `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${rng.chars(43, ALPHA.base64)} deploy@ci\nssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ${rng.chars(300, ALPHA.base64)} ops@host\n-----BEGIN PUBLIC KEY-----\n${(rng.bytes(270).toString('base64').match(/.{1,64}/g) ?? []).join('\n')}\n-----END PUBLIC KEY-----\n-----BEGIN CERTIFICATE-----\n${(rng.bytes(600).toString('base64').match(/.{1,64}/g) ?? []).join('\n')}\n-----END CERTIFICATE-----\n`),
  (rng, n) => file(`web/public/checkout${n}.js`, `const stripe = Stripe('pk_live_${rng.chars(24, ALPHA.base62)}')\nconst STRIPE_PUBLISHABLE_KEY = "pk_test_${rng.chars(99, ALPHA.base62)}"\nconst MAPS_PUBLIC_ID = "${uuid(rng)}"\n`),
  (rng, n) => file(`checksums/release-${n}.txt`, Array.from({ length: 10 }, (_, i) => `${rng.chars(64, ALPHA.lowerHex)}  leakgate-${i}.tar.gz`).join('\n') + '\n'),
  (rng, n) => file(`tests/test_login${n}.py`, `def test_login(client):\n    # leakgate:allow test fixture\n    resp = client.post("/login", data={"user": "alice", "password": "Tr0ub4dor&3-fixture"})  # leakgate:allow\n    token = resp.json()["token"]\n    assert token\n`),
  (rng, n) => file(`src/tokenizer${n}.py`, `from transformers import AutoTokenizer\n\ntokenizer = AutoTokenizer.from_pretrained("bert-base-uncased")\nmax_tokens = 4096\npassword_min_length = 12\nsecret_name = "prod/db/password"\ntoken_url = "https://auth.internal.corp/oauth/token"\nprivate_key_path = "/etc/ssl/private/server.key"\n`),
]

function uuid(rng: Rng): string {
  const h = rng.chars(32, ALPHA.lowerHex)
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}`
}

/** Makes the working-tree files of a corpus: `positives` files with secrets and `negatives` hard-negative files. */
export function corpusFiles(seed: number, positives: number, negatives: number): CorpusFile[] {
  const rng = new Rng(seed)
  const out: CorpusFile[] = []
  for (let i = 0; i < positives; i++) out.push(POSITIVE[i % POSITIVE.length]!(rng, i))
  for (let i = 0; i < negatives; i++) out.push(NEGATIVE[i % NEGATIVE.length]!(rng, i))
  return out
}

/** Writes a corpus into `dir` (created) and returns its labels. */
export function writeCorpus(dir: string, options: { seed: number; positives: number; negatives: number }): Corpus {
  const files = corpusFiles(options.seed, options.positives, options.negatives)
  let bytes = 0
  const labels: Label[] = []
  for (const f of files) {
    const path = join(dir, f.path)
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, f.content)
    bytes += Buffer.byteLength(f.content)
    for (const l of f.labels) labels.push({ path: f.path, kind: l.kind, sha256: sha(l.value), history: false })
  }
  return { labels, bytes, files: files.length }
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 'Corpus', GIT_AUTHOR_EMAIL: 'corpus@example.test', GIT_COMMITTER_NAME: 'Corpus', GIT_COMMITTER_EMAIL: 'corpus@example.test', GIT_CONFIG_NOSYSTEM: '1', HOME: cwd },
  })
}

/**
 * Makes a git repository in `dir` whose working tree holds `current` secrets and whose history
 * holds `historical` more, each only in history: overwritten, in deleted files, on an unmerged
 * branch, under a tag whose branch was deleted, or in a commit message.
 */
export function writeHistoryRepo(dir: string, options: { seed: number; historical: number; current?: number }): Corpus {
  const rng = new Rng(options.seed)
  mkdirSync(dir, { recursive: true })
  git(dir, 'init', '-q', '-b', 'main')
  git(dir, 'config', 'commit.gpgsign', 'false')
  const labels: Label[] = []
  const write = (path: string, content: string): void => {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), content)
  }
  const commit = (message: string): void => {
    git(dir, 'add', '-A')
    git(dir, 'commit', '-q', '--allow-empty', '-m', message)
  }
  write('README.md', '# service\n')
  commit('initial commit')
  for (let i = 0; i < options.historical; i++) {
    const t = provider(rng)
    const label = (path: string): void => void labels.push({ path, kind: t.kind, sha256: sha(t.value), history: true })
    switch (i % 6) {
      case 0: {
        // Committed, then replaced by an environment reference.
        const path = `src/client${i}.py`
        write(path, `TOKEN = "${t.written}"\n`)
        commit(`add client ${i}`)
        write(path, `import os\nTOKEN = os.environ["TOKEN"]\n`)
        commit(`client ${i}: read the token from the environment`)
        label(path)
        break
      }
      case 1: {
        // A file committed and deleted later.
        const path = `config/local${i}.env`
        write(path, `API_TOKEN=${t.written}\n`)
        commit(`local config ${i}`)
        rmSync(join(dir, path))
        commit(`remove local config ${i}`)
        label(path)
        break
      }
      case 2: {
        // On a branch that was never merged.
        const path = `experiments/try${i}.ts`
        git(dir, 'checkout', '-q', '-b', `feature/try-${i}`)
        write(path, `export const key = '${t.written}'\n`)
        commit(`try ${i}`)
        git(dir, 'checkout', '-q', 'main')
        label(path)
        break
      }
      case 3: {
        // Reachable only from a tag: its branch was deleted.
        const path = `release/notes${i}.yaml`
        git(dir, 'checkout', '-q', '-b', `release-${i}`)
        write(path, `deploy:\n  token: ${t.written}\n`)
        commit(`release ${i}`)
        git(dir, 'tag', `v0.${i}.0`)
        git(dir, 'checkout', '-q', 'main')
        git(dir, 'branch', '-q', '-D', `release-${i}`)
        label(path)
        break
      }
      case 5: {
        // Merged from a branch, then removed on main: the secret came in through a merge commit.
        const path = `services/merged${i}.yaml`
        git(dir, 'checkout', '-q', '-b', `topic-${i}`)
        write(path, `api:\n  key: ${t.written}\n`)
        commit(`topic ${i}`)
        git(dir, 'checkout', '-q', 'main')
        write(`NOTES-${i}.md`, `notes ${i}\n`)
        commit(`notes ${i}`)
        git(dir, 'merge', '-q', '--no-ff', '-m', `merge topic ${i}`, `topic-${i}`)
        git(dir, 'branch', '-q', '-D', `topic-${i}`)
        rmSync(join(dir, path))
        commit(`drop merged config ${i}`)
        label(path)
        break
      }
      default: {
        // In a commit message only.
        write(`CHANGELOG.md`, `# changes\n\n- ${i}\n`)
        commit(`fix CI ${i}\n\nUsed ${t.written} to test the deploy, will rotate.`)
        label('(commit message)')
      }
    }
  }
  for (let i = 0; i < (options.current ?? 0); i++) {
    const t = provider(rng)
    const path = `src/current${i}.js`
    write(path, `module.exports = { token: "${t.written}" }\n`)
    commit(`current ${i}`)
    labels.push({ path, kind: t.kind, sha256: sha(t.value), history: false })
  }
  return { labels, bytes: 0, files: 0 }
}

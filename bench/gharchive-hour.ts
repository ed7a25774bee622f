/**
 * A generated GH Archive hour for the public-sources benchmark, and a local server for it: the hour's
 * file (`/{hour}.json.gz`, gzipped JSON lines) and the compare API (`/repos/{owner}/{repo}/compare/{before}...{head}`)
 * of every push in it. Seeded: the same options give the same bytes.
 *
 * What it holds, and why:
 * - An event mix of the shape GH Archive hours have: about half PushEvents, then creates, stars,
 *   pull requests, comments, issues, deletes, forks, reviews, releases, each with a payload of its
 *   type's fields (a pull request or an issue carries its body, the bulk of an hour's bytes).
 * - PushEvents as the public events API writes them since late 2025: `repository_id`, `push_id`,
 *   `ref`, `head`, `before`, no commit list; the source then asks the compare API for each push's commits (one here).
 * - A commit a push, of one to ten files whose `patch` is a unified diff: source code, YAML, JSON,
 *   Markdown, `.env` files, lock files (long runs of base64 integrity hashes, the worst case of
 *   token-shaped text), a few large generated files, and some files without a patch (binaries, or a
 *   diff too large for the API to show).
 * - Other providers' token-shaped strings (the built-in detectors' formats), which must not become
 *   leaks: they are someone else's.
 * - Forks and mirrors: some pushes repeat an earlier commit's files in another repository; the
 *   content-hash dedup scans them once.
 * - Planted tokens of ours, random, a third in formats no rule knows and the rest in providers'
 *   formats, each placed in one or two commits (and some of those places repeated by a fork). Their
 *   SHA-256s are what the bench registers as issued.
 */
import { createHash } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { gzipSync } from 'node:zlib'
import { ALPHA, Rng } from '../control-plane/detect/corpus/random.js'
import { expandSample, providerRule } from '../control-plane/detect/detectors/provider-spec.js'
import { PROVIDER_SPECS } from '../control-plane/detect/detectors/providers/index.js'
import { scanText } from '../control-plane/detect/scanner.js'

/** What to generate. */
export interface HourOptions {
  /** Events in the hour (a real hour holds 200 000 to 250 000). */
  events: number
  /** Tokens of ours planted. */
  planted: number
  /** Other providers' tokens scattered (not ours). */
  others: number
  seed: number
  /** The hour's name, as GH Archive names files. */
  hour: string
}

/** Where a planted token was put. */
export interface PlantedPlace {
  repo: string
  commit: string
  path: string
  line: number
  /** True when this place repeats content seen earlier in the hour (a fork's push): dedup skips it. */
  repeat: boolean
}

/** A token of ours, by its SHA-256 only (the raw value is never kept past generation). */
export interface PlantedToken {
  sha256: string
  format: 'unknown' | 'provider'
  places: PlantedPlace[]
}

/** The generated hour. */
export interface GeneratedHour {
  hour: string
  gz: Buffer
  /** Decompressed size of the hour's file. */
  rawBytes: number
  events: number
  pushes: number
  /** Pushes that repeat an earlier push's files in another repository. */
  repeats: number
  /** Answers of the compare API by path (`/repos/o/r/compare/before...head`), rendered once. */
  commits: Map<string, Buffer>
  /** Bytes of `patch` text across the commits served, and of the commits' JSON. */
  patchBytes: number
  commitJsonBytes: number
  planted: PlantedToken[]
  /** Other providers' tokens put in diffs. */
  others: number
}

const WORDS = ('user account client config server request response handler token cache store index query value result error event stream buffer record field schema model view route service worker queue job task batch limit offset page item list map set key name path file dir node tree graph edge state status action option flag mode level count size time date id url host port auth session cookie header body payload message channel topic order invoice payment price product cart customer report metric log trace span build deploy release version module package plugin adapter provider factory manager controller helper util parser writer reader loader').split(' ')
const TYPES = ['string', 'number', 'boolean', 'User', 'Config', 'Request', 'Response', 'Promise<void>', 'Record<string, unknown>', 'Item[]']
const PKGS = ['react', 'lodash', 'express', 'typescript', 'vite', 'eslint', 'prettier', 'axios', 'zod', 'jest', 'webpack', 'chalk', 'commander', 'debug', 'semver', 'uuid', 'dotenv', 'pg', 'redis', 'next', 'vue', 'fastify', 'undici', 'rollup', 'esbuild', '@babel/core', '@types/node', 'postcss', 'tailwindcss', 'yaml']

const cap = (w: string): string => w.charAt(0).toUpperCase() + w.slice(1)

/** Helpers over one Rng. */
class Gen {
  readonly rng: Rng
  constructor(seed: number) {
    this.rng = new Rng(seed)
  }
  w(): string {
    return this.rng.pick(WORDS)
  }
  ident(): string {
    return this.rng.next() < 0.5 ? this.w() : `${this.w()}${cap(this.w())}`
  }
  sentence(n: number): string {
    const words: string[] = []
    for (let i = 0; i < n; i++) words.push(this.w())
    return `${cap(words.join(' '))}.`
  }
  hex(n: number): string {
    return this.rng.chars(n, ALPHA.lowerHex)
  }
}

/** One line of source code in `lang`. */
function codeLine(g: Gen, lang: string): string {
  const r = g.rng.int(0, 9)
  const a = g.ident()
  const b = g.ident()
  if (lang === 'py') {
    return [`def ${a}_${g.w()}(${b}, ${g.w()}=None):`, `    ${a} = ${b}.${g.w()}(${g.w()}=${g.rng.int(0, 999)})`, `    if ${a} is None:`, `        return ${b}`, `    for ${g.w()} in ${a}.${g.w()}s:`, `from .${g.w()} import ${cap(a)}`, `    # ${g.sentence(g.rng.int(3, 9))}`, `    raise ValueError(f"${g.sentence(4)} {${a}}")`, `class ${cap(a)}${cap(b)}:`, `    self.${a} = ${b}`][r]!
  }
  if (lang === 'go') {
    return [`func (s *${cap(a)}) ${cap(b)}(ctx context.Context, ${g.w()} string) error {`, `\t${a}, err := s.${g.w()}.${cap(b)}(ctx)`, '\tif err != nil {', `\t\treturn fmt.Errorf("${g.w()} ${g.w()}: %w", err)`, '\t}', `\t// ${g.sentence(g.rng.int(3, 9))}`, `type ${cap(a)} struct {`, `\t${cap(b)} string \`json:"${b}"\``, `\treturn &${cap(a)}{${cap(b)}: ${g.w()}}, nil`, '}'][r]!
  }
  return [`import { ${cap(a)} } from './${b}.js'`, `export function ${a}(${b}: ${g.rng.pick(TYPES)}): ${g.rng.pick(TYPES)} {`, `  const ${a} = await ${b}.${g.w()}(${g.w()}, { ${g.w()}: ${g.rng.int(0, 9999)} })`, `  if (${a} === undefined) return ${b}`, `  return ${a}.map((x) => x.${g.w()})`, '}', `  // ${g.sentence(g.rng.int(3, 12))}`, `  ${a}.${b} = ${g.w()} ?? '${g.w()}-${g.w()}'`, `  throw new Error(\`${g.sentence(4)} \${${a}}\`)`, `    ${g.w()}: ${g.rng.pick(['true', 'false', 'null', String(g.rng.int(0, 100))])},`][r]!
}

/** A file's new content, line by line, of the kind its name says. */
function fileLines(g: Gen, kind: FileKind, n: number): string[] {
  const out: string[] = []
  for (let i = 0; i < n; i++) {
    switch (kind) {
      case 'ts': case 'py': case 'go': out.push(codeLine(g, kind)); break
      case 'md': out.push(g.rng.next() < 0.2 ? `## ${cap(g.w())} ${g.w()}` : g.rng.next() < 0.15 ? '' : g.sentence(g.rng.int(6, 30))); break
      case 'yml': out.push(g.rng.pick([`  ${g.w()}: ${g.w()}`, `    - name: ${g.sentence(3)}`, `      run: npm run ${g.w()}`, `      uses: actions/${g.w()}@v${g.rng.int(1, 5)}`, `  ${g.w()}_${g.w()}: ${g.rng.int(1, 65535)}`, `      with:`, `        ${g.w()}: \${{ secrets.${g.w().toUpperCase()}_${g.w().toUpperCase()} }}`])); break
      case 'json': out.push(g.rng.pick([`  "${g.ident()}": "${g.w()}-${g.w()}",`, `  "${g.ident()}": ${g.rng.int(0, 9999)},`, `    "${g.rng.pick(PKGS)}": "^${g.rng.int(0, 20)}.${g.rng.int(0, 30)}.${g.rng.int(0, 9)}",`, `  "${g.ident()}": { "${g.w()}": ${g.rng.next() < 0.5} },`])); break
      case 'env': out.push(g.rng.pick([`${g.w().toUpperCase()}_${g.w().toUpperCase()}=${g.rng.pick(['true', 'false', 'changeme', 'your-key-here', 'localhost', String(g.rng.int(1, 65535))])}`, `DATABASE_URL=postgres://${g.w()}:${g.w()}@localhost:5432/${g.w()}`, `# ${g.sentence(5)}`, `${g.w().toUpperCase()}_SECRET=${g.hex(32)}`])); break
      case 'lock': {
        const pkg = g.rng.pick(PKGS)
        const v = `${g.rng.int(0, 20)}.${g.rng.int(0, 30)}.${g.rng.int(0, 9)}`
        out.push(`    "node_modules/${pkg}": {`, `      "version": "${v}",`, `      "resolved": "https://registry.npmjs.org/${pkg}/-/${pkg.replace(/.*\//, '')}-${v}.tgz",`,
          `      "integrity": "sha512-${createHash('sha512').update(`${g.rng.next()}`).digest('base64')}",`, '    },')
        i += 4
        break
      }
      case 'min': out.push(Array.from({ length: g.rng.int(50, 400) }, () => `function ${g.ident()}(${g.w()}){return ${g.w()}.${g.w()}(${g.rng.int(0, 99)})}`).join(';')); break
      case 'bin': break
    }
  }
  return out
}

type FileKind = 'ts' | 'py' | 'go' | 'md' | 'yml' | 'json' | 'env' | 'lock' | 'min' | 'bin'
const KINDS: Array<[FileKind, number, () => string]> = [
  ['ts', 30, () => 'src/{w}/{w}.ts'], ['py', 12, () => '{w}/{w}.py'], ['go', 8, () => 'internal/{w}/{w}.go'],
  ['md', 14, () => 'docs/{w}.md'], ['yml', 9, () => '.github/workflows/{w}.yml'], ['json', 9, () => 'config/{w}.json'],
  ['env', 3, () => '.env'], ['lock', 5, () => 'package-lock.json'], ['min', 0.5, () => 'dist/{w}.min.js'], ['bin', 9, () => 'assets/{w}.png'],
]
const KIND_TOTAL = KINDS.reduce((n, k) => n + k[1], 0)

/** A changed file: its path, and its new lines as a diff adds them. */
interface DraftFile {
  filename: string
  kind: FileKind
  status: 'added' | 'modified'
  /** Hunks: the new file's line number of each hunk's first line, and its lines ('+', ' ' or '-' first). */
  hunks: Array<{ oldStart: number; newStart: number; lines: string[] }>
}

function draftFile(g: Gen): DraftFile {
  let r = g.rng.next() * KIND_TOTAL
  let kind: FileKind = 'ts'
  let pathOf = (): string => 'x'
  for (const [k, weight, p] of KINDS) {
    r -= weight
    if (r < 0) {
      kind = k
      pathOf = p
      break
    }
  }
  const filename = pathOf().replace(/\{w\}/g, () => g.w())
  const added = g.rng.next() < 0.3
  if (kind === 'bin') return { filename, kind, status: added ? 'added' : 'modified', hunks: [] }
  // Most diffs are small; a long tail of large ones (generated files, lock files, new modules).
  const size = kind === 'lock' ? g.rng.int(10, 250) : kind === 'min' ? 1 : Math.round(Math.min(300, 2 + 10 * -Math.log(1 - g.rng.next())))
  if (added) return { filename, kind, status: 'added', hunks: [{ oldStart: 0, newStart: 1, lines: fileLines(g, kind, size).map((l) => `+${l}`) }] }
  const hunks: DraftFile['hunks'] = []
  let oldAt = g.rng.int(1, 200)
  // How far the new file's lines are from the old one's at this point (earlier hunks' net lines).
  let delta = Math.max(1 - oldAt, g.rng.int(-5, 5))
  for (let h = g.rng.int(1, 3); h > 0; h--) {
    const lines: string[] = []
    for (const l of fileLines(g, kind, 3)) lines.push(` ${l}`)
    for (const l of fileLines(g, kind, Math.max(1, g.rng.int(0, 3)))) lines.push(`-${l}`)
    for (const l of fileLines(g, kind, Math.max(1, Math.round(size / 2)))) lines.push(`+${l}`)
    for (const l of fileLines(g, kind, 3)) lines.push(` ${l}`)
    hunks.push({ oldStart: oldAt, newStart: oldAt + delta, lines })
    const olds = lines.filter((l) => !l.startsWith('+')).length
    const news = lines.filter((l) => !l.startsWith('-')).length
    delta += news - olds
    oldAt += olds + g.rng.int(10, 120)
  }
  return { filename, kind, status: 'modified', hunks }
}

/** The unified diff of a draft; and the new file's line number of each of its lines (0 for removed ones). */
function patchOf(f: DraftFile): string {
  return f.hunks.map((h) => {
    const olds = h.lines.filter((l) => !l.startsWith('+')).length
    const news = h.lines.filter((l) => !l.startsWith('-')).length
    return `@@ -${h.oldStart},${olds} +${h.newStart},${news} @@\n${h.lines.join('\n')}`
  }).join('\n')
}

/** Puts `line` as an added line into a draft; answers its line number in the new file. */
function addLine(g: Gen, f: DraftFile, line: string): number {
  if (f.hunks.length === 0) f.hunks.push({ oldStart: 0, newStart: 1, lines: [] })
  const h = g.rng.pick(f.hunks)
  // After the hunk's leading context, before its trailing context: among the added lines.
  const at = Math.min(h.lines.length, g.rng.int(3, Math.max(3, h.lines.length - 3)))
  h.lines.splice(at, 0, `+${line}`)
  let n = h.newStart
  for (let i = 0; i < at; i++) if (!h.lines[i]!.startsWith('-')) n++
  // The later hunks of the file move down by one line.
  for (const other of f.hunks) if (other !== h && other.newStart > h.newStart) other.newStart++
  return n
}

/** How a token is written into a file of `kind`. */
function assignment(g: Gen, kind: FileKind, token: string): string {
  const name = g.rng.pick(['API_KEY', 'ACCESS_TOKEN', 'SERVICE_TOKEN', 'CLIENT_SECRET', 'AUTH_TOKEN'])
  switch (kind) {
    case 'env': return `${name}=${token}`
    case 'py': return `    ${name.toLowerCase()} = "${token}"`
    case 'go': return `\t${name.toLowerCase().replace(/_(\w)/g, (_, c: string) => c.toUpperCase())} := "${token}"`
    case 'yml': return `  ${name.toLowerCase()}: ${token}`
    case 'json': return `  "${name.toLowerCase()}": "${token}",`
    case 'md': return `Use \`${token}\` as the ${name.toLowerCase().replace('_', ' ')}.`
    default: return `  const ${name.toLowerCase().replace(/_(\w)/g, (_, c: string) => c.toUpperCase())} = '${token}'`
  }
}

/** Provider formats whose sample the format's own rule finds whole: usable as bare tokens. */
function providerFormats(g: Gen): Array<(rng: Rng) => string> {
  const out: Array<(rng: Rng) => string> = []
  for (const spec of PROVIDER_SPECS) {
    if (spec.near !== undefined || spec.pairedWith !== undefined) continue
    const sample = spec.samples.valid[0]
    if (sample === undefined) continue
    let value: string
    try {
      value = expandSample(sample, g.rng)
    } catch {
      continue
    }
    if (!/^[A-Za-z0-9_\-.+/=~]{16,200}$/.test(value)) continue
    const found = scanText(`token: ${value}\n`, { rules: [providerRule(spec)] })
    if (found.length !== 1 || found[0]!.value !== value) continue
    out.push((rng) => expandSample(sample, rng))
  }
  return out
}

/** An unknown format of ours: shapes an issuer might choose, none a built-in rule's. */
function ourUnknownToken(g: Gen): string {
  switch (g.rng.int(0, 3)) {
    case 0: return `acme_live_${g.rng.chars(40, ALPHA.base62)}`
    case 1: return g.rng.chars(40, ALPHA.lowerHex)
    case 2: return `ak-${g.hex(8)}-${g.hex(4)}-${g.hex(4)}-${g.hex(12)}`
    default: return g.rng.chars(43, ALPHA.base64url)
  }
}

const EVENT_MIX: Array<[string, number]> = [
  ['PushEvent', 50], ['CreateEvent', 12], ['WatchEvent', 8], ['PullRequestEvent', 8], ['IssueCommentEvent', 6],
  ['DeleteEvent', 4], ['IssuesEvent', 3], ['PullRequestReviewEvent', 3], ['ForkEvent', 2], ['PullRequestReviewCommentEvent', 2],
  ['ReleaseEvent', 1], ['GollumEvent', 0.5], ['MemberEvent', 0.3], ['PublicEvent', 0.2],
]
const MIX_TOTAL = EVENT_MIX.reduce((n, e) => n + e[1], 0)

/** A commit as the commits API answers it, its files' patches given. */
function commitJson(g: Gen, repo: string, sha: string, files: DraftFile[], at: string): string {
  let additions = 0
  let deletions = 0
  const out = files.map((f) => {
    const add = f.hunks.reduce((n, h) => n + h.lines.filter((l) => l.startsWith('+')).length, 0)
    const del = f.hunks.reduce((n, h) => n + h.lines.filter((l) => l.startsWith('-')).length, 0)
    additions += add
    deletions += del
    const blob = g.hex(40)
    return {
      sha: blob, filename: f.filename, status: f.status, additions: add, deletions: del, changes: add + del,
      blob_url: `https://github.com/${repo}/blob/${sha}/${f.filename}`, raw_url: `https://github.com/${repo}/raw/${sha}/${f.filename}`,
      contents_url: `https://api.github.com/repos/${repo}/contents/${f.filename}?ref=${sha}`,
      // Binary files, and diffs too large to show, come without a patch.
      ...(f.kind === 'bin' || f.hunks.length === 0 ? {} : { patch: patchOf(f) }),
    }
  })
  const person = { name: cap(g.w()), email: `${g.w()}@users.noreply.github.com`, date: at }
  return JSON.stringify({
    sha, node_id: `C_kwDO${g.rng.chars(20, ALPHA.base62)}`,
    commit: { author: person, committer: person, message: g.sentence(g.rng.int(3, 12)), tree: { sha: g.hex(40), url: `https://api.github.com/repos/${repo}/git/trees/${g.hex(40)}` }, url: `https://api.github.com/repos/${repo}/git/commits/${sha}`, comment_count: 0, verification: { verified: false, reason: 'unsigned', signature: null, payload: null, verified_at: null } },
    url: `https://api.github.com/repos/${repo}/commits/${sha}`, html_url: `https://github.com/${repo}/commit/${sha}`,
    comments_url: `https://api.github.com/repos/${repo}/commits/${sha}/comments`, author: null, committer: null,
    parents: [{ sha: g.hex(40), url: `https://api.github.com/repos/${repo}/commits/${g.hex(40)}`, html_url: `https://github.com/${repo}/commit/${g.hex(40)}` }],
    stats: { total: additions + deletions, additions, deletions }, files: out,
  })
}

/** A user-like object as events carry it. */
function actorOf(g: Gen, login: string): Record<string, unknown> {
  const id = g.rng.int(1000, 250_000_000)
  return { id, login, display_login: login, gravatar_id: '', url: `https://api.github.com/users/${login}`, avatar_url: `https://avatars.githubusercontent.com/u/${id}?` }
}

/** The payload of a non-push event of `type`: the fields its type has, sizes of the same order. */
function payloadOf(g: Gen, type: string, repo: string): Record<string, unknown> {
  const number = g.rng.int(1, 40_000)
  const user = { login: g.ident(), id: g.rng.int(1000, 250_000_000), type: 'User', site_admin: false }
  const issue = (): Record<string, unknown> => ({
    url: `https://api.github.com/repos/${repo}/issues/${number}`, html_url: `https://github.com/${repo}/issues/${number}`, id: g.rng.int(1e9, 3e9), number,
    title: g.sentence(g.rng.int(3, 10)), user, labels: [], state: 'open', locked: false, comments: g.rng.int(0, 40),
    created_at: '2026-11-29T10:00:00Z', updated_at: '2026-11-30T09:00:00Z', author_association: 'NONE',
    body: Array.from({ length: g.rng.int(1, 12) }, () => g.sentence(g.rng.int(6, 25))).join('\n\n'),
  })
  switch (type) {
    case 'CreateEvent': return { ref: g.rng.next() < 0.3 ? null : `${g.w()}-${g.w()}`, ref_type: g.rng.pick(['branch', 'branch', 'tag', 'repository']), master_branch: 'main', description: g.rng.next() < 0.5 ? g.sentence(6) : null, pusher_type: 'user' }
    case 'WatchEvent': return { action: 'started' }
    case 'DeleteEvent': return { ref: `${g.w()}-${g.w()}`, ref_type: 'branch', pusher_type: 'user' }
    case 'ForkEvent': return { forkee: { id: g.rng.int(1e8, 1e9), name: repo.split('/')[1], full_name: `${g.ident()}/${repo.split('/')[1]}`, private: false, owner: user, description: g.sentence(6), fork: true, created_at: '2026-11-30T09:00:00Z', default_branch: 'main' } }
    case 'IssuesEvent': return { action: g.rng.pick(['opened', 'closed', 'reopened']), issue: issue() }
    case 'IssueCommentEvent': return { action: 'created', issue: issue(), comment: { id: g.rng.int(1e9, 3e9), user, created_at: '2026-11-30T09:00:00Z', author_association: 'CONTRIBUTOR', body: Array.from({ length: g.rng.int(1, 6) }, () => g.sentence(g.rng.int(5, 25))).join('\n') } }
    case 'PullRequestEvent': case 'PullRequestReviewEvent': case 'PullRequestReviewCommentEvent': {
      const pr = { ...issue(), url: `https://api.github.com/repos/${repo}/pulls/${number}`, html_url: `https://github.com/${repo}/pull/${number}`, head: { label: `${user.login}:${g.w()}`, ref: g.w(), sha: g.hex(40) }, base: { label: `${repo.split('/')[0]}:main`, ref: 'main', sha: g.hex(40) }, merged: false, draft: false }
      if (type === 'PullRequestEvent') return { action: g.rng.pick(['opened', 'closed', 'synchronize']), number, pull_request: pr }
      if (type === 'PullRequestReviewEvent') return { action: 'created', review: { id: g.rng.int(1e9, 3e9), user, body: g.rng.next() < 0.5 ? null : g.sentence(10), state: 'approved', commit_id: g.hex(40) }, pull_request: pr }
      return { action: 'created', comment: { id: g.rng.int(1e9, 3e9), path: `src/${g.w()}.ts`, diff_hunk: `@@ -1,3 +1,4 @@\n ${codeLine(g, 'ts')}\n+${codeLine(g, 'ts')}`, user, body: g.sentence(12) }, pull_request: pr }
    }
    case 'ReleaseEvent': return { action: 'published', release: { tag_name: `v${g.rng.int(0, 9)}.${g.rng.int(0, 30)}.0`, name: g.sentence(3), body: Array.from({ length: g.rng.int(2, 15) }, () => `- ${g.sentence(8)}`).join('\n'), draft: false, prerelease: false, author: user } }
    case 'GollumEvent': return { pages: [{ page_name: g.w(), title: g.sentence(3), action: 'edited', sha: g.hex(40) }] }
    case 'MemberEvent': return { action: 'added', member: user }
    default: return {}
  }
}

/** Generates the hour: about a second a thousand events on a loaded 2-core machine, and 2 GB of memory for 250 000. */
export function generateHour(options: HourOptions): GeneratedHour {
  const g = new Gen(options.seed)
  const formats = providerFormats(g)
  const hourStart = Date.parse(`${options.hour.replace(/-(\d{1,2})$/, (_, h: string) => `T${h.padStart(2, '0')}`)}:00:00Z`)
  const owners = Array.from({ length: Math.max(100, Math.round(options.events / 5)) }, () => `${g.ident()}${g.rng.int(0, 9999)}`)
  const repoName = (): string => `${g.rng.pick(owners)}/${g.ident()}-${g.w()}`
  // Repositories see several events an hour: a pool of a fifth of the events' count.
  const repos = Array.from({ length: Math.max(50, Math.round(options.events / 4)) }, repoName)

  // Pushes first chosen, so tokens can be planted in them before their commits are rendered.
  const types: string[] = []
  for (let i = 0; i < options.events; i++) {
    let r = g.rng.next() * MIX_TOTAL
    let type = 'PushEvent'
    for (const [t, weight] of EVENT_MIX) {
      r -= weight
      if (r < 0) {
        type = t
        break
      }
    }
    types.push(type)
  }
  const pushIndexes = types.flatMap((t, i) => (t === 'PushEvent' ? [i] : []))
  interface Push { repo: string; sha: string; files: DraftFile[]; repeatOf?: number }
  const pushes: Push[] = []
  let repeats = 0
  for (let p = 0; p < pushIndexes.length; p++) {
    // A fork or a mirror pushing the same commit as an earlier push: about one push in twenty.
    if (p > 10 && g.rng.next() < 0.05) {
      const of = g.rng.int(0, p - 1)
      const original = pushes[of]!
      if (original.repeatOf === undefined) {
        pushes.push({ repo: `${g.rng.pick(owners)}/${original.repo.split('/')[1]}`, sha: original.sha, files: original.files, repeatOf: of })
        repeats++
        continue
      }
    }
    const r = g.rng.next()
    const count = r < 0.5 ? 1 : r < 0.8 ? g.rng.int(2, 3) : g.rng.int(4, 10)
    pushes.push({ repo: g.rng.pick(repos), sha: g.hex(40), files: Array.from({ length: count }, () => draftFile(g)) })
  }

  // Other providers' tokens: someone else's, in .env files, configs and code.
  const originals = pushes.map((p, i) => (p.repeatOf === undefined ? i : -1)).filter((i) => i >= 0)
  // Tokens of ours go only where no fork repeats the content, but for the repeats made on purpose below.
  const repeated = new Set(pushes.flatMap((p) => (p.repeatOf === undefined ? [] : [p.repeatOf])))
  const plantable = originals.filter((i) => !repeated.has(i))
  const textFile = (push: Push): DraftFile => {
    const candidates = push.files.filter((f) => f.kind !== 'bin' && f.kind !== 'min' && f.hunks.length > 0)
    if (candidates.length > 0) return g.rng.pick(candidates)
    const f: DraftFile = { filename: `config/${g.w()}.env`, kind: 'env', status: 'added', hunks: [{ oldStart: 0, newStart: 1, lines: fileLines(g, 'env', 3).map((l) => `+${l}`) }] }
    push.files.push(f)
    return f
  }
  for (let i = 0; i < options.others && formats.length > 0; i++) {
    const push = pushes[g.rng.pick(originals)]!
    const f = textFile(push)
    addLine(g, f, assignment(g, f.kind, g.rng.pick(formats)(g.rng)))
  }

  // Tokens of ours: a third in formats no rule knows; a fifth of them in two places; some places
  // repeated by a fork afterwards.
  const planted: PlantedToken[] = []
  const usedPushes = new Set<number>()
  for (let i = 0; i < options.planted; i++) {
    const unknown = i % 3 === 0 || formats.length === 0
    const token = unknown ? ourUnknownToken(g) : g.rng.pick(formats)(g.rng)
    const places: PlantedPlace[] = []
    for (let k = g.rng.next() < 0.2 ? 2 : 1; k > 0; k--) {
      let p = g.rng.pick(plantable)
      // A token once a unit: the candidates of a unit are counted once each.
      for (let tries = 0; usedPushes.has(p) && tries < 100; tries++) p = g.rng.pick(plantable)
      usedPushes.add(p)
      const push = pushes[p]!
      const f = textFile(push)
      const line = addLine(g, f, assignment(g, f.kind, token))
      places.push({ repo: push.repo, commit: push.sha, path: f.filename, line, repeat: false })
    }
    planted.push({ sha256: createHash('sha256').update(token).digest('hex'), format: unknown ? 'unknown' : 'provider', places })
  }
  // Forks repeating a planted commit: the place is public, but its content was scanned already.
  const plantedRepeats = Math.floor(options.planted / 10)
  const slots = new Set<number>()
  for (let i = 0; i < plantedRepeats; i++) {
    const t = planted[i * 7 % planted.length]!
    const first = t.places[0]!
    const of = pushes.findIndex((p) => p.repo === first.repo && p.sha === first.commit)
    if (of < 0) continue
    // A repeat slot after the original whose own original holds no token of ours.
    const slot = pushes.findIndex((p, j) => j > of && p.repeatOf !== undefined && !slots.has(j) && !usedPushes.has(p.repeatOf))
    if (slot < 0) continue
    slots.add(slot)
    const repo = `${g.rng.pick(owners)}/${pushes[of]!.repo.split('/')[1]}`
    pushes[slot] = { repo, sha: first.commit, files: pushes[of]!.files, repeatOf: of }
    t.places.push({ repo, commit: first.commit, path: first.path, line: first.line, repeat: true })
  }

  // Render: the commits API's answers, then the hour's lines.
  const commits = new Map<string, Buffer>()
  let patchBytes = 0
  let commitJsonBytes = 0
  const lines: string[] = []
  let id = 46_000_000_000 + g.rng.int(0, 1_000_000)
  let pushNo = 0
  for (let i = 0; i < options.events; i++) {
    id += g.rng.int(1, 3)
    const at = new Date(hourStart + Math.floor((i / options.events) * 3_600_000)).toISOString().replace(/\.\d{3}Z$/, 'Z')
    const type = types[i]!
    let repo: string
    let payload: Record<string, unknown>
    if (type === 'PushEvent') {
      const push = pushes[pushNo++]!
      repo = push.repo
      const body = commitJson(g, repo, push.sha, push.files, at)
      payload = { repository_id: g.rng.int(1e8, 1e9), push_id: g.rng.int(2e10, 3e10), ref: `refs/heads/${g.rng.next() < 0.7 ? 'main' : g.w()}`, head: push.sha, before: g.hex(40) }
      // The source asks the compare API for a push's commits; for a push of one commit, the
      // comparison's files are the commit's, and nothing else is read.
      const path = `/repos/${repo}/compare/${String(payload.before)}...${push.sha}`
      if (!commits.has(path)) {
        const { files } = JSON.parse(body) as { files: unknown[] }
        const buf = Buffer.from(JSON.stringify({ status: 'ahead', ahead_by: 1, behind_by: 0, total_commits: 1, commits: [{ sha: push.sha }], files }))
        commits.set(path, buf)
        commitJsonBytes += buf.length
        for (const f of push.files) if (f.kind !== 'bin' && f.hunks.length > 0) patchBytes += Buffer.byteLength(patchOf(f))
      }
    } else {
      repo = g.rng.pick(repos)
      payload = payloadOf(g, type, repo)
    }
    const login = repo.split('/')[0]!
    lines.push(JSON.stringify({
      id: String(id), type, actor: actorOf(g, login), repo: { id: g.rng.int(1e8, 1e9), name: repo, url: `https://api.github.com/repos/${repo}` },
      payload, public: true, created_at: at, ...(g.rng.next() < 0.15 ? { org: { id: g.rng.int(1e6, 2e8), login: g.ident(), gravatar_id: '', url: `https://api.github.com/orgs/${g.w()}`, avatar_url: `https://avatars.githubusercontent.com/u/${g.rng.int(1e6, 2e8)}?` } } : {}),
    }))
  }
  const raw = Buffer.from(`${lines.join('\n')}\n`)
  return {
    hour: options.hour, gz: gzipSync(raw, { level: 6 }), rawBytes: raw.length, events: options.events, pushes: pushes.length, repeats,
    commits, patchBytes, commitJsonBytes, planted, others: formats.length === 0 ? 0 : options.others,
  }
}

/** The local server of an hour: GH Archive's file and GitHub's commits API, every answer rendered before. */
export interface HourServer {
  url: string
  /** Requests answered, by kind. */
  served: { archive: number; commits: number; missing: number }
  close(): Promise<void>
}

/** Serves `hour` on a loopback port. */
export async function serveHour(hour: GeneratedHour): Promise<HourServer> {
  const served = { archive: 0, commits: 0, missing: 0 }
  const archivePath = `/${hour.hour}.json.gz`
  const reset = String(Math.floor(Date.now() / 1000) + 3600)
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/'
    if (path === archivePath) {
      served.archive++
      res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': String(hour.gz.length) }).end(hour.gz)
      return
    }
    const body = hour.commits.get(path)
    if (body === undefined) {
      served.missing++
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Not Found"}')
      return
    }
    served.commits++
    // A budget that never runs out: the bench measures the workers, not GitHub's limit (the estimate does).
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(body.length), 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '4999', 'x-ratelimit-reset': reset }).end(body)
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    served,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
}

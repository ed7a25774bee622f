/**
 * `leakgate scan <path or git URL>`: finds secrets and prints them (table on a terminal,
 * `--format json|sarif`), optionally pushing them to the control plane. Exit code 1 when
 * something was found, 0 when nothing was, 2 on an error. Progress goes to standard error.
 */
import { existsSync, statSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { parseArgs } from 'node:util'
import { scanSource, resolveRules, type ScanSourceSpec } from './index.js'
import { checksumDroppedText, readIgnoreFile, type Finding } from './findings.js'
import { formatJson, formatKindsJson, formatKindsTable, formatSarif, formatTable, type OutputFormat } from './output.js'
import { builtinRules } from './rules.js'
import { loadScanConfig } from './scan-config.js'
import { pushFindings } from './push.js'
import type { Progress } from './sources/source.js'
import { leakgateVersion } from '../../lib/version.js'
import { usageMistake } from '../../lib/usage.js'

const USAGE = `usage: leakgate scan <path or git URL> [options]
       leakgate scan --github-org NAME | --github-user NAME | --github-gists USER [options]
       leakgate scan --gitlab-group PATH | --gitlab-user NAME | --gitlab-project PATH [options]

Finds leaked credentials in a directory, a git repository (with --history: every commit of
every branch and tag, deleted files and commit messages), the public repositories of a GitHub
organisation or user, a GitHub user's public gists, or the public projects of a GitLab group
(subgroups included) or user, or one GitLab project. Exit code: 1 secrets found, 0 none, 2 error.

options:
  --history              read the whole git history, not only the current files
  --format FORMAT        table (default on a terminal), json (default otherwise) or sarif
  --rules FILE           add a gitleaks configuration's rules (LEAKGATE_RULES)
  --show-secrets         print raw secrets (table and json only); never pushed
  --push                 send findings to the control plane (POST /v1/scans) with LEAKGATE_API_KEY
  --control-plane URL    control plane for --push (LEAKGATE_CONTROL_PLANE, http://127.0.0.1:8080)
  --config FILE          YAML or JSON file with these options
  --ignore-file FILE     fingerprints to leave out (default: <dir>/.leakgateignore)
  --max-file-size BYTES  skip larger files (LEAKGATE_SCAN_MAX_FILE_SIZE, 10 MiB)
  --cache-dir DIR        where remote repositories are mirrored (LEAKGATE_SCAN_CACHE_DIR)
  --github-api-url URL   GitHub API base, for GitHub Enterprise (LEAKGATE_GITHUB_API_URL)
  --github-max-wait S    longest wait for a GitHub or GitLab rate-limit reset (LEAKGATE_GITHUB_MAX_WAIT)
  --gitlab-api-url URL   GitLab API base, for a self-managed GitLab (LEAKGATE_GITLAB_API_URL,
                         https://gitlab.com/api/v4)
  --jobs N               threads scanning a directory's files (default: the cores, at most 4;
                         a directory under 2 MiB is scanned on one)
  --list-kinds           print the kinds of secret the built-in rules find, and exit
  --quiet                no progress on standard error
GitHub token: LEAKGATE_GITHUB_TOKEN or GITHUB_TOKEN. GitLab token: LEAKGATE_GITLAB_TOKEN or GITLAB_TOKEN.`

/** Runs `leakgate scan`; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        history: { type: 'boolean' },
        format: { type: 'string' },
        rules: { type: 'string' },
        'show-secrets': { type: 'boolean' },
        push: { type: 'boolean' },
        'control-plane': { type: 'string' },
        config: { type: 'string' },
        'ignore-file': { type: 'string' },
        'max-file-size': { type: 'string' },
        'cache-dir': { type: 'string' },
        'github-api-url': { type: 'string' },
        'github-max-wait': { type: 'string' },
        'github-org': { type: 'string' },
        'github-user': { type: 'string' },
        'github-gists': { type: 'string' },
        'gitlab-api-url': { type: 'string' },
        'gitlab-group': { type: 'string' },
        'gitlab-user': { type: 'string' },
        'gitlab-project': { type: 'string' },
        quiet: { type: 'boolean' },
        jobs: { type: 'string' },
        'list-kinds': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    })
  } catch (err) {
    console.error(usageMistake('scan', (err as Error).message))
    return 2
  }
  const v = parsed.values
  if (v.help === true) {
    console.log(USAGE)
    return 0
  }
  try {
    const format = (v.format ?? (process.stdout.isTTY ? 'table' : 'json')) as OutputFormat
    if (!['table', 'json', 'sarif'].includes(format)) throw usageError(`--format must be table, json or sarif, got "${v.format}"`)
    const config = loadScanConfig({
      file: v.config,
      env: process.env,
      flags: {
        rules: v.rules, 'cache-dir': v['cache-dir'], 'max-file-size': v['max-file-size'], 'control-plane': v['control-plane'],
        'github-api-url': v['github-api-url'], 'github-max-wait': v['github-max-wait'], 'ignore-file': v['ignore-file'],
        'gitlab-api-url': v['gitlab-api-url'],
      },
    })
    if (v['list-kinds'] === true) {
      process.stdout.write(v.format === 'json' ? formatKindsJson(builtinRules()) : formatKindsTable(builtinRules()))
      return 0
    }
    // The cores by default: beyond a few, threads' rule compilation and memory cost more than they give.
    const jobs = v.jobs === undefined ? Math.min(availableParallelism(), MAX_DEFAULT_JOBS) : Number(v.jobs)
    if (!Number.isInteger(jobs) || jobs < 1) throw usageError(`--jobs must be a whole number of threads, 1 or more, got "${v.jobs}"`)
    const source = sourceOf(parsed.positionals, v)
    const rulesFiles = config.rules === undefined ? [] : [config.rules]
    const showSecrets = v['show-secrets'] === true && format !== 'sarif'
    // Resolved here for SARIF's rule descriptions, the warnings, and to report a bad rules file before reading anything.
    const { rules, warnings } = resolveRules({ rulesFiles })
    for (const w of warnings) process.stderr.write(`warning: ${w}\n`)
    const ignore = config.ignoreFile === undefined ? new Set<string>() : readIgnoreFile(config.ignoreFile, (p) => process.stderr.write(`warning: ${p}\n`))
    if (v.push === true && (config.apiKey === undefined || config.apiKey === '')) throw usageError('--push needs an admin API key in LEAKGATE_API_KEY')
    const progress = progressPrinter(v.quiet === true)
    const started = Date.now()
    let result
    try {
      result = await scanSource(source, {
        rulesFiles, ignore, jobs,
        showSecrets,
        maxFileSize: config.maxFileSize,
        cacheDir: config.cacheDir,
        github: { apiUrl: config.githubApiUrl, ...(config.githubToken === undefined ? {} : { token: config.githubToken }), maxRateLimitWait: config.maxRateLimitWait },
        gitlab: { apiUrl: config.gitlabApiUrl, ...(config.gitlabToken === undefined ? {} : { token: config.gitlabToken }), maxRateLimitWait: config.maxRateLimitWait },
        onProgress: progress.update,
        onWarning: (w) => process.stderr.write(`warning: ${w}\n`),
      })
    } finally {
      progress.done()
    }
    const { findings } = result
    const out = format === 'json' ? formatJson(findings, rules) : format === 'sarif' ? formatSarif(findings, rules, leakgateVersion()) : formatTable(findings)
    process.stdout.write(out)
    if (v.quiet !== true) console.error(summary(findings, result.progress, Date.now() - started))
    if (v.push === true) {
      const pushed = await pushFindings(config.controlPlane, config.apiKey ?? '', source, findings, result.progress.checksumDropped)
      if (v.quiet !== true) console.error(`pushed to ${config.controlPlane}: scan ${pushed.id}, ${pushed.leaksCreated} leak(s) created, ${pushed.leaksUpdated} updated`)
    }
    return findings.length > 0 ? 1 : 0
  } catch (err) {
    const e = err as Error & { code?: string }
    console.error(e.code === 'USAGE' ? usageMistake('scan', e.message) : `leakgate scan: ${e.message}`)
    return 2
  }
}

/** The most threads a scan uses when `--jobs` is not given. */
const MAX_DEFAULT_JOBS = 4

function usageError(message: string): Error {
  return Object.assign(new Error(message), { code: 'USAGE' })
}

/** The flags that name a hosted source, and the source each makes. */
const HOSTED = {
  'github-org': (org: string, history: boolean): ScanSourceSpec => ({ type: 'github', org, history }),
  'github-user': (user: string, history: boolean): ScanSourceSpec => ({ type: 'github', user, history }),
  'github-gists': (gists: string, history: boolean): ScanSourceSpec => ({ type: 'github', gists, history }),
  'gitlab-group': (group: string, history: boolean): ScanSourceSpec => ({ type: 'gitlab', group, history }),
  'gitlab-user': (user: string, history: boolean): ScanSourceSpec => ({ type: 'gitlab', user, history }),
  'gitlab-project': (project: string, history: boolean): ScanSourceSpec => ({ type: 'gitlab', project, history }),
} as const

function sourceOf(positionals: string[], v: { history?: boolean } & Partial<Record<keyof typeof HOSTED, string>>): ScanSourceSpec {
  const history = v.history === true
  const hosted = (Object.keys(HOSTED) as Array<keyof typeof HOSTED>).filter((flag) => v[flag] !== undefined)
  if (hosted.length > 0) {
    if (positionals.length > 0) throw usageError(`give either a path or URL, or --${hosted[0]}, not both`)
    if (hosted.length > 1) throw usageError(`give one of ${hosted.map((f) => `--${f}`).join(', ')}, not several`)
    const flag = hosted[0]!
    return HOSTED[flag](v[flag]!, history)
  }
  if (positionals.length !== 1) throw usageError('give one path or git URL to scan')
  const target = positionals[0]!
  if (existsSync(target)) {
    const isRepo = statSync(target).isDirectory() && (existsSync(`${target}/.git`) || existsSync(`${target}/HEAD`) && existsSync(`${target}/objects`))
    // Without --history a working tree is scanned as files, uncommitted changes included.
    if (history && isRepo) return { type: 'git', url: target, history }
    if (history) throw usageError(`--history needs a git repository; ${target} is not one`)
    return { type: 'dir', path: target }
  }
  if (/^(?:https?|ssh|git|file):\/\/|^[\w.-]+@[\w.-]+:/.test(target)) return { type: 'git', url: target, history }
  throw usageError(`${target}: no such file or directory, and not a git URL`)
}

function progressPrinter(quiet: boolean): { update: (p: Readonly<Progress>) => void; done: () => void } {
  const tty = process.stderr.isTTY === true
  let last = Date.now()
  let printed = false
  const line = (p: Readonly<Progress>): string =>
    `scanning: ${p.files} files, ${p.commits} commits${p.repos > 0 ? `, ${p.repos} repos` : ''}, ${(p.bytes / 1048576).toFixed(1)} MiB`
  return {
    update(p) {
      if (quiet) return
      const now = Date.now()
      // Only long scans report: a line a second on a terminal, every 10 s in a log.
      if (now - last < (tty ? 1000 : 10000)) return
      last = now
      printed = true
      if (tty) process.stderr.write(`\r${line(p)}\u001b[K`)
      else process.stderr.write(`${line(p)}\n`)
    },
    done() {
      if (printed && tty) process.stderr.write('\r\u001b[K')
    },
  }
}

function summary(findings: readonly Finding[], p: Readonly<Progress>, ms: number): string {
  const history = findings.filter((f) => f.inHistoryOnly).length
  return `${findings.length} finding${findings.length === 1 ? '' : 's'}${history > 0 ? ` (${history} in history only)` : ''} in ${p.files} files` +
    `${p.commits > 0 ? `, ${p.commits} commits` : ''}${p.repos > 0 ? `, ${p.repos} repos` : ''}, ${(p.bytes / 1048576).toFixed(1)} MiB, ${(ms / 1000).toFixed(1)} s` +
    `${p.skipped > 0 ? `; ${p.skipped} binary or oversized files skipped` : ''}${droppedNote(p)}`
}

/** What the scan left out for a bad checksum, counted (never the values): empty when nothing was. */
function droppedNote(p: Readonly<Progress>): string {
  const text = checksumDroppedText(p.checksumDropped)
  return text === undefined ? '' : `; ${text}`
}


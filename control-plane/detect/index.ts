/**
 * The detection engine's programmatic API, used by `leakgate scan` and the control plane:
 * `scanSource(source, options)` → findings (sha256 and preview, never the raw secret unless
 * asked), progress counts, and the state that lets the next scan read only new commits.
 */
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import { tmpdir } from 'node:os'
import { resolveRules } from './rules.js'
import { allowlistsOf, type Allowlist, type Rule } from './rule.js'
import { scanText } from './scanner.js'
import { dedupeFindings, isIgnored, readIgnoreFile, toFindings, type Finding } from './findings.js'
import { DEFAULT_LIMITS, newProgress, type Progress, type ScanItem, type SourceLimits } from './sources/source.js'
import { dirFiles, dirSource, type DirFile } from './sources/dir.js'
import { gitSource, type GitState } from './sources/git.js'
import { githubSource, type GitHubState } from './sources/github.js'
import { gistSource } from './sources/github-gists.js'
import { gitlabSource } from './sources/gitlab.js'
import { checkLocalPath, type ReachPolicy } from './sources/reach.js'
import { allowlistSources, scanDirBatch, scanThreadsFor, scanThreadsStarted, type FileOutcome, type RuleSources } from './scan-threads.js'
export { closeScanThreads } from './scan-threads.js'

export type { Finding } from './findings.js'
export { checksumDroppedText } from './findings.js'
export { resolveRules } from './rules.js'
export type { Progress } from './sources/source.js'
export type { ReachPolicy } from './sources/reach.js'

/** What to scan (docs/api.md "Scans" `source`). */
export type ScanSourceSpec =
  | { type: 'dir'; path: string }
  | { type: 'git'; url: string; history?: boolean }
  | { type: 'github'; org: string; history?: boolean }
  | { type: 'github'; user: string; history?: boolean }
  | { type: 'github'; gists: string; history?: boolean }
  | { type: 'gitlab'; group: string; history?: boolean }
  | { type: 'gitlab'; user: string; history?: boolean }
  | { type: 'gitlab'; project: string; history?: boolean }

/** What a scan leaves for the next scan of the same source. */
export interface ScanState {
  /** git: commit ids of every ref read. */
  tips?: string[]
  /** git: fingerprints from the repository's `.leakgateignore`. */
  ignore?: string[]
  /** github, gitlab: the same, per repository (`acme/api`, `acme/platform/api`, `gist:ID`). */
  repos?: Record<string, GitState>
}

/** Options of a scan. */
export interface ScanOptions {
  /** The rules; default: the built-in ones plus those of `rulesFiles`. */
  rules?: readonly Rule[]
  /** gitleaks configuration files whose rules are added to the built-in rules. */
  rulesFiles?: readonly string[]
  /** Paths and values to ignore across all rules. */
  allowlist?: Allowlist | readonly Allowlist[]
  /** Fingerprints to leave out (`.leakgateignore`). A directory's own `.leakgateignore` is read too. */
  ignore?: ReadonlySet<string>
  /** Keep the raw secret on each finding (`secret`). Only for a person at a terminal. */
  showSecrets?: boolean
  /** Files larger than this (bytes) are skipped; default 10 MiB. */
  maxFileSize?: number
  /** Where remote repositories are mirrored; default `$TMPDIR/leakgate-scan-cache`. */
  cacheDir?: string
  github?: { apiUrl?: string; token?: string; maxRateLimitWait?: number; includeForks?: boolean }
  /** GitLab access: API base (default https://gitlab.com/api/v4) and token (sent as `PRIVATE-TOKEN`). */
  gitlab?: { apiUrl?: string; token?: string; maxRateLimitWait?: number; includeForks?: boolean }
  /** State from the previous scan of this source: only new commits are read. */
  since?: ScanState
  /** Called as the scan goes, after each file or commit message. */
  onProgress?: (progress: Readonly<Progress>) => void
  /** Hears what the scan could not use as given (an entry of a directory's `.leakgateignore` that leaves nothing out). */
  onWarning?: (message: string) => void
  /** Stops the scan between two files. */
  signal?: AbortSignal
  /** Which local paths and remote hosts the scan may reach; undefined: anything (the CLI). */
  reach?: ReachPolicy
  /** Receives what git said when a remote failed (redacted): for the operator's log, not the caller. */
  onDiagnostic?: (text: string) => void
  /** The scan stops once it holds this many findings (the result says `truncated`); default unlimited. */
  maxFindings?: number
  /** The scan stops once it has read this many bytes (the result says `truncated`); default unlimited. */
  maxBytes?: number
  /**
   * Threads scanning a directory's files, this one included (default 1: this thread). More than one
   * only for a directory of 2 MiB or more (or when a pool is already up), and only when the rules are
   * the built-in ones plus `rulesFiles` (not `rules`): each worker builds them again, once, and stays
   * for the process's next scans. The findings are the same, in the same order.
   */
  jobs?: number
}

/** A scan's result. */
export interface ScanResult {
  findings: Finding[]
  progress: Progress
  state: ScanState
  /** Set when the scan stopped at `maxFindings` or `maxBytes`: what it says is incomplete. */
  truncated?: 'findings' | 'bytes'
}

/**
 * Scans a directory, a git repository, a GitHub organisation's or user's repositories, a GitHub
 * user's gists, or a GitLab group's, user's or single project.
 * @throws RulesError, SourceError, GitHubError (codes LEAKGATE_ERR_*) when the scan cannot run.
 */
export async function scanSource(source: ScanSourceSpec, options: ScanOptions = {}): Promise<ScanResult> {
  const { rules, allowlist } = resolveRules(options)
  const limits = { maxFileSize: options.maxFileSize ?? DEFAULT_LIMITS.maxFileSize }
  const cacheDir = options.cacheDir ?? join(tmpdir(), 'leakgate-scan-cache')
  const progress = newProgress()
  const state: ScanState = {}
  const ignore = new Set([...(options.ignore ?? [])].map((f) => f.toLowerCase()))
  let items: AsyncGenerator<ScanItem>
  let dirPath: string | undefined
  const reach = {
    ...(options.reach === undefined ? {} : { reach: options.reach }),
    ...(options.onDiagnostic === undefined ? {} : { onDiagnostic: options.onDiagnostic }),
  }
  switch (source.type) {
    case 'dir': {
      const path = await checkLocalPath(source.path, options.reach)
      if (existsSync(path) && statSync(path).isDirectory()) {
        for (const f of readIgnoreFile(join(path, '.leakgateignore'), options.onWarning)) ignore.add(f)
      }
      dirPath = path
      items = dirSource(path, limits, progress)
      break
    }
    case 'git': {
      const gitState: GitState = { tips: [] }
      state.tips = gitState.tips
      items = (async function* () {
        yield* gitSource({ url: source.url, history: source.history ?? false, cacheDir, limits, ...reach, ...(options.since?.tips === undefined ? {} : { since: options.since.tips }) }, progress, gitState)
        state.tips = gitState.tips
        if (gitState.ignore !== undefined) state.ignore = gitState.ignore
      })()
      break
    }
    case 'github': {
      const repos: GitHubState = {}
      state.repos = repos
      const since = sinceOfRepos(options.since)
      if ('gists' in source) {
        items = gistSource({
          user: source.gists,
          history: source.history ?? false,
          cacheDir,
          limits,
          ...(options.github?.apiUrl === undefined ? {} : { apiUrl: options.github.apiUrl }),
          ...(options.github?.token === undefined ? {} : { token: options.github.token }),
          ...(options.github?.maxRateLimitWait === undefined ? {} : { maxRateLimitWait: options.github.maxRateLimitWait }),
          ...(since === undefined ? {} : { since }),
          ...reach,
        }, progress, repos)
        break
      }
      items = githubSource({
        ...('org' in source ? { org: source.org } : { user: source.user }),
        history: source.history ?? false,
        cacheDir,
        limits,
        ...(options.github?.apiUrl === undefined ? {} : { apiUrl: options.github.apiUrl }),
        ...(options.github?.token === undefined ? {} : { token: options.github.token }),
        ...(options.github?.maxRateLimitWait === undefined ? {} : { maxRateLimitWait: options.github.maxRateLimitWait }),
        ...(options.github?.includeForks === undefined ? {} : { includeForks: options.github.includeForks }),
        ...(since === undefined ? {} : { since }),
        ...reach,
      }, progress, repos)
      break
    }
    case 'gitlab': {
      const repos: Record<string, GitState> = {}
      state.repos = repos
      const since = sinceOfRepos(options.since)
      const gitlab = options.gitlab
      items = gitlabSource({
        ...('group' in source ? { group: source.group } : 'user' in source ? { user: source.user } : { project: source.project }),
        history: source.history ?? false,
        cacheDir,
        limits,
        ...(gitlab?.apiUrl === undefined ? {} : { apiUrl: gitlab.apiUrl }),
        ...(gitlab?.token === undefined ? {} : { token: gitlab.token }),
        ...(gitlab?.maxRateLimitWait === undefined ? {} : { maxRateLimitWait: gitlab.maxRateLimitWait }),
        ...(gitlab?.includeForks === undefined ? {} : { includeForks: gitlab.includeForks }),
        ...(since === undefined ? {} : { since }),
        ...reach,
      }, progress, repos)
      break
    }
    default:
      throw new TypeError(`unknown source type ${JSON.stringify((source as { type?: unknown }).type)}`)
  }
  const findings: Finding[] = []
  const maxFindings = options.maxFindings ?? Infinity
  const maxBytes = options.maxBytes ?? Infinity
  let truncated: ScanResult['truncated']
  const sources = dirPath !== undefined && (options.jobs ?? 1) > 1 && options.rules === undefined ? threadSources(options) : undefined
  if (dirPath !== undefined && sources !== undefined) {
    truncated = await scanInThreads(dirPath, limits, options.jobs ?? 1, sources, { rules, allowlist }, findings, progress, options)
  } else {
    let n = 0
    for await (const item of items) {
      options.signal?.throwIfAborted()
      const dropped = { checksum: 0 }
      const found = scanText(item.text, { rules, allowlist, path: item.origin.file, dropped, ...(item.origin.commit === undefined ? {} : { commit: item.origin.commit }) })
      progress.checksumDropped += dropped.checksum
      if (found.length > 0) findings.push(...toFindings(found, item.origin, options.showSecrets === true))
      options.onProgress?.(progress)
      if (findings.length >= maxFindings) truncated = 'findings'
      else if (progress.bytes >= maxBytes) truncated = 'bytes'
      // Leaving the loop ends the source (and its git processes) through the generator's return.
      if (truncated !== undefined) break
      // Let a server that runs scans in-process answer requests between files.
      if (++n % 64 === 0) await yieldToLoop()
    }
  }
  if (findings.length > maxFindings) findings.length = maxFindings
  // Repositories' own .leakgateignore files (git: state.ignore; github: one a repository).
  for (const f of state.ignore ?? []) ignore.add(f)
  for (const repo of Object.values(state.repos ?? {})) for (const f of repo.ignore ?? []) ignore.add(f)
  return { findings: dedupeFindings(findings).filter((f) => !isIgnored(ignore, f.fingerprint)), progress, state, ...(truncated === undefined ? {} : { truncated }) }
}

/** Per repository, the commits an earlier scan read (organisation, group and gists scans). */
function sinceOfRepos(since: ScanState | undefined): Record<string, string[]> | undefined {
  return since?.repos === undefined ? undefined : Object.fromEntries(Object.entries(since.repos).map(([k, v]) => [k, v.tips]))
}

function threadSources(options: Pick<ScanOptions, 'rulesFiles' | 'allowlist' | 'showSecrets'>): RuleSources | undefined {
  const given = allowlistsOf(options.allowlist)
  if (given.length > 1) return undefined
  const allowlist = allowlistSources(given[0] ?? { regexes: [], paths: [], stopwords: [] })
  if (allowlist === undefined) return undefined
  return { rulesFiles: [...(options.rulesFiles ?? [])], allowlist, showSecrets: options.showSecrets === true }
}

/** A batch goes to a thread once it holds this many bytes (by the listing's sizes) or files: small files travel together. */
const BATCH_BYTES = 1024 * 1024
const BATCH_FILES = 64
/** Threads start once the listing holds this much: below it, their start (module loads, rule compilation) costs more than it saves. */
const THREADS_AFTER_BYTES = 2 * 1024 * 1024

/**
 * Lists on this thread, reads and scans on `jobs` threads (this one and `jobs - 1` workers): batches
 * of paths, each file's outcome taken in listing order, so findings, progress and limits are those of
 * a one-thread scan. The workers are the process's pool (scan-threads.ts): a warm pool takes batches
 * at once; otherwise one starts once the listing holds THREADS_AFTER_BYTES, so a small directory
 * starts none. This thread scans every batch no worker wants (all busy, or not ready yet), so a
 * large directory is never slower for having asked for threads.
 */
async function scanInThreads(root: string, limits: SourceLimits, jobs: number, sources: RuleSources, local: { rules: Rule[]; allowlist: readonly Allowlist[] }, findings: Finding[], progress: Progress, options: ScanOptions): Promise<ScanResult['truncated']> {
  const maxFindings = options.maxFindings ?? Infinity
  const maxBytes = options.maxBytes ?? Infinity
  // This thread scans too: `jobs` threads in all.
  const workers = jobs - 1
  // A pool already up (an earlier scan's) is used from the first batch.
  let threads = scanThreadsStarted(workers, sources) ? scanThreadsFor(workers, sources) : undefined
  const inFlight: Array<Promise<FileOutcome[]>> = []
  let batch: DirFile[] = []
  let batchBytes = 0
  let listed = 0
  let here: Promise<void> | undefined
  let truncated: ScanResult['truncated']
  const settle = async (): Promise<void> => {
    for (const outcome of await inFlight.shift()!) {
      if (outcome === undefined) {
        progress.skipped++
        continue
      }
      progress.files++
      progress.bytes += outcome.bytes
      progress.checksumDropped += outcome.checksumDropped
      findings.push(...outcome.findings)
      options.onProgress?.(progress)
      if (findings.length >= maxFindings) truncated = 'findings'
      else if (progress.bytes >= maxBytes) truncated = 'bytes'
      if (truncated !== undefined) return
    }
  }
  const send = async (): Promise<void> => {
    if (threads === undefined && listed >= THREADS_AFTER_BYTES) threads = scanThreadsFor(workers, sources)
    // This thread scans a batch whenever no thread wants it (they are busy, or still starting), one
    // batch at a time (a thread may want the next once it is done): a scan is never slower for having
    // asked for threads, and this thread, its rules already built, is one of the `jobs`.
    if (threads?.wantsWork !== true && here !== undefined) await here
    if (threads?.wantsWork === true) inFlight.push(threads.scan(batch, limits))
    else {
      const mine = scanDirBatch(batch, limits, { ...local, showSecrets: sources.showSecrets })
      here = mine.then(() => undefined, () => undefined)
      inFlight.push(mine)
    }
    batch = []
    batchBytes = 0
    while (inFlight.length >= jobs * 8 && truncated === undefined) await settle()
  }
  try {
    for await (const f of dirFiles(root, progress, true)) {
      options.signal?.throwIfAborted()
      batch.push(f)
      batchBytes += f.size
      listed += f.size
      if (batchBytes >= BATCH_BYTES || batch.length >= BATCH_FILES) await send()
      if (truncated !== undefined) break
    }
    if (truncated === undefined && batch.length > 0) await send()
    while (inFlight.length > 0 && truncated === undefined) {
      options.signal?.throwIfAborted()
      await settle()
    }
    return truncated
  } finally {
    // Outcomes not taken are still owed an answer; none is wanted.
    for (const p of inFlight) p.catch(() => undefined)
  }
}

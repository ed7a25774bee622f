/**
 * A git repository, local or remote, through the git CLI.
 *
 * Remote repositories are mirrored into a cache directory (`git clone --mirror`, then
 * `git remote update --prune` on later scans). Without `history`, the files of HEAD are read.
 * With `history`, every commit reachable from any branch, tag or other ref is read once, oldest
 * first: each blob a commit introduces (deleted files included) is scanned once, with the first
 * commit and path it appeared at, and so is every commit message. Blobs come through one
 * `git cat-file --batch` process, so a repository costs a handful of git processes, not one a file.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { StringDecoder } from 'node:string_decoder'
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { isIP } from 'node:net'
import { SourceError } from '../../../lib/errors.js'
import { checkLocalPath, checkRemote, fileUrlPath, PATH_REFUSED, redactText, redactUrl, REMOTE_PROTOCOLS, REMOTE_REFUSED, urlHasCredential, type ReachPolicy } from './reach.js'
import { isBinary, type Progress, type ScanItem, type SourceLimits } from './source.js'
import { parseIgnore } from '../findings.js'

/** Options of a git source. */
export interface GitSourceOptions {
  /** A URL git can clone, or a local path to a repository. */
  url: string
  /** Every commit of every ref (true), or the files of HEAD (false). */
  history: boolean
  /** Where remote repositories are mirrored. */
  cacheDir: string
  limits: SourceLimits
  /** Commits known from an earlier scan: only commits that are not their ancestors are read. */
  since?: readonly string[]
  /** Source type written on findings: git (default) or github. */
  sourceType?: string
  /** Repository name for locations (`acme/api`). */
  repo?: string
  /** Web address of the repository for links (`https://github.com/acme/api`). */
  webUrl?: string
  /**
   * The repository's address written on findings (`location.repoUrl`); default: its web address, else
   * the URL scanned (or a local repository's `origin` remote) without user-info, query or fragment.
   */
  repoUrl?: string
  /** Links to a file at a commit and to a commit, where the host's differ from GitHub's `blob/` and `commit/` (GitLab, gists). */
  links?: WebLinks
  /** What the scan may reach; undefined: anything (the CLI). */
  reach?: ReachPolicy
  /** Receives what git said when a remote failed (redacted), for the operator's log only. */
  onDiagnostic?: (text: string) => void
}

/** How a host links to a file's line at a commit, and to a commit. */
export interface WebLinks {
  blob: (commit: string, file: string, line: number) => string
  commit: (commit: string) => string
}

/** What a git scan leaves for the next one. */
export interface GitState {
  /** Commit ids of every ref when the scan ran: pass them as `since` to read only new commits. */
  tips: string[]
  /** Fingerprints listed in the repository's own `.leakgateignore` (at HEAD). */
  ignore?: string[]
}


/**
 * The environment of every git this source starts, built from nothing rather than filtered from
 * the parent's: the parent holds API keys and tokens (LEAKGATE_*, GITHUB_TOKEN) that git has no use
 * for and a hostile repository's hooks or transport could read. Kept: what finding programs and a
 * home (for an operator's global git configuration and credential helper) needs, proxies, and the
 * CA settings of a server's https. git must never wait for a person: no terminal prompt, empty
 * askpass programs. The system-wide configuration is not read (`GIT_CONFIG_NOSYSTEM`), and only
 * the transports `protocols` names are used (`GIT_ALLOW_PROTOCOL`).
 */
function gitEnv(protocols: string): NodeJS.ProcessEnv {
  return {
    ...keptEnvironment(),
    GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: '', SSH_ASKPASS: '', GCM_INTERACTIVE: 'never',
    GIT_CONFIG_NOSYSTEM: '1', GIT_ALLOW_PROTOCOL: protocols, GIT_PROTOCOL_FROM_USER: '0', LC_ALL: 'C',
  }
}

/** The parent's variables a git child keeps. */
/**
 * The parent's variables a scan keeps (the scan process, and every git it starts): finding programs, a
 * home for an operator's git configuration and credential helper, the locale, proxies, the CAs of a
 * server's https (git's and Node's, for the GitHub API), and how git reaches ssh.
 */
const KEPT_VARIABLES = [
  'PATH', 'HOME', 'TMPDIR', 'TMP', 'TEMP', 'LANG', 'SYSTEMROOT',
  'http_proxy', 'https_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'ALL_PROXY', 'all_proxy',
  'GIT_SSL_CAINFO', 'GIT_SSL_CAPATH', 'GIT_CONFIG_GLOBAL', 'GIT_SSH', 'GIT_SSH_COMMAND', 'GIT_SSH_VARIANT', 'NODE_EXTRA_CA_CERTS',
]

/** The kept variables of this process's environment (KEPT_VARIABLES), and nothing else. */
export function keptEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const name of KEPT_VARIABLES) {
    const value = process.env[name]
    if (value !== undefined) env[name] = value
  }
  return env
}

/** Transports git may use for a scan: with a reach policy, https, http and git (file for allowed local repositories). */
function protocolsFor(reach: ReachPolicy | undefined, local: boolean): string {
  if (reach === undefined) return 'https:http:git:ssh:file'
  return local ? 'file' : REMOTE_PROTOCOLS.map((p) => p.slice(0, -1)).join(':')
}

/** A running git: its output, and how it ended. */
interface GitProcess {
  stdout: AsyncIterable<Buffer>
  /** Resolves when git exits 0; rejects with SourceError carrying git's (redacted) stderr otherwise. */
  exited: Promise<void>
  /** Ends git early, when its reader stops before the end of the output. */
  stop: () => void
}

/** Where and how one git runs. */
interface GitRunOptions {
  cwd?: string | undefined
  input?: string | undefined
  /** `GIT_ALLOW_PROTOCOL`; default `file`: commands on a repository on disk fetch nothing. */
  protocols?: string | undefined
  /** `GIT_CEILING_DIRECTORIES`: git looks for a repository no higher than this folder's children. */
  ceiling?: string | undefined
}

/** Starts git with `input` on its standard input; the one place this source spawns a process. */
function spawnGit(args: readonly string[], options: GitRunOptions = {}): GitProcess {
  const env = gitEnv(options.protocols ?? 'file')
  if (options.ceiling !== undefined) env.GIT_CEILING_DIRECTORIES = options.ceiling
  const child = spawn('git', args, { cwd: options.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] })
  const stderr: Buffer[] = []
  child.stderr.on('data', (c: Buffer) => stderr.push(c))
  // git may exit before reading all its input (a failure): that must not crash the process.
  child.stdin.on('error', () => undefined)
  child.stdin.end(options.input ?? '')
  const command = args.find((a) => !a.startsWith('-') && !a.includes('=')) ?? ''
  const exited = new Promise<void>((resolvePromise, reject) => {
    child.on('error', (cause) => reject(new SourceError(`cannot run git: ${cause.message}`, { cause })))
    child.on('close', (code, signal) => {
      if (code === 0) resolvePromise()
      else reject(new SourceError(`git ${command} failed (${code === null ? `signal ${signal ?? '?'}` : `exit ${code}`}): ${redactText(Buffer.concat(stderr).toString('utf8').trim()).slice(0, 500)}`))
    })
  })
  // A reader that stops early never awaits `exited`: its rejection is expected, not unhandled.
  exited.catch(() => undefined)
  return {
    stdout: child.stdout,
    exited,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill()
    },
  }
}

/** Runs git, resolving with stdout; rejects with SourceError carrying git's (redacted) stderr. */
export async function git(args: readonly string[], options: GitRunOptions = {}): Promise<Buffer> {
  const proc = spawnGit(args, options)
  const out: Buffer[] = []
  for await (const chunk of proc.stdout) out.push(chunk)
  await proc.exited
  return Buffer.concat(out)
}

/** Runs git and yields its output split at `separator`, as it comes; rejects like `git` on failure. */
async function* gitRecords(args: readonly string[], options: { cwd: string; input: string }, separator: string): AsyncGenerator<string> {
  const proc = spawnGit(args, options)
  const decoder = new StringDecoder('utf8')
  let pending = ''
  let complete = false
  try {
    for await (const chunk of proc.stdout) {
      pending += decoder.write(chunk)
      const parts = pending.split(separator)
      pending = parts.pop() ?? ''
      yield* parts
    }
    complete = true
  } finally {
    if (!complete) proc.stop()
  }
  // Output cut short by a failure is not a last record.
  await proc.exited
  yield pending + decoder.end()
}

/**
 * The git directory of a local repository under a reach policy, where every later command runs. A
 * folder in an allowed path may name a repository elsewhere: a `.git` file (`gitdir: /other`), a
 * `commondir`, alternates (`objects/info/alternates`), or no repository at all, so that git looks in
 * the folders above. Each must lie under an allowed path too (real paths), or the scan is refused like
 * any path outside them: one folder allowed must not open the host's other repositories.
 */
async function containedGitDir(dir: string, reach: ReachPolicy): Promise<string> {
  const out = (await git(['rev-parse', '--path-format=absolute', '--git-dir', '--git-common-dir'], { cwd: dir, ceiling: dirname(dir) })).toString('utf8').split('\n')
  const gitDir = out[0]?.trim() ?? ''
  const common = out[1]?.trim() || gitDir
  const places = [gitDir, common]
  // Alternates may have alternates of their own (git follows five levels); each level is checked.
  const objectDirs = [join(common, 'objects')]
  for (let i = 0; i < objectDirs.length && i < 64; i++) {
    const objects = objectDirs[i]!
    const alternates = join(objects, 'info', 'alternates')
    if (!existsSync(alternates)) continue
    for (const line of readFileSync(alternates, 'utf8').split('\n')) {
      if (line.trim() === '' || line.startsWith('#')) continue
      const alternate = resolve(objects, line.trim())
      places.push(alternate)
      objectDirs.push(alternate)
    }
  }
  for (const place of places) await checkLocalPath(place, reach)
  return gitDir
}

/**
 * The directory git commands run in: a local repository as it is, a remote one mirrored into the
 * cache. With a reach policy, a local repository must lie under an allowed path, and a remote one
 * must pass the host check; git then connects to the addresses checked (http.curloptResolve),
 * follows no redirect, and any failure of a remote gives one message (its stderr goes to the
 * `onDiagnostic` callback only, redacted): an answer must not tell an open port from a closed one.
 */
export async function openRepository(url: string, cacheDir: string, reach?: ReachPolicy, onDiagnostic?: (text: string) => void): Promise<string> {
  const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(url)
  if (!isUrl && (reach?.allowedPaths !== undefined || (existsSync(url) && statSync(url).isDirectory()))) {
    const dir = await checkLocalPath(url, reach)
    try {
      if (!statSync(dir).isDirectory()) throw new Error('not a directory')
      if (reach?.allowedPaths === undefined) {
        await git(['rev-parse', '--git-dir'], { cwd: dir })
        return resolve(dir)
      }
      return await containedGitDir(dir, reach)
    } catch (cause) {
      if (reach?.allowedPaths !== undefined) throw new SourceError(PATH_REFUSED, { cause })
      throw new SourceError(`${url} is not a git repository`, { cause })
    }
  }
  // A URL is data, never an option or a command: refuse '-…', ext:: and fd:: outright.
  if (url.startsWith('-') || /^(?:ext|fd)::/i.test(url) || /::/.test(url.split('/')[0] ?? '')) throw new SourceError(`${redactUrl(url)} is not a repository URL`)
  // A file:// URL is a local repository mirrored like a remote one: its path must be allowed.
  const file = /^file:\/\//i.test(url)
  if (file && reach?.allowedPaths !== undefined) {
    const path = fileUrlPath(url)
    if (path === undefined) throw new SourceError(PATH_REFUSED)
    await checkLocalPath(path, reach)
  }
  const checked = file ? undefined : await checkRemote(url, reach)
  const config = ['-c', 'protocol.ext.allow=never', '-c', 'protocol.fd.allow=never', '-c', 'http.followRedirects=false']
  if (checked !== undefined && isIP(checked.host) === 0) {
    const addresses = checked.addresses.map((a) => (isIP(a) === 6 ? `[${a}]` : a)).join(',')
    config.push('-c', `http.curloptResolve=${checked.host}:${checked.port}:${addresses}`)
  }
  mkdirSync(cacheDir, { recursive: true })
  const target = join(resolve(cacheDir), `${createHash('sha256').update(url).digest('hex').slice(0, 16)}.git`)
  const protocols = protocolsFor(reach, file)
  try {
    if (existsSync(join(target, 'HEAD'))) await git([...config, 'remote', 'update', '--prune'], { cwd: target, protocols })
    else await git([...config, 'clone', '--mirror', '--quiet', '--', url, target], { protocols })
  } catch (cause) {
    if (reach === undefined) throw cause
    onDiagnostic?.((cause as Error).message)
    throw new SourceError(REMOTE_REFUSED)
  }
  return target
}

/**
 * Derives the web address of a repository hosted on github.com or gitlab.com from its clone URL
 * (https, ssh:// or scp-style; a GitLab project may sit in subgroups). Other hosts: undefined, since
 * their web pages may be anywhere.
 */
export function webUrlOf(url: string): string | undefined {
  const m = /^(?:(?:https|ssh):\/\/(?:[^@/]*@)?|git@)(github\.com|gitlab\.com)[/:]((?:[\w.-]+\/)+[\w.-]+?)(?:\.git)?\/?$/.exec(url)
  if (m === null) return undefined
  const [, host, path] = m
  // GitHub has owner/name and nothing deeper; `..` would climb out of the repository's pages.
  if ((host === 'github.com' && path!.split('/').length !== 2) || path!.split('/').some((p) => p === '.' || p === '..')) return undefined
  return `https://${host}/${path}`
}

/**
 * How a repository's web pages link to a file's line at a commit and to a commit, from its web
 * address: GitLab's under `/-/`, GitHub's (and any other's given) at the top.
 */
export function webLinksOf(webUrl: string): WebLinks {
  const base = webUrl.replace(/\/+$/, '')
  const under = /^https:\/\/gitlab\.com\//.test(base) ? '/-' : ''
  return {
    blob: (commit, file, line) => `${base}${under}/blob/${commit}/${file.split('/').map(encodeURIComponent).join('/')}#L${line}`,
    commit: (commit) => `${base}${under}/commit/${commit}`,
  }
}

/**
 * A repository URL fit to show and store: without user-info, query or fragment (where tokens ride),
 * and undefined when it would still carry one, or when it is a local path (the host's own folders
 * are not a repository's address).
 */
export function shownRepoUrl(url: string): string | undefined {
  let out: string
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    if (/^file:/i.test(url)) return undefined
    try {
      const u = new URL(url)
      u.username = ''
      u.password = ''
      u.search = ''
      u.hash = ''
      out = u.toString()
    } catch {
      return undefined
    }
  } else {
    // scp-style `[user[:password]@]host:path`, the host a domain name; anything else is a local path.
    const m = /^(?:[^/:@]+(?::[^/@]*)?@)?([\w-]+(?:\.[\w-]+)+):(?!\/\/)([^\s]+)$/.exec(url)
    if (m === null) return undefined
    out = `${m[1]}:${m[2]}`
  }
  return urlHasCredential(out) ? undefined : out
}

/** The URL of a local repository's `origin` remote, if it has one. */
async function originOf(cwd: string): Promise<string | undefined> {
  try {
    const url = (await git(['config', '--get', 'remote.origin.url'], { cwd })).toString('utf8').trim()
    return url === '' ? undefined : url
  } catch {
    return undefined
  }
}

interface Ref {
  name: string
  commit: string
}

async function listRefs(cwd: string): Promise<{ refs: Ref[]; head: string | undefined }> {
  const out = (await git(['for-each-ref', '--format=%(objectname) %(*objectname) %(objecttype) %(refname)'], { cwd })).toString('utf8')
  let head: string | undefined
  try {
    head = (await git(['symbolic-ref', '-q', 'HEAD'], { cwd })).toString('utf8').trim()
  } catch {
    head = undefined
  }
  const refs: Ref[] = []
  for (const line of out.split('\n')) {
    const [object, peeled, type, name] = line.split(' ')
    if (name === undefined || name.endsWith('/HEAD') || name.startsWith('refs/stash')) continue
    const commit = type === 'tag' ? peeled : type === 'commit' ? object : undefined
    if (commit === undefined || commit === '') continue
    refs.push({ name, commit })
  }
  // The default branch names the commits it holds; then branches, then tags and the rest.
  const rank = (r: Ref): number => (r.name === head ? 0 : r.name.startsWith('refs/heads/') ? 1 : r.name.startsWith('refs/remotes/') ? 2 : r.name.startsWith('refs/tags/') ? 3 : 4)
  refs.sort((a, b) => rank(a) - rank(b) || (a.name < b.name ? -1 : 1))
  return { refs, head }
}

function shortRef(name: string): string {
  return name.replace(/^refs\/(?:heads|tags|remotes)\//, '')
}

/**
 * Maps each commit to the first ref (in rank order) it is reachable from, in one `git rev-list`:
 * commits come children first (`--topo-order`), so each passes its best ref down to its parents.
 * One process whatever the number of refs (a GitHub mirror has one a pull request).
 */
async function branchOfCommits(cwd: string, refs: readonly Ref[], since: readonly string[]): Promise<Map<string, string>> {
  const best = new Map<string, number>()
  refs.forEach((ref, rank) => {
    if (!best.has(ref.commit)) best.set(ref.commit, rank)
  })
  const input = [...best.keys(), ...since.map((c) => `^${c}`)].join('\n') + '\n'
  for await (const line of gitRecords(['rev-list', '--stdin', '--topo-order', '--parents'], { cwd, input }, '\n')) {
    if (line === '') continue
    const [commit, ...parents] = line.split(' ')
    const rank = best.get(commit!)
    if (rank === undefined) continue
    for (const p of parents) {
      const theirs = best.get(p)
      if (theirs === undefined || rank < theirs) best.set(p, rank)
    }
  }
  const out = new Map<string, string>()
  for (const [commit, rank] of best) out.set(commit, shortRef(refs[rank]!.name))
  return out
}

/** Keeps only the commits that exist (history may have been rewritten since the last scan). */
async function existingCommits(cwd: string, commits: readonly string[]): Promise<string[]> {
  if (commits.length === 0) return []
  const out = (await git(['cat-file', '--batch-check'], { cwd, input: commits.join('\n') + '\n' })).toString('utf8')
  return out.split('\n').filter((l) => / commit \d+$/.test(l)).map((l) => l.split(' ')[0]!)
}

interface Blob {
  sha: string
  path: string
  commit: string
  branch?: string | undefined
}

/**
 * Blob sizes through one `cat-file --batch-check`. Every blob asked for was named by a tree of the
 * repository: one that is missing means a broken repository, and a scan that would quietly read
 * fewer files than there are, so it fails instead.
 */
async function blobSizes(cwd: string, shas: readonly string[]): Promise<Map<string, number>> {
  const sizes = new Map<string, number>()
  if (shas.length === 0) return sizes
  const out = (await git(['cat-file', '--batch-check'], { cwd, input: shas.join('\n') + '\n' })).toString('utf8')
  for (const line of out.split('\n')) {
    if (line === '') continue
    const [sha, type, size] = line.split(' ')
    if (type !== 'blob' || size === undefined) throw unreadableObject(sha, line)
    sizes.set(sha!, Number(size))
  }
  return sizes
}

function unreadableObject(sha: string | undefined, answer: string): Error {
  return new SourceError(`git cat-file cannot read object ${sha ?? '?'} (${answer.slice(0, 120)}): the repository is incomplete or corrupt`)
}

/**
 * Streams blob contents, in the order asked, through one `git cat-file --batch`. A blob git cannot
 * read (missing, or cat-file dying on a corrupt object) fails the scan: the files after it would
 * otherwise be left out without a word.
 */
async function* readBlobs(cwd: string, shas: readonly string[]): AsyncGenerator<{ sha: string; data: Buffer }> {
  if (shas.length === 0) return
  const proc = spawnGit(['cat-file', '--batch'], { cwd, input: shas.join('\n') + '\n' })
  let pending: Buffer = Buffer.alloc(0)
  let body: Buffer | undefined
  let filled = 0
  let current = ''
  let read = 0
  let complete = false
  try {
    for await (const chunk of proc.stdout) {
      let data: Buffer = chunk
      while (data.length > 0) {
        if (body === undefined) {
          pending = pending.length === 0 ? data : Buffer.concat([pending, data])
          data = Buffer.alloc(0)
          const nl = pending.indexOf(10)
          if (nl < 0) break
          const header = pending.subarray(0, nl).toString('utf8')
          const rest = pending.subarray(nl + 1)
          pending = Buffer.alloc(0)
          const [sha, type, size] = header.split(' ')
          if (type === 'missing' || size === undefined || !/^\d+$/.test(size)) throw unreadableObject(sha, header)
          current = sha ?? ''
          body = Buffer.allocUnsafe(Number(size) + 1) // content and its trailing newline
          filled = 0
          data = rest
        }
        const take = Math.min(body.length - filled, data.length)
        data.copy(body, filled, 0, take)
        filled += take
        data = data.subarray(take)
        if (filled === body.length) {
          read++
          yield { sha: current, data: body.subarray(0, body.length - 1) }
          body = undefined
        }
      }
    }
    complete = true
  } finally {
    if (!complete) proc.stop()
  }
  await proc.exited
  if (read !== shas.length) throw new SourceError(`git cat-file ended after ${read} of ${shas.length} objects: the repository is incomplete or corrupt`)
}

function unquotePath(p: string): string {
  if (!p.startsWith('"')) return p
  try {
    return JSON.parse(p) as string
  } catch {
    return p.slice(1, -1)
  }
}

/** Yields the texts of a git repository. `state.tips` is set to the ref commits read. */
export async function* gitSource(options: GitSourceOptions, progress: Progress, state: GitState = { tips: [] }): AsyncGenerator<ScanItem> {
  const cwd = await openRepository(options.url, options.cacheDir, options.reach, options.onDiagnostic)
  const sourceType = options.sourceType ?? 'git'
  // A local repository (a checkout) says where it came from through its origin remote.
  const remote = /^[a-z][a-z0-9+.-]*:\/\//i.test(options.url) && !/^file:/i.test(options.url) ? options.url : await originOf(cwd) ?? options.url
  const webUrl = options.webUrl ?? webUrlOf(remote)
  const repoUrl = options.repoUrl ?? webUrl ?? shownRepoUrl(remote)
  const repo = options.repo ?? (webUrl === undefined ? undefined : new URL(webUrl).pathname.slice(1))
  const links: WebLinks | undefined = options.links ?? (webUrl === undefined ? undefined : webLinksOf(webUrl))
  const { refs, head } = await listRefs(cwd)
  state.tips = [...new Set(refs.map((r) => r.commit))]
  if (refs.length === 0) return
  const headCommit = refs.find((r) => r.name === head)?.commit ?? refs[0]!.commit
  const headBranch = shortRef(head ?? refs[0]!.name)
  const origin = (file: string, commit: string, branch: string | undefined, inHistoryOnly: boolean): ScanItem['origin'] => ({
    source: sourceType,
    file,
    commit,
    ...(branch === undefined ? {} : { branch }),
    ...(repo === undefined ? {} : { repo }),
    ...(repoUrl === undefined ? {} : { repoUrl }),
    ...(links === undefined ? {} : { url: (line: number) => (file === '(commit message)' ? links.commit(commit) : links.blob(commit, file, line)) }),
    inHistoryOnly,
  })

  // Blobs of the default branch's current files: a secret in one of them is not history-only.
  const headTree = new Map<string, string>()
  const tree = (await git(['-c', 'core.quotePath=false', 'ls-tree', '-r', '--full-tree', headCommit], { cwd })).toString('utf8')
  for (const line of tree.split('\n')) {
    const m = /^(\d+) blob ([0-9a-f]+)\t(.*)$/.exec(line)
    if (m !== null && m[1] !== '160000' && m[1] !== '120000') headTree.set(m[2]!, unquotePath(m[3]!))
  }

  // The repository's own reviewed findings, as `leakgate scan` of a directory reads them.
  const ignoreBlob = [...headTree].find(([, path]) => path === '.leakgateignore')?.[0]
  if (ignoreBlob !== undefined) state.ignore = [...parseIgnore((await git(['cat-file', 'blob', ignoreBlob], { cwd })).toString('utf8'))]

  const blobs: Blob[] = []
  if (!options.history) {
    for (const [sha, path] of headTree) blobs.push({ sha, path, commit: headCommit })
    progress.commits++
  } else {
    const since = await existingCommits(cwd, options.since ?? [])
    const branches = await branchOfCommits(cwd, refs, since)
    const input = [...state.tips, ...since.map((c) => `^${c}`)].join('\n') + '\n'
    const seenBlobs = new Set<string>()
    const seenCommits = new Set<string>()
    // Streamed: the log of a large repository does not fit in memory as one string.
    const log = gitRecords(['-c', 'core.quotePath=false', 'log', '--stdin', '--reverse', '--topo-order', '--format=%x01%H%x02%B%x03', '--raw', '--no-abbrev', '--no-renames', '-m'], { cwd, input }, '\x01')
    for await (const chunk of log) {
      if (chunk === '') continue
      const sep = chunk.indexOf('\x02')
      const end = chunk.indexOf('\x03')
      if (sep < 0 || end < 0) continue
      const commit = chunk.slice(0, sep)
      if (!seenCommits.has(commit)) {
        seenCommits.add(commit)
        progress.commits++
        const message = chunk.slice(sep + 1, end)
        if (message.trim() !== '') yield { text: message, origin: origin('(commit message)', commit, branches.get(commit), commit !== headCommit) }
      }
      for (const line of chunk.slice(end + 1).split('\n')) {
        const m = /^:(\d+) (\d+) [0-9a-f]+ ([0-9a-f]+) [A-Z]\d*\t(.*)$/.exec(line)
        if (m === null) continue
        const [, , mode, sha, path] = m
        if (mode === '160000' || mode === '120000' || /^0+$/.test(sha!) || seenBlobs.has(sha!)) continue
        seenBlobs.add(sha!)
        blobs.push({ sha: sha!, path: unquotePath(path!), commit })
      }
    }
    for (const b of blobs) b.branch = branches.get(b.commit)
  }

  const sizes = await blobSizes(cwd, blobs.map((b) => b.sha))
  const wanted = blobs.filter((b) => {
    const size = sizes.get(b.sha)
    if (size === undefined || size > options.limits.maxFileSize) {
      progress.skipped++
      return false
    }
    return true
  })
  const bySha = new Map(wanted.map((b) => [b.sha, b]))
  for await (const { sha, data } of readBlobs(cwd, wanted.map((b) => b.sha))) {
    const b = bySha.get(sha)
    if (b === undefined) continue
    if (isBinary(data)) {
      progress.skipped++
      continue
    }
    progress.files++
    progress.bytes += data.length
    const branch = options.history ? b.branch : headBranch
    yield { text: data.toString('utf8'), origin: origin(b.path, b.commit, branch, !headTree.has(sha)) }
  }
}

/**
 * `/v1/scans`: start a scan of a directory, a git repository, a GitHub organisation/user, a GitHub
 * user's gists, or a GitLab group/user/project on the control plane, or hand over findings a
 * `leakgate scan --push` made; read a scan's progress and findings. Findings carry hashes and
 * previews only: a body with a raw secret (`secret`, or a preview longer than 4 + 4 characters) is
 * refused. The scans themselves, and the schedule of
 * `scanSources`, are the scans service's (control-plane/scans.ts).
 */
import type { FastifyPluginAsync } from 'fastify'
import { principalOf } from '../auth.js'
import { actorOf } from '../store/keys.js'
import type { RouteContext } from '../context.js'
import { isAbsolute } from 'node:path'
import { BadRequestError, NotFoundError, ScanRefusedError } from '../../lib/errors.js'
import type { ScanConfig } from '../config.js'
import { isGitLabPath, isGitLabUser } from '../detect/sources/gitlab.js'
import { localPathOf, PATH_REFUSED, pathAllowed, REMOTE_PROTOCOLS, urlHasCredential } from '../detect/sources/reach.js'
import type { ScanSourceSpec } from '../detect/index.js'
import type { Finding } from '../detect/findings.js'
import type { ScanService } from '../scans.js'
import { idParams, kindName, locationInput, problems, sha256Hex, sourceName } from './schemas.js'

/** Options of the plugin beyond the route context: the service that runs and records scans. */
export interface ScanRouteOptions extends RouteContext {
  scans: ScanService
}

const GITHUB_NAME = '^[A-Za-z0-9][A-Za-z0-9-]*$'
/** A GitLab group or project path: segments that do not start with '.' or '-', joined by '/'. */
const GITLAB_PATH = '^[A-Za-z0-9_][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$'

const sourceInput = {
  type: 'object',
  additionalProperties: false,
  required: ['type'],
  properties: {
    type: { type: 'string', enum: ['dir', 'git', 'github', 'gitlab'] },
    path: { type: 'string', minLength: 1, maxLength: 4096, format: 'text' },
    url: { type: 'string', minLength: 1, maxLength: 2048, format: 'text' },
    org: { type: 'string', minLength: 1, maxLength: 39, pattern: GITHUB_NAME },
    // A GitHub user name, or a GitLab one (which may hold '_' and '.'): checkSource tells them apart.
    user: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]*$' },
    gists: { type: 'string', minLength: 1, maxLength: 39, pattern: GITHUB_NAME },
    group: { type: 'string', minLength: 1, maxLength: 1024, pattern: GITLAB_PATH },
    project: { type: 'string', minLength: 1, maxLength: 1024, pattern: GITLAB_PATH },
    history: { type: 'boolean' },
  },
} as const

const findingInput = {
  type: 'object',
  additionalProperties: false,
  required: ['ruleId', 'kind', 'file', 'line', 'column', 'sha256', 'preview', 'fingerprint', 'inHistoryOnly', 'source'],
  properties: {
    ruleId: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$' },
    kind: kindName,
    file: { type: 'string', minLength: 1, maxLength: 1024, format: 'text' },
    line: { type: 'integer', minimum: 1, maximum: 100_000_000 },
    column: { type: 'integer', minimum: 1, maximum: 100_000_000 },
    commit: { type: 'string', pattern: '^[0-9a-fA-F]{4,64}$' },
    branch: { type: 'string', minLength: 1, maxLength: 256, format: 'text' },
    sha256: sha256Hex,
    // At most 4 characters, an ellipsis, at most 4: a preview, never the secret itself.
    preview: { type: 'string', format: 'preview' },
    fingerprint: { type: 'string', pattern: '^[0-9a-f]{8,64}$' },
    inHistoryOnly: { type: 'boolean' },
    source: sourceName,
    location: locationInput,
  },
} as const

const scanOutput = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    source: { type: 'object', additionalProperties: true },
    status: { type: 'string', enum: ['queued', 'running', 'done', 'failed'] },
    startedAt: { type: 'string' },
    finishedAt: { type: ['string', 'null'] },
    progress: { type: 'object', additionalProperties: { type: 'integer' } },
    dropped: { type: 'string', description: 'What the scan left out, in words (`3 candidates dropped: checksum did not match`); never a token' },
    findings: { type: 'array', items: { type: 'object', additionalProperties: true } },
    leaksCreated: { type: 'integer' },
    leaksUpdated: { type: 'integer' },
    attempts: { type: 'integer' },
    error: { type: 'string' },
  },
} as const

/**
 * Refuses, before anything is stored or looked up, a source the configuration does not let the
 * control plane scan: a local path outside `scan.allowedPaths` (the same answer whether it exists
 * or not: nothing is read to give it), a URL carrying a credential in any spelling, a transport
 * other than https, http and git. Hosts are checked when the scan runs, after resolving them.
 */
function checkReach(source: ScanSourceSpec, scan: ScanConfig): void {
  const reach = { allowedPaths: scan.allowedPaths }
  if (source.type === 'dir') {
    if (!isAbsolute(source.path) || !pathAllowed(source.path, reach)) throw new ScanRefusedError(PATH_REFUSED)
    return
  }
  if (source.type !== 'git') return
  const url = source.url
  // A URL with a credential would put it into the scan record, its answers and the logs.
  if (urlHasCredential(url)) {
    throw new BadRequestError('a git URL must not carry credentials (user:password@, ?private_token=…); give the control plane a git credential helper, or LEAKGATE_GITHUB_TOKEN for GitHub')
  }
  if (/^file:\/\//i.test(url) || !/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    // A path (or file:// URL): a local repository, allowed like a dir source.
    const path = localPathOf(url)
    if (path === undefined || !isAbsolute(path) || !pathAllowed(path, reach)) throw new ScanRefusedError(PATH_REFUSED)
    return
  }
  const scheme = `${(/^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1] ?? '').toLowerCase()}:`
  if (!(REMOTE_PROTOCOLS as readonly string[]).includes(scheme)) throw new ScanRefusedError('the transports scanned are https, http and git')
}

/** Checks that a source names what its type needs, and nothing else. */
function checkSource(source: Record<string, unknown>): ScanSourceSpec {
  const fields = Object.keys(source).filter((k) => k !== 'type' && k !== 'history').sort().join(',')
  switch (source.type) {
    case 'dir':
      if (fields !== 'path' || source.history !== undefined) throw new BadRequestError('a dir source takes {"type": "dir", "path": "/some/dir"}')
      return { type: 'dir', path: source.path as string }
    case 'git':
      if (fields !== 'url') throw new BadRequestError('a git source takes {"type": "git", "url": "https://… or /path", "history"?: true}')
      return { type: 'git', url: source.url as string, history: source.history === true }
    case 'gitlab':
      if (fields === 'group' && isGitLabPath(source.group as string)) return { type: 'gitlab', group: source.group as string, history: source.history === true }
      if (fields === 'user' && isGitLabUser(source.user as string)) return { type: 'gitlab', user: source.user as string, history: source.history === true }
      if (fields === 'project' && isGitLabPath(source.project as string)) return { type: 'gitlab', project: source.project as string, history: source.history === true }
      throw new BadRequestError('a gitlab source takes {"type": "gitlab", "group": "acme/platform"}, {"type": "gitlab", "user": "bob"} or {"type": "gitlab", "project": "acme/platform/api"}')
    default:
      if (fields === 'org') return { type: 'github', org: source.org as string, history: source.history === true }
      if (fields === 'user' && new RegExp(GITHUB_NAME).test(source.user as string) && (source.user as string).length <= 39) return { type: 'github', user: source.user as string, history: source.history === true }
      if (fields === 'gists') return { type: 'github', gists: source.gists as string, history: source.history === true }
      throw new BadRequestError('a github source takes {"type": "github", "org": "acme"}, {"type": "github", "user": "bob"} or {"type": "github", "gists": "bob"} (an organisation has no gists: name its users)')
  }
}

const routes: FastifyPluginAsync<ScanRouteOptions> = async (app, options) => {
  const { scans } = options

  app.post<{ Body: { source: Record<string, unknown>; findings?: Finding[]; checksumDropped?: number } }>('/v1/scans', {
    config: { roles: [] },
    schema: {
      summary: 'Start a scan, or hand over the findings of one made elsewhere',
      description: 'With `findings` (from `leakgate scan --push`), they become leaks at once and the scan is `done`; without, the control plane scans the source in the background.',
      tags: ['scans'],
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['source'],
        properties: {
          source: sourceInput,
          findings: { type: 'array', maxItems: 10_000, items: findingInput },
          // With findings: how many matches the pushing scan dropped for a checksum that did not verify.
          checksumDropped: { type: 'integer', minimum: 0, maximum: 1_000_000_000 },
        },
      },
      response: { 202: scanOutput, ...problems(400, 401, 403, 413, 415) },
    },
  }, async (request, reply) => {
    const source = checkSource(request.body.source)
    if (request.body.findings === undefined) checkReach(source, options.config.scan)
    else if (source.type === 'git' && urlHasCredential(source.url)) throw new BadRequestError('a git URL must not carry credentials; push findings with the URL without them')
    const actor = actorOf(principalOf(request))
    const findings = request.body.findings
    const record = findings === undefined ? await scans.start(source, actor) : await scans.ingest(source, findings, actor, request.body.checksumDropped ?? 0)
    return reply.code(202).send(record)
  })

  app.get<{ Params: { id: number } }>('/v1/scans/:id', {
    config: { roles: ['analyst'] },
    schema: { summary: "A scan's status, progress and findings", tags: ['scans'], params: idParams, response: { 200: scanOutput, ...problems(400, 401, 403, 404) } },
  }, async (request) => {
    const record = await scans.get(request.params.id)
    if (record === undefined) throw new NotFoundError(`there is no scan ${request.params.id}`)
    return record
  })
}

export default routes

/**
 * `/v1/scans`: start a scan of a directory, a git repository or a GitHub organisation/user on the
 * control plane, or hand over findings a `leakgate scan --push` made; read a scan's progress and
 * findings. Findings carry hashes and previews only: a body with a raw secret (`secret`, or a
 * preview longer than 4 + 4 characters) is refused. The scans themselves, and the schedule of
 * `scanSources`, are the scans service's (control-plane/scans.ts).
 */
import type { FastifyPluginAsync } from 'fastify'
import { principalOf } from '../auth.js'
import type { RouteContext } from '../context.js'
import { BadRequestError, NotFoundError } from '../../lib/errors.js'
import type { ScanSourceSpec } from '../detect/index.js'
import type { Finding } from '../detect/findings.js'
import type { ScanService } from '../scans.js'
import { idParams, kindName, locationInput, problems, sha256Hex, sourceName } from './schemas.js'

/** Options of the plugin beyond the route context: the service that runs and records scans. */
export interface ScanRouteOptions extends RouteContext {
  scans: ScanService
}

const sourceInput = {
  type: 'object',
  additionalProperties: false,
  required: ['type'],
  properties: {
    type: { type: 'string', enum: ['dir', 'git', 'github'] },
    path: { type: 'string', minLength: 1, maxLength: 4096, format: 'text' },
    url: { type: 'string', minLength: 1, maxLength: 2048, format: 'text' },
    org: { type: 'string', minLength: 1, maxLength: 39, pattern: '^[A-Za-z0-9][A-Za-z0-9-]*$' },
    user: { type: 'string', minLength: 1, maxLength: 39, pattern: '^[A-Za-z0-9][A-Za-z0-9-]*$' },
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
    status: { type: 'string', enum: ['running', 'done', 'failed'] },
    startedAt: { type: 'string' },
    finishedAt: { type: ['string', 'null'] },
    progress: { type: 'object', additionalProperties: { type: 'integer' } },
    findings: { type: 'array', items: { type: 'object', additionalProperties: true } },
    leaksCreated: { type: 'integer' },
    leaksUpdated: { type: 'integer' },
    error: { type: 'string' },
  },
} as const

/** Checks that a source names what its type needs, and nothing else. */
function checkSource(source: Record<string, unknown>): ScanSourceSpec {
  const fields = Object.keys(source).filter((k) => k !== 'type' && k !== 'history').sort().join(',')
  switch (source.type) {
    case 'dir':
      if (fields !== 'path' || source.history !== undefined) throw new BadRequestError('a dir source takes {"type": "dir", "path": "/some/dir"}')
      return { type: 'dir', path: source.path as string }
    case 'git':
      if (fields !== 'url') throw new BadRequestError('a git source takes {"type": "git", "url": "https://… or /path", "history"?: true}')
      // A URL with user:password@ would put a credential into the scan record and its answers.
      if (/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(source.url as string)) {
        throw new BadRequestError('a git URL must not carry credentials (user:password@); give the control plane a git credential helper, or LEAKGATE_GITHUB_TOKEN for GitHub')
      }
      return { type: 'git', url: source.url as string, history: source.history === true }
    default:
      if (fields === 'org') return { type: 'github', org: source.org as string, history: source.history === true }
      if (fields === 'user') return { type: 'github', user: source.user as string, history: source.history === true }
      throw new BadRequestError('a github source takes {"type": "github", "org": "acme"} or {"type": "github", "user": "bob"}')
  }
}

const routes: FastifyPluginAsync<ScanRouteOptions> = async (app, options) => {
  const { scans } = options

  app.post<{ Body: { source: Record<string, unknown>; findings?: Finding[] } }>('/v1/scans', {
    config: { roles: [] },
    schema: {
      summary: 'Start a scan, or hand over the findings of one made elsewhere',
      description: 'With `findings` (from `leakgate scan --push`), they become leaks at once and the scan is `done`; without, the control plane scans the source in the background.',
      tags: ['scans'],
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['source'],
        properties: { source: sourceInput, findings: { type: 'array', maxItems: 10_000, items: findingInput } },
      },
      response: { 202: scanOutput, ...problems(400, 401, 403, 413, 415) },
    },
  }, async (request, reply) => {
    const source = checkSource(request.body.source)
    const actor = principalOf(request).keyId
    const findings = request.body.findings
    const record = findings === undefined ? scans.start(source, actor) : scans.ingest(source, findings, actor)
    return reply.code(202).send(record)
  })

  app.get<{ Params: { id: number } }>('/v1/scans/:id', {
    config: { roles: ['analyst'] },
    schema: { summary: "A scan's status, progress and findings", tags: ['scans'], params: idParams, response: { 200: scanOutput, ...problems(400, 401, 403, 404) } },
  }, async (request) => {
    const record = scans.get(request.params.id)
    if (record === undefined) throw new NotFoundError(`there is no scan ${request.params.id}`)
    return record
  })
}

export default routes

/**
 * `/v1/leaks`: list, add by hand, read one, decide. A manual leak's raw token values are hashed as
 * the request is handled and only their SHA-256 and preview go further; the raw values are never
 * stored, logged or echoed.
 */
import { Readable } from 'node:stream'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { makePreview, sha256Hex as hashToken } from '../../protocol/token-hash.js'
import { principalOf } from '../auth.js'
import { actorOf } from '../store/keys.js'
import type { RiskLevel } from '../config.js'
import type { RouteContext } from '../context.js'
import { BadRequestError, NotFoundError } from '../../lib/errors.js'
import { csvLine } from '../csv.js'
import { urlHasCredential } from '../detect/sources/reach.js'
import { echoesSecret } from '../../lib/echo.js'
import { ROTATION_STATES } from '../store/leak-types.js'
import { BULK_DECISION_LIMIT, type BulkTarget, type DecisionInput, type LeakAction, type LeakExportRow, type LeakFilter, type LeakLocation, type LeakQuery, type LeakStatus, type TokenInput } from '../store/leaks.js'
import {
  actionEnum, cursorString, idParams, kindName, leakDetailOutput, leakOutput, locationInput, pageLimit, problems,
  riskEnum, sha256Hex, sortEnum, sourceName, statusEnum,
} from './schemas.js'

interface ManualToken {
  value?: string
  sha256?: string
  preview?: string
}

interface ManualLeakBody {
  title?: string
  source?: string
  kind?: string
  location?: LeakLocation
  tokens: ManualToken[]
  risk?: RiskLevel
  action?: LeakAction
  comment?: string
}

interface DecisionBody {
  action?: LeakAction
  status?: LeakStatus
  risk?: RiskLevel
  comment?: string
}

const comment = { type: 'string', minLength: 1, maxLength: 2000, format: 'multiline' } as const

/** The list's filters: the same in the list, its export and a bulk decision's `filter`. */
const filterProperties = {
  status: statusEnum, risk: riskEnum, source: sourceName, action: actionEnum, kind: kindName,
  rotation: { type: 'string', enum: [...ROTATION_STATES] },
  q: { type: 'string', maxLength: 200, format: 'text' },
} as const

const decisionProperties = { action: actionEnum, status: statusEnum, risk: riskEnum, comment } as const

interface BulkBody extends DecisionBody {
  ids?: number[]
  filter?: LeakFilter
  expectedCount?: number
}

/** The export's columns, in order. */
const EXPORT_COLUMNS = ['id', 'title', 'kind', 'source', 'risk', 'state', 'decision', 'rotation', 'hits', 'first_seen', 'last_seen', 'fingerprint', 'token_hash_prefixes']

function exportCells(r: LeakExportRow): Array<string | number | null> {
  return [r.id, r.title, r.kind, r.source, r.risk, r.status, r.action, r.rotation, r.hits, r.createdAt, r.lastSeenAt, r.fingerprint, r.hashPrefixes.join(' ')]
}

/** The CSV text of the export: the header line, then a line a leak. */
async function* exportCsv(rows: AsyncIterable<LeakExportRow>): AsyncGenerator<string> {
  yield csvLine(EXPORT_COLUMNS)
  for await (const r of rows) yield csvLine(exportCells(r))
}

/** A decision's body, checked to decide something. */
function decisionOf(body: DecisionBody): DecisionInput {
  if (body.action === undefined && body.status === undefined && body.risk === undefined) {
    throw new BadRequestError('a decision needs at least one of "action", "status" or "risk"')
  }
  return { action: body.action, status: body.status, risk: body.risk, comment: body.comment }
}

interface RotationBody {
  comment?: string
}

const rotationBody = { type: 'object', additionalProperties: false, properties: { comment } } as const

/** A rotation's body is optional (`curl -X POST` with none is a fine request): no body reads as `{}`. */
async function emptyBodyAsObject(request: FastifyRequest): Promise<void> {
  request.body ??= {}
}

/** Turns the body's tokens into hashes and previews; a 400 for a token given both ways or neither. */
function hashTokens(tokens: ManualToken[]): { hashed: TokenInput[]; raw: string[] } {
  const hashed: TokenInput[] = []
  const raw: string[] = []
  tokens.forEach((t, i) => {
    if (t.value !== undefined) {
      if (t.sha256 !== undefined || t.preview !== undefined) {
        throw new BadRequestError(`tokens[${i}]: give either "value" or "sha256" (with an optional "preview"), not both`)
      }
      raw.push(t.value)
      hashed.push({ sha256: hashToken(t.value), preview: makePreview(t.value) })
    } else if (t.sha256 !== undefined) {
      const sha256 = t.sha256.toLowerCase()
      hashed.push({ sha256, preview: t.preview ?? `sha256:${sha256.slice(0, 8)}` })
    } else {
      throw new BadRequestError(`tokens[${i}]: give "value" (the raw token, hashed on arrival) or "sha256" (its lowercase hex SHA-256)`)
    }
  })
  return { hashed, raw }
}

/**
 * Refuses a body whose free text gives one of its raw tokens away (lib/echo.ts: a large part of it, in any
 * case or spacing, reversed, percent-encoded, escaped, base64 or hex): that text would be stored as is.
 */
function refuseEchoedSecrets(raw: string[], fields: Record<string, string | undefined>): void {
  for (const [name, text] of Object.entries(fields)) {
    if (text === undefined) continue
    if (raw.some((secret) => echoesSecret(text, secret))) {
      throw new BadRequestError(`${name} contains one of the raw token values; remove it (only hashes and previews are stored)`)
    }
  }
}

const routes: FastifyPluginAsync<RouteContext> = async (app, ctx) => {
  const { store, config, leakList } = ctx

  app.get<{ Querystring: LeakQuery }>('/v1/leaks', {
    config: { roles: ['analyst'] },
    schema: {
      summary: 'List leaks',
      tags: ['leaks'],
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          ...filterProperties,
          sort: sortEnum,
          order: { type: 'string', enum: ['asc', 'desc'] },
          limit: pageLimit,
          cursor: cursorString,
        },
      },
      response: {
        200: {
          type: 'object',
          properties: {
            items: { type: 'array', items: leakOutput },
            nextCursor: { type: ['string', 'null'] },
            total: { type: 'integer', description: 'Leaks matching the filters; with a search (q), counted up to a bound (10,000)' },
            totalIsLowerBound: { type: 'boolean', description: 'True when a search\'s count stopped at its bound: more leaks than total match' },
          },
        },
        ...problems(400, 401, 403),
      },
    },
  }, async (request) => store.leaks.list(request.query, leakList))

  app.get('/v1/leaks/facets', {
    config: { roles: ['analyst'] },
    schema: {
      summary: 'The distinct sources and kinds of the leaks, with counts',
      description: 'For the list\'s filter choices: each source and each kind (leaks without a kind left out), most leaks first, at most 500 of each.',
      tags: ['leaks'],
      response: {
        200: {
          type: 'object',
          properties: {
            sources: { type: 'array', items: { type: 'object', properties: { value: { type: 'string' }, count: { type: 'integer' } } } },
            kinds: { type: 'array', items: { type: 'object', properties: { value: { type: 'string' }, count: { type: 'integer' } } } },
          },
        },
        ...problems(401, 403),
      },
    },
  }, async () => store.leaks.facets())

  app.get<{ Querystring: LeakFilter }>('/v1/leaks/export.csv', {
    config: { roles: ['analyst'] },
    schema: {
      summary: 'Every leak matching the list\'s filters, as CSV',
      description: `Streamed (text/csv), all matching leaks by rising id, columns ${EXPORT_COLUMNS.join(', ')}. No token: each token only as the first 16 hex digits of its stored hash. Text cells starting with = + - @, a tab or a carriage return get a leading apostrophe, so a spreadsheet shows them as text.`,
      tags: ['leaks'],
      querystring: { type: 'object', additionalProperties: false, properties: filterProperties },
      response: {
        200: { description: 'The CSV: a header line, then a line a leak', content: { 'text/csv': { schema: { type: 'string' } } } },
        ...problems(400, 401, 403),
      },
    },
  }, async (request, reply) => {
    const day = new Date().toISOString().slice(0, 10)
    return reply
      .header('content-type', 'text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="leaks-${day}.csv"`)
      .send(Readable.from(exportCsv(store.leaks.exportRows(request.query))))
  })

  app.post<{ Body: BulkBody }>('/v1/leaks/bulk-decisions', {
    config: { roles: [] },
    schema: {
      summary: 'One decision on many leaks',
      description: `The leaks by \`ids\`, or those \`filter\` (the list's filters) matches, with \`expectedCount\`: the count the operator confirmed; when the filter now matches another number, 409 LEAKGATE_ERR_BULK_COUNT_CHANGED and nothing changes. At most ${BULK_DECISION_LIMIT} leaks (400 LEAKGATE_ERR_BULK_TOO_LARGE). Each leak is decided and audited as a single decision, all in one transaction. A leak the move does not fit is left and listed in \`skipped\` (not_found, unchanged, not_open). \`revision\`: the index revision once committed.`,
      tags: ['leaks'],
      body: {
        type: 'object',
        additionalProperties: false,
        properties: {
          ids: { type: 'array', minItems: 1, maxItems: BULK_DECISION_LIMIT, items: { type: 'integer', minimum: 1 } },
          filter: { type: 'object', additionalProperties: false, properties: filterProperties },
          expectedCount: { type: 'integer', minimum: 0 },
          ...decisionProperties,
        },
      },
      response: {
        200: {
          type: 'object',
          properties: {
            matched: { type: 'integer' },
            changed: { type: 'array', items: { type: 'integer' } },
            skipped: { type: 'array', items: { type: 'object', properties: { id: { type: 'integer' }, reason: { type: 'string', enum: ['not_found', 'unchanged', 'not_open'] }, detail: { type: 'string' } } } },
            revision: { type: 'integer' },
          },
        },
        ...problems(400, 401, 403, 409, 413, 415),
      },
    },
  }, async (request) => {
    const body = request.body
    let target: BulkTarget
    if (body.ids !== undefined && body.filter === undefined) {
      if (body.expectedCount !== undefined && body.expectedCount !== new Set(body.ids).size) {
        throw new BadRequestError(`"expectedCount" is ${body.expectedCount} but ${new Set(body.ids).size} distinct ids were sent`)
      }
      target = { ids: body.ids }
    } else if (body.filter !== undefined && body.ids === undefined) {
      if (body.expectedCount === undefined) throw new BadRequestError('a bulk decision by "filter" needs "expectedCount": the number of leaks the operator confirmed')
      target = { filter: body.filter, expectedCount: body.expectedCount }
    } else {
      throw new BadRequestError('give either "ids" or "filter" (with "expectedCount"), not both')
    }
    return store.leaks.decideMany(target, decisionOf(body), actorOf(principalOf(request)))
  })

  app.post<{ Body: ManualLeakBody }>('/v1/leaks', {
    config: { roles: [] },
    schema: {
      summary: 'Add a leak by hand',
      description: 'Tokens by raw value (hashed on arrival, never stored) or by SHA-256. A token already known is linked, not duplicated.',
      tags: ['leaks'],
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['tokens'],
        properties: {
          title: { type: 'string', minLength: 1, maxLength: 200, format: 'text' },
          source: sourceName,
          kind: kindName,
          location: locationInput,
          tokens: {
            type: 'array',
            minItems: 1,
            maxItems: config.limits.tokensPerLeak,
            items: {
              type: 'object',
              additionalProperties: false,
              properties: {
                value: { type: 'string', minLength: 1, maxLength: 4096, format: 'text' },
                sha256: sha256Hex,
                preview: { type: 'string', maxLength: 16, format: 'preview' },
              },
            },
          },
          risk: riskEnum,
          action: actionEnum,
          comment,
        },
      },
      response: { 201: leakDetailOutput, ...problems(400, 401, 403, 413, 415) },
    },
  }, async (request, reply) => {
    const body = request.body
    const { hashed, raw } = hashTokens(body.tokens)
    // Every free-text field is compared as sent (not as JSON, whose escaping would hide a value).
    const locationFields = Object.fromEntries(Object.entries(body.location ?? {}).map(([k, v]) => [`location.${k}`, v === undefined || v === null ? undefined : String(v)]))
    refuseEchoedSecrets(raw, { title: body.title, comment: body.comment, kind: body.kind, source: body.source, ...locationFields })
    // A repository's address is shown to everyone who reads the leak: no user-info or token in it.
    if (body.location?.repoUrl !== undefined && urlHasCredential(body.location.repoUrl)) throw new BadRequestError('location.repoUrl must not carry credentials (user:password@, ?private_token=…)')
    const leak = await store.leaks.create({
      title: body.title, source: body.source ?? 'manual', kind: body.kind, location: body.location, tokens: hashed,
      risk: body.risk, action: body.action, comment: body.comment,
    }, actorOf(principalOf(request)))
    return reply.code(201).header('location', `/v1/leaks/${leak.id}`).send(leak)
  })

  app.get<{ Params: { id: number } }>('/v1/leaks/:id', {
    config: { roles: ['analyst', 'issuer'] },
    schema: {
      summary: 'One leak with its tokens, decisions and recent sightings',
      description: 'An issuer key reads only the leaks whose rotation was requested (another is a 404, as a leak that does not exist), without their sightings.',
      tags: ['leaks'],
      params: idParams,
      response: { 200: leakDetailOutput, ...problems(400, 401, 403, 404) },
    },
  }, async (request) => {
    const leak = await store.leaks.require(request.params.id)
    if (principalOf(request).role !== 'issuer') return leak
    // The issuer was sent the leaks it is asked to rotate, nothing else: not even whether another exists.
    if (leak.rotation === null) throw new NotFoundError(`there is no leak ${leak.id}`)
    return { ...leak, sightings: [] }
  })

  app.post<{ Params: { id: number }; Body: RotationBody }>('/v1/leaks/:id/request-rotation', {
    config: { roles: ['analyst'] },
    schema: {
      summary: 'Ask the issuer to rotate a leak\'s credential',
      description: 'Marks the leak `rotation: "requested"` (audited; event leak.rotation_requested, with the tokens\' hashes and previews). Status and action stay: the leak stays open and enforced until the issuer confirms. Asked again while requested: 200, nothing new recorded. A closed or false-positive leak: 409.',
      tags: ['leaks'],
      params: idParams,
      body: rotationBody,
      response: { 200: leakDetailOutput, ...problems(400, 401, 403, 404, 409, 413, 415) },
    },
    preValidation: emptyBodyAsObject,
  }, async (request) => store.leaks.requestRotation(request.params.id, actorOf(principalOf(request)), request.body.comment))

  app.post<{ Params: { id: number }; Body: RotationBody }>('/v1/leaks/:id/rotated', {
    config: { roles: ['issuer'] },
    schema: {
      summary: 'The issuer confirms it rotated a leak\'s credential',
      description: 'For an issuer key. The leak closes (its tokens leave the nodes\' index) and is marked `rotation: "rotated"`, audited with the issuer key as actor; event leak.rotated. Confirmed again: 200 with the same leak, nothing new recorded. A leak whose rotation was never requested: 409.',
      tags: ['leaks'],
      params: idParams,
      body: rotationBody,
      response: { 200: leakDetailOutput, ...problems(400, 401, 403, 404, 409, 413, 415) },
    },
    preValidation: emptyBodyAsObject,
  }, async (request) => {
    const leak = await store.leaks.confirmRotation(request.params.id, actorOf(principalOf(request)), request.body.comment)
    return principalOf(request).role === 'issuer' ? { ...leak, sightings: [] } : leak
  })

  app.patch<{ Params: { id: number }; Body: DecisionBody }>('/v1/leaks/:id', {
    config: { roles: [] },
    schema: {
      summary: 'Decide on a leak: action, status, risk',
      description: 'Closed and false_positive leaks leave the index; {"status":"open"} reopens. Every decision is audited. The answer carries `revision`: the index revision the decision committed (a node at or past it enforces it).',
      tags: ['leaks'],
      params: idParams,
      body: {
        type: 'object',
        additionalProperties: false,
        properties: decisionProperties,
      },
      response: {
        // The leak, and the index revision the decision committed: a node at or past it enforces it.
        200: { ...leakDetailOutput, properties: { ...leakDetailOutput.properties, revision: { type: 'integer' } } },
        ...problems(400, 401, 403, 404, 413, 415),
      },
    },
  }, async (request) => store.leaks.decide(request.params.id, decisionOf(request.body), actorOf(principalOf(request))))
}

export default routes

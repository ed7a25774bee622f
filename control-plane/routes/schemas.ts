/**
 * JSON schemas shared by the routes. Inputs are closed (`additionalProperties: false`) and every
 * string is bounded. Two formats refuse odd text (see `validation.ts`): `text` (one line, no
 * control or bidi-override characters, no lone surrogates) and `multiline` (the same, with newlines).
 */
import { LEAK_ACTIONS, LeakAction, MAX_LEAK_ID } from '../../protocol/leak.js'
import { TokenHashAnyCase } from '../../protocol/token-hash.js'
import { RISK_LEVELS } from '../config.js'
import { LEAK_STATUSES } from '../store/leak-types.js'

/** The largest leak id: the snapshot sent to nodes has 31 bits for it. */
export const LEAK_ID_MAX = MAX_LEAK_ID

export const idParams = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1, maximum: LEAK_ID_MAX } },
} as const

export { LEAK_STATUSES }
/** What the nodes do with a request carrying one of a leak's tokens (what nodes and control plane agree on). */
export { LEAK_ACTIONS }
/** The orders `GET /v1/leaks` can sort by; the first is the default. */
export const LEAK_SORTS = ['createdAt', 'updatedAt', 'risk', 'hits', 'lastSeenAt', 'title'] as const

export const riskEnum = { type: 'string', enum: [...RISK_LEVELS] } as const
export const statusEnum = { type: 'string', enum: [...LEAK_STATUSES] } as const
export const actionEnum = LeakAction
export const sortEnum = { type: 'string', enum: [...LEAK_SORTS] } as const
export const sourceName = { type: 'string', pattern: '^[a-z][a-z0-9_-]{0,31}$' } as const
export const kindName = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$' } as const
export const sha256Hex = TokenHashAnyCase
export const isoTime = { type: 'string', format: 'date-time', maxLength: 40 } as const
export const cursorString = { type: 'string', minLength: 1, maxLength: 512, pattern: '^[A-Za-z0-9_-]+$' } as const
export const pageLimit = { type: 'integer', minimum: 1, maximum: 200, default: 50 } as const

/** Where a leak was found (input). */
export const locationInput = {
  type: 'object',
  additionalProperties: false,
  properties: {
    url: { type: 'string', minLength: 1, maxLength: 2048, format: 'text' },
    repo: { type: 'string', minLength: 1, maxLength: 256, format: 'text' },
    repoUrl: { type: 'string', minLength: 1, maxLength: 2048, format: 'text' },
    path: { type: 'string', minLength: 1, maxLength: 1024, format: 'text' },
    line: { type: 'integer', minimum: 1, maximum: 100_000_000 },
    commit: { type: 'string', pattern: '^[0-9a-fA-F]{4,64}$' },
    branch: { type: 'string', minLength: 1, maxLength: 256, format: 'text' },
  },
} as const

/** Where a leak was found (output). */
export const locationOutput = {
  type: 'object',
  properties: {
    url: { type: 'string' }, repo: { type: 'string' }, repoUrl: { type: 'string' }, path: { type: 'string' },
    line: { type: 'integer' }, commit: { type: 'string' }, branch: { type: 'string' },
  },
} as const

const riskFactor = {
  type: 'object',
  properties: { factor: { type: 'string' }, points: { type: 'integer' }, detail: { type: 'string' } },
} as const

const leakProperties = {
  id: { type: 'integer' },
  title: { type: 'string' },
  source: { type: 'string' },
  kind: { type: ['string', 'null'] },
  location: locationOutput,
  risk: { type: 'string' },
  riskFactors: { type: 'array', items: riskFactor },
  riskOverridden: { type: 'boolean' },
  status: { type: 'string' },
  action: { type: 'string' },
  rotation: { type: ['string', 'null'] },
  rotationRequestedAt: { type: ['string', 'null'] },
  rotatedAt: { type: ['string', 'null'] },
  tokenCount: { type: 'integer' },
  hits: { type: 'integer' },
  lastSeenAt: { type: ['string', 'null'] },
  createdAt: { type: 'string' },
  updatedAt: { type: 'string' },
} as const

/** A leak as listed. */
export const leakOutput = { type: 'object', properties: leakProperties } as const

const decisionState = {
  type: 'object',
  properties: { action: { type: 'string' }, status: { type: 'string' }, risk: { type: 'string' }, rotation: { type: ['string', 'null'] } },
} as const

/** An audit entry. */
export const decisionOutput = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    leakId: { type: 'integer' },
    actor: { type: 'string' },
    at: { type: 'string' },
    from: { anyOf: [decisionState, { type: 'null' }] },
    to: decisionState,
    comment: { type: ['string', 'null'] },
  },
} as const

/** A sighting as shown with its leak. */
export const sightingOutput = {
  type: 'object',
  properties: {
    id: { type: 'integer' }, leakId: { type: 'integer' }, nodeId: { type: 'string' }, sha256: { type: ['string', 'null'] },
    at: { type: 'string' }, host: { type: ['string', 'null'] }, method: { type: ['string', 'null'] },
    route: { type: ['string', 'null'] }, client: { type: ['string', 'null'] }, verdict: { type: ['string', 'null'] },
  },
} as const

/** A leak with its tokens, decisions and recent sightings. */
export const leakDetailOutput = {
  type: 'object',
  properties: {
    ...leakProperties,
    foundWith: {
      type: 'array',
      items: { type: 'object', properties: { id: { type: 'integer' }, title: { type: 'string' }, kind: { type: ['string', 'null'] }, status: { type: 'string' } } },
    },
    tokens: {
      type: 'array',
      items: { type: 'object', properties: { sha256: { type: 'string' }, preview: { type: 'string' }, kind: { type: ['string', 'null'] } } },
    },
    decisions: { type: 'array', items: decisionOutput },
    sightings: { type: 'array', items: sightingOutput },
  },
} as const

/** The error replies a route can give, for the OpenAPI document. */
export function problems(...statuses: number[]): Record<number, { $ref: string }> {
  return Object.fromEntries(statuses.map((s) => [s, { $ref: 'Problem#' }]))
}

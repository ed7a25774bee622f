/**
 * Sightings: a node saw a leaked token in a request, and reports it in batches on `POST /v1/sightings`
 * (docs/api.md). Never the token: its SHA-256, the leak id, and where the request went, the path reduced
 * to a route template. The control plane answers 202 `{accepted: <the batch's length>, ignored: 0}` whatever
 * the leak ids, so the answer reveals no leak's existence; it records only sightings of open leaks.
 *
 * Two string formats are the control plane's to check (its validator defines them): `text` is one line
 * without control, bidi-override or unpaired surrogate characters; `date-time` is an RFC 3339 time that
 * `Date.parse` can read.
 */
import { Type, type Static } from '@sinclair/typebox'
import { LeakAction, LeakId } from './leak.js'
import { NodeId } from './node-id.js'
import { TokenHashAnyCase } from './token-hash.js'

/** One sighting. Only the leak and the time are required; the control plane lowercases `sha256`. */
export const Sighting = Type.Object({
  leakId: LeakId,
  sha256: Type.Optional(TokenHashAnyCase),
  at: Type.String({ format: 'date-time', maxLength: 40 }),
  host: Type.Optional(Type.String({ maxLength: 253, format: 'text' })),
  method: Type.Optional(Type.String({ maxLength: 16, pattern: '^[A-Za-z]+$' })),
  route: Type.Optional(Type.String({ maxLength: 512, format: 'text' })),
  client: Type.Optional(Type.String({ maxLength: 64, format: 'text' })),
  verdict: Type.Optional(LeakAction),
}, { additionalProperties: false })
/** One sighting. */
export type Sighting = Static<typeof Sighting>

/**
 * The body of `POST /v1/sightings`, for batches of at most `maxItems` sightings (a control plane setting,
 * hence a function: the shape is this one whatever the limit).
 */
export function sightingBatch(maxItems: number) {
  return Type.Object({ nodeId: NodeId, sightings: Type.Array(Sighting, { maxItems }) }, { additionalProperties: false })
}
/** The body of `POST /v1/sightings`. */
export type SightingBatch = Static<ReturnType<typeof sightingBatch>>

/** The 202 answer of `POST /v1/sightings`. */
/** The 202 answer: `accepted` is the batch's length and `ignored` 0, whichever ids it named (see above). */
export const SightingsAnswer = Type.Object({ accepted: Type.Integer(), ignored: Type.Integer() })
/** The 202 answer of `POST /v1/sightings`. */
export type SightingsAnswer = Static<typeof SightingsAnswer>

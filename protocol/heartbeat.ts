/**
 * A node's heartbeat, `POST /v1/nodes/heartbeat` (docs/api.md): who it is, what it runs and how current
 * its index is. The control plane answers 204 with no body; `GET /v1/nodes` shows the fleet from these.
 * `version` has the control plane's `text` format (see sightings.ts). A node key reports only as the node id
 * it first reported as (another id is refused 403, NodeIdentityError in lib/errors.ts); so do its sightings.
 */
import { Type, type Static } from '@sinclair/typebox'
import { Revision } from './changes.js'
import { NodeId } from './node-id.js'

/** The body of `POST /v1/nodes/heartbeat`. */
export const Heartbeat = Type.Object({
  nodeId: NodeId,
  version: Type.Optional(Type.String({ maxLength: 64, format: 'text' })),
  revision: Type.Optional(Revision),
  indexEntries: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 32 })),
  syncAgeSeconds: Type.Optional(Type.Number({ minimum: 0, maximum: 1e9 })),
}, { additionalProperties: false })
/** The body of `POST /v1/nodes/heartbeat`. */
export type Heartbeat = Static<typeof Heartbeat>

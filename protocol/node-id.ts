/** How a node names itself to the control plane, in heartbeats and sightings. */
import { Type } from '@sinclair/typebox'

/** A node's id: 1 to 128 characters, letters, digits and `_ . : -`, starting with a letter or digit. */
export const NodeId = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]*$' })

/**
 * A leak as the index carries it to nodes: an id and what a node does with a token of it.
 * The id range is fixed by the snapshot format, which packs an id into the low 31 bits of an entry's value.
 */
import { Type, type Static } from '@sinclair/typebox'

/** The largest leak id: ids must fit the 31 bits a snapshot entry keeps for them. */
export const MAX_LEAK_ID = 0x7fffffff

/**
 * What a token's leak asks a node to do: `block` answers 403, `monitor` lets the request through and reports it.
 * Written as `enum` rather than TypeBox's union of literals so that a refusal names the allowed values.
 */
export const LEAK_ACTIONS = ['block', 'monitor'] as const
/** The schema of a leak action (see LEAK_ACTIONS). */
export const LeakAction = Type.Unsafe<(typeof LEAK_ACTIONS)[number]>({ type: 'string', enum: [...LEAK_ACTIONS] })
/** `block` or `monitor`. */
export type LeakAction = Static<typeof LeakAction>

/** A leak id as it crosses the wire: an integer from 1 to MAX_LEAK_ID. */
export const LeakId = Type.Integer({ minimum: 1, maximum: MAX_LEAK_ID })

/** Whether `n` is a leak id a snapshot can hold: an integer from 1 to MAX_LEAK_ID. */
export function isLeakId(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= MAX_LEAK_ID
}

/** Whether `s` is a leak action. */
export function isLeakAction(s: unknown): s is LeakAction {
  return s === 'block' || s === 'monitor'
}

/**
 * Live changes to the index, as the control plane serves them on `GET /v1/sync/changes?since=REV&wait=S`
 * (docs/api.md, "Sync"): `{ revision, changes: [{ rev, op: 'upsert', sha256, action, leakId } | { rev, op: 'delete', sha256 }] }`.
 * The schemas below are the route's query and answer (and its OpenAPI); a node checks what it receives
 * against the same ones, and validates a batch whole before applying any of it, so a bad change changes nothing.
 *
 * Answers are open (no `additionalProperties: false`): a node ignores fields a newer control plane adds.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import { ChangeInvalidError } from '../lib/errors.js'
import { LeakAction, LeakId } from './leak.js'
import { TokenHash } from './token-hash.js'

/** The longest a changes request may be held open, in seconds. */
export const MAX_WAIT_SECONDS = 30

/** An index revision: the number of changes ever made to the index. */
export const Revision = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })

/** The revision a change brings the index to. */
const ChangeRev = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })

/** A token's hash enters the index, or its entry changes. */
export const UpsertChange = Type.Object({ rev: ChangeRev, op: Type.Literal('upsert'), sha256: TokenHash, action: LeakAction, leakId: LeakId })
/** A token's hash leaves the index. */
export const DeleteChange = Type.Object({ rev: ChangeRev, op: Type.Literal('delete'), sha256: TokenHash })

/** One change, as it crosses the wire. */
export const Change = Type.Union([UpsertChange, DeleteChange])
/** One change, as it crosses the wire. */
export type Change = Static<typeof Change>

/** The query of `GET /v1/sync/changes`: the revision the node has, and how long it will wait for a change, in seconds. */
export const ChangesQuery = Type.Object({
  since: Revision,
  wait: Type.Optional(Type.Number({ minimum: 0, maximum: MAX_WAIT_SECONDS, default: 0 })),
}, { additionalProperties: false })
/** The query of `GET /v1/sync/changes`. */
export type ChangesQuery = Static<typeof ChangesQuery>

/**
 * The answer of `GET /v1/sync/changes`: the changes after `since` in rising revision, and the revision
 * they bring the index to (`since` itself when there are none; the last change's when the answer was capped).
 */
export const ChangesAnswer = Type.Object({ revision: Revision, changes: Type.Array(Change) })
/** The answer of `GET /v1/sync/changes`. */
export type ChangesAnswer = Static<typeof ChangesAnswer>

/** A change that passed validation, with its digest decoded. */
export interface ValidChange {
  rev: number
  op: 'upsert' | 'delete'
  digest: Buffer
  action: LeakAction
  leakId: number
}

// The answer's frame alone: its changes are checked one by one by validateChanges, with messages naming each.
const ChangesFrame = Type.Object({ revision: Revision, changes: Type.Array(Type.Unknown()) })

let validators: { upsert: ValidateFunction; delete: ValidateFunction; frame: ValidateFunction } | undefined

// Compiled on first use: the control plane imports these schemas and never validates with them here.
function compiled(): NonNullable<typeof validators> {
  if (validators !== undefined) return validators
  const ajv = new Ajv({ allErrors: false, strict: false })
  const compile = (schema: TSchema): ValidateFunction => ajv.compile(schema)
  validators = { upsert: compile(UpsertChange), delete: compile(DeleteChange), frame: compile(ChangesFrame) }
  return validators
}

/** Whether `body` is framed as a changes answer: a revision and a list (whose changes are not checked here). */
export function isChangesFrame(body: unknown): body is { revision: number; changes: unknown[] } {
  return compiled().frame(body)
}

/** Validates a batch: every change well formed, revisions rising. Throws LEAKGATE_ERR_CHANGE_INVALID. */
export function validateChanges(changes: readonly unknown[]): ValidChange[] {
  if (!Array.isArray(changes)) throw invalid('changes must be an array')
  const { upsert, delete: del } = compiled()
  const out: ValidChange[] = []
  let lastRev = -1
  for (let i = 0; i < changes.length; i++) {
    const c: unknown = changes[i]
    if (c === null || typeof c !== 'object') throw invalid(`change ${i} is not an object`)
    const op = (c as { op?: unknown }).op
    const check = op === 'upsert' ? upsert : op === 'delete' ? del : undefined
    if (check === undefined) throw invalid(`change ${i}: op must be "upsert" or "delete"`)
    if (!check(c)) throw invalid(`change ${i}: ${describe(check.errors)}`)
    const valid = c as Change
    if (valid.rev <= lastRev) throw invalid(`change ${i}: revisions must rise (rev ${valid.rev} after ${lastRev})`)
    lastRev = valid.rev
    const digest = Buffer.from(valid.sha256, 'hex')
    out.push(valid.op === 'upsert'
      ? { rev: valid.rev, op: 'upsert', digest, action: valid.action, leakId: valid.leakId }
      : { rev: valid.rev, op: 'delete', digest, action: 'block', leakId: 0 })
  }
  return out
}

function describe(errors: ErrorObject[] | null | undefined): string {
  const err = errors?.[0]
  if (err === undefined) return 'is invalid'
  const field = err.instancePath === '' ? '' : `${err.instancePath.slice(1).replace(/\//g, '.')} `
  const allowed = err.keyword === 'enum' ? ` (${(err.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')})` : ''
  return `${field}${err.message ?? 'is invalid'}${allowed}`
}

function invalid(message: string): InstanceType<typeof ChangeInvalidError> {
  return new ChangeInvalidError(`refused change batch: ${message}`)
}

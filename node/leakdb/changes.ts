/**
 * Live changes to the index, as the control plane streams them (docs/api.md, "Sync"):
 * `{ rev, op: 'upsert', sha256, action, leakId }` or `{ rev, op: 'delete', sha256 }`.
 * A batch is validated whole before any of it is applied, so a bad change changes nothing.
 */
import { ChangeInvalidError } from '../../lib/errors.js'
import { isSha256Hex } from './hash.js'
import { MAX_LEAK_ID, type Action } from './snapshot.js'

/** One change, as it crosses the wire. */
export interface Change {
  rev: number
  op: 'upsert' | 'delete'
  sha256: string
  action?: Action
  leakId?: number
}

/** A change that passed validation, with its digest decoded. */
export interface ValidChange {
  rev: number
  op: 'upsert' | 'delete'
  digest: Buffer
  action: Action
  leakId: number
}

/** Validates a batch: revisions rising, every field well formed. @throws {ChangeInvalidError} on the first bad change. */
export function validateChanges(changes: readonly unknown[]): ValidChange[] {
  if (!Array.isArray(changes)) throw invalid('changes must be an array')
  const out: ValidChange[] = []
  let lastRev = -1
  for (let i = 0; i < changes.length; i++) {
    const c = changes[i] as Partial<Change> | null
    if (c === null || typeof c !== 'object') throw invalid(`change ${i} is not an object`)
    const { rev, op, sha256 } = c
    if (typeof rev !== 'number' || !Number.isSafeInteger(rev) || rev < 1) throw invalid(`change ${i}: rev must be a positive integer`)
    if (rev <= lastRev) throw invalid(`change ${i}: revisions must rise (rev ${rev} after ${lastRev})`)
    lastRev = rev
    if (typeof sha256 !== 'string' || !isSha256Hex(sha256)) throw invalid(`change ${i} (rev ${rev}): sha256 must be 64 lowercase hex characters`)
    if (op === 'delete') {
      out.push({ rev, op, digest: Buffer.from(sha256, 'hex'), action: 'block', leakId: 0 })
      continue
    }
    if (op !== 'upsert') throw invalid(`change ${i} (rev ${rev}): op must be "upsert" or "delete"`)
    const { action, leakId } = c
    if (action !== 'block' && action !== 'monitor') throw invalid(`change ${i} (rev ${rev}): action must be "block" or "monitor"`)
    if (typeof leakId !== 'number' || !Number.isInteger(leakId) || leakId < 1 || leakId > MAX_LEAK_ID) {
      throw invalid(`change ${i} (rev ${rev}): leakId must be an integer from 1 to ${MAX_LEAK_ID}`)
    }
    out.push({ rev, op, digest: Buffer.from(sha256, 'hex'), action, leakId })
  }
  return out
}

function invalid(message: string): InstanceType<typeof ChangeInvalidError> {
  return new ChangeInvalidError(`refused change batch: ${message}`)
}

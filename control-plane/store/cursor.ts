/**
 * Opaque page cursors: base64url of `[sortKey, lastValue, lastId]`. The sort key is inside, so a
 * cursor used with another sort is refused instead of silently skipping or repeating rows.
 */
import { BadRequestError } from '../../lib/errors.js'

/** Encodes the position after a row. */
export function encodeCursor(sortKey: string, value: string | number, id: number): string {
  return Buffer.from(JSON.stringify([sortKey, value, id]), 'utf8').toString('base64url')
}

/** Decodes a cursor made by `encodeCursor` for `sortKey`; a 400 otherwise. */
export function decodeCursor(cursor: string, sortKey: string): { value: string | number; id: number } {
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    parsed = undefined
  }
  if (
    !Array.isArray(parsed) || parsed.length !== 3 || parsed[0] !== sortKey ||
    (typeof parsed[1] !== 'string' && typeof parsed[1] !== 'number') ||
    !Number.isSafeInteger(parsed[2])
  ) {
    throw new BadRequestError('cursor is not one this listing made (use nextCursor from the previous page, with the same sort and order)')
  }
  return { value: parsed[1] as string | number, id: parsed[2] as number }
}

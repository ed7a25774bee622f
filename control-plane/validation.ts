/**
 * The validators fastify compiles route schemas with. Bodies are checked as sent (no type coercion,
 * no silent removal of unknown fields: they are refused); query strings and params, which are text by
 * nature, are coerced to the declared types. Both know the `text` and `multiline` formats.
 */
import { Ajv, type ErrorObject, type Options } from 'ajv'
import addFormats from 'ajv-formats'
import type { FastifySchemaCompiler } from 'fastify'
import { isPlainMultiline, isPlainText } from '../lib/text.js'

// The one-line and multi-line text rules are lib/text.ts's, shared with the text scans put into
// leaks (file names, branches): what the API refuses, a scan shows escaped.

function makeAjv(options: Options): Ajv {
  const ajv = new Ajv({ allErrors: false, verbose: true, strict: false, useDefaults: true, removeAdditional: false, ...options })
  addFormats.default(ajv, ['date-time', 'uri'])
  // RFC 3339 allows a leap second (23:59:60) that Date cannot hold; refuse what Date.parse cannot read,
  // so a stored time is always a valid Date (one such sighting made a whole node batch fail with 500).
  const rfc3339 = ajv.formats['date-time'] as { validate: (s: string) => boolean }
  ajv.addFormat('date-time', { type: 'string', validate: (s: string) => rfc3339.validate(s) && !Number.isNaN(Date.parse(s)) })
  ajv.addFormat('text', { type: 'string', validate: isPlainText })
  ajv.addFormat('multiline', { type: 'string', validate: isPlainMultiline })
  // A preview shows at most 4 characters each side of an ellipsis (protocol/token-hash.ts makePreview), never a token.
  ajv.addFormat('preview', { type: 'string', validate: (s: string) => isPlainText(s) && /^[^…]{0,4}…[^…]{0,4}$/u.test(s) })
  return ajv
}

/** Installs the two validators on an app, keyed by the part of the request. */
export function validatorCompiler(): FastifySchemaCompiler<Record<string, unknown>> {
  const strict = makeAjv({ coerceTypes: false })
  const coercing = makeAjv({ coerceTypes: 'array' })
  return ({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? strict : coercing
    return ajv.compile(schema)
  }
}

const FORMAT_HINTS: Record<string, string> = {
  text: 'must be one line of text without control, bidi-override, invisible (zero-width, line separator, tag) or unpaired surrogate characters',
  multiline: 'must be text without control, bidi-override, invisible (zero-width, line separator, tag) or unpaired surrogate characters',
  preview: 'must be a preview: at most 4 characters, "…", at most 4 characters (never the token)',
  'date-time': 'must be an ISO-8601 date-time such as 2026-11-28T10:00:00.000Z',
}

/**
 * fastify's `schemaErrorFormatter`: one message naming the field and what to do, e.g.
 * `body.tokens[0] has an unknown field "token"; allowed: value, sha256, preview`.
 */
export function formatSchemaErrors(errors: ErrorObject[], dataVar: string): Error {
  const err = errors[0]
  if (err === undefined) return new Error(`${dataVar} is invalid`)
  const where = dataVar + err.instancePath.replace(/\/(\d+)(?=\/|$)/g, '[$1]').replace(/\//g, '.')
  const params = err.params as Record<string, unknown>
  switch (err.keyword) {
    case 'additionalProperties': {
      const allowed = Object.keys((err.parentSchema as { properties?: object } | undefined)?.properties ?? {})
      return new Error(`${where} has an unknown field "${String(params.additionalProperty)}"${allowed.length > 0 ? `; allowed: ${allowed.join(', ')}` : ''}`)
    }
    case 'required':
      return new Error(`${where} needs the field "${String(params.missingProperty)}"`)
    case 'enum':
      return new Error(`${where} must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`)
    case 'format':
      return new Error(`${where} ${FORMAT_HINTS[String(params.format)] ?? err.message ?? 'has a bad format'}`)
    case 'maxItems':
      return new Error(`${where} may hold at most ${String(params.limit)} items`)
    default:
      return new Error(`${where} ${err.message ?? 'is invalid'}`)
  }
}

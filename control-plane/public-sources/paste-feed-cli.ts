/**
 * `leakgate watch paste-feed`'s options: the listing, its field names and raw-URL template, from the
 * command line (`--list-url`, `--field key=id`...) or a small JSON file (`--feed-config`), the command
 * line winning.
 */
import { readFileSync } from 'node:fs'
import { ConfigError } from '../../lib/errors.js'
import { pasteFieldsOf, type PasteFeedOptions, type PasteFields } from './paste-feed.js'

/** The command's values that concern the paste feed. */
export interface PasteFeedArgs {
  'list-url'?: string
  'raw-url-template'?: string
  field?: string[]
  'feed-config'?: string
  limit?: string
}

/** The paste feed's options from the command's values; a ConfigError when they cannot be used. */
export function pasteFeedOptionsOf(values: PasteFeedArgs): PasteFeedOptions {
  let file: { listUrl?: unknown; rawUrlTemplate?: unknown; fields?: unknown; limit?: unknown } = {}
  if (values['feed-config'] !== undefined) {
    try {
      file = JSON.parse(readFileSync(values['feed-config'], 'utf8')) as typeof file
    } catch (err) {
      throw new ConfigError(`--feed-config ${values['feed-config']}: ${(err as Error).message}`)
    }
    if (file === null || typeof file !== 'object') throw new ConfigError('--feed-config: not a JSON object')
  }
  const listUrl = values['list-url'] ?? (typeof file.listUrl === 'string' ? file.listUrl : undefined)
  if (listUrl === undefined) throw new ConfigError('leakgate watch paste-feed needs --list-url URL (or listUrl in --feed-config)')
  const template = values['raw-url-template'] ?? (typeof file.rawUrlTemplate === 'string' ? file.rawUrlTemplate : undefined)
  const fields: Partial<PasteFields> = {}
  if (file.fields !== undefined) {
    if (file.fields === null || typeof file.fields !== 'object') throw new ConfigError('--feed-config: fields must be an object')
    for (const [name, field] of Object.entries(file.fields as Record<string, unknown>)) {
      if (!['key', 'date', 'rawUrl', 'publicUrl'].includes(name) || typeof field !== 'string') throw new ConfigError(`--feed-config: fields.${name} is not one of key, date, rawUrl, publicUrl with a field name`)
      fields[name as keyof PasteFields] = field
    }
  }
  try {
    Object.assign(fields, pasteFieldsOf(values.field ?? []))
  } catch (err) {
    throw new ConfigError((err as Error).message)
  }
  const limit = values.limit ?? (file.limit === undefined ? undefined : String(file.limit))
  if (limit !== undefined && !/^\d{1,4}$/.test(limit)) throw new ConfigError(`--limit takes a number, got ${JSON.stringify(limit)}`)
  return {
    listUrl,
    ...(template === undefined ? {} : { rawUrlTemplate: template }),
    ...(Object.keys(fields).length === 0 ? {} : { fields }),
    ...(limit === undefined ? {} : { limit: Number(limit) }),
  }
}

/**
 * One configuration loader for every part of Leakgate.
 *
 * A part declares a JSON schema whose properties carry two extra keywords:
 * `x-env` (the environment variable) and `x-flag` (the command-line flag, without `--`).
 * `loadConfig` merges, in rising order of precedence: schema defaults, the config file
 * (YAML or JSON), the environment, the flags. It validates the result against the schema
 * (`additionalProperties: false`), and reports every error naming the option, its env
 * variable and its flag, so an operator knows what to change wherever the value came from.
 */
import { readFileSync } from 'node:fs'
import { Ajv, type ErrorObject } from 'ajv'
import { parse as parseYaml, YAMLParseError } from 'yaml'
import { ConfigError } from './errors.js'

/** A JSON schema property, with Leakgate's env and flag names. */
export interface OptionSchema {
  type: 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'object'
  description: string
  default?: unknown
  enum?: readonly unknown[]
  minimum?: number
  maximum?: number
  minLength?: number
  maxLength?: number
  pattern?: string
  items?: Record<string, unknown>
  maxItems?: number
  properties?: Record<string, unknown>
  additionalProperties?: boolean | Record<string, unknown>
  'x-env'?: string
  'x-flag'?: string
  /** A secret: never echoed back in an error message. */
  'x-secret'?: boolean
  /** What a value matching `pattern` looks like, in words: an error says this, never the expression. */
  'x-expect'?: string
}

/** The schema of one part's configuration. */
export interface ConfigSchema {
  type: 'object'
  additionalProperties: false
  required?: readonly string[]
  properties: Record<string, OptionSchema>
}

/** Where the configuration comes from. Tests pass plain objects. */
export interface ConfigSources {
  /** Path of a YAML or JSON file, or undefined for none. */
  file?: string | undefined
  /** Usually `process.env`. */
  env?: Record<string, string | undefined>
  /** Parsed flags: flag name (as in `x-flag`) to its string value, or `true` for a bare flag. */
  flags?: Record<string, string | boolean | undefined>
}

// verbose: an error carries the schema it failed, so a nested option's `x-expect` can be read.
const ajv = new Ajv({ allErrors: true, useDefaults: true, coerceTypes: false, strict: false, verbose: true })

/**
 * Loads, merges, validates and deep-freezes a configuration.
 * @throws {ConfigError} naming each bad option with its env variable and flag.
 */
export function loadConfig<T>(schema: ConfigSchema, sources: ConfigSources): Readonly<T> {
  const merged: Record<string, unknown> = {}
  if (sources.file !== undefined) Object.assign(merged, readConfigFile(sources.file))
  const env = sources.env ?? {}
  const flags = sources.flags ?? {}
  for (const [key, prop] of Object.entries(schema.properties)) {
    const envName = prop['x-env']
    const fromEnv = envName === undefined ? undefined : env[envName]
    if (fromEnv !== undefined && fromEnv !== '') merged[key] = coerce(key, prop, fromEnv, `env ${envName}`)
    const flagName = prop['x-flag']
    const fromFlag = flagName === undefined ? undefined : flags[flagName]
    if (fromFlag !== undefined) merged[key] = coerce(key, prop, fromFlag, `flag --${flagName}`)
    // An object option's fields may have env variables of their own (a secret among plain settings):
    // each one set replaces that field of the object, whatever the file or the object's variable said.
    for (const [field, sub] of Object.entries(prop.properties ?? {}) as Array<[string, OptionSchema]>) {
      const subEnv = sub['x-env']
      const fromSubEnv = subEnv === undefined ? undefined : env[subEnv]
      if (fromSubEnv === undefined || fromSubEnv === '') continue
      const current = merged[key]
      const base = current !== null && typeof current === 'object' && !Array.isArray(current) ? current : {}
      merged[key] = { ...base, [field]: coerce(`${key}.${field}`, sub, fromSubEnv, `env ${subEnv}`) }
    }
  }
  const validate = ajv.compile(schema)
  if (!validate(merged)) {
    const lines = (validate.errors ?? []).map((err) => describeError(schema, err))
    throw new ConfigError(`invalid configuration:\n  - ${[...new Set(lines)].join('\n  - ')}`)
  }
  return deepFreeze(merged) as Readonly<T>
}

/** Names an option the way an operator can act on it: `upstream option (LEAKGATE_UPSTREAM, --upstream)`. */
export function optionName(schema: ConfigSchema, key: string): string {
  const prop = schema.properties[key]
  const where = [prop?.['x-env'], prop?.['x-flag'] === undefined ? undefined : `--${prop['x-flag']}`]
    .filter((v): v is string => v !== undefined)
  return where.length > 0 ? `${key} option (${where.join(', ')})` : `${key} option`
}

function describeError(schema: ConfigSchema, err: ErrorObject): string {
  const path = err.instancePath.split('/').filter(Boolean)
  if (err.keyword === 'additionalProperties') {
    const extra = String((err.params as { additionalProperty?: string }).additionalProperty)
    const at = path.length > 0 ? ` in ${path.join('.')}` : ''
    return `unknown option "${extra}"${at}; known options: ${Object.keys(schema.properties).join(', ')}`
  }
  if (err.keyword === 'required') {
    const missing = String((err.params as { missingProperty?: string }).missingProperty)
    return `${optionName(schema, missing)} is required`
  }
  const top = path[0]
  if (top === undefined) return `configuration ${err.message ?? 'is invalid'}`
  const rest = path.length > 1 ? ` (at ${path.join('.')})` : ''
  return `${optionName(schema, top)}${rest} ${expectation(err)}`
}

// What the operator should write instead, in words: the allowed values of an enum, the `x-expect` of a
// pattern (a regular expression tells a reader little), else Ajv's own message.
function expectation(err: ErrorObject): string {
  if (err.keyword === 'enum') {
    const allowed = (err.params as { allowedValues?: readonly unknown[] }).allowedValues ?? []
    return `must be one of: ${allowed.map((v) => JSON.stringify(v)).join(', ')}`
  }
  if (err.keyword === 'pattern') {
    const expect = (err.parentSchema as { 'x-expect'?: string } | undefined)?.['x-expect']
    return expect === undefined ? 'is not in the expected form (see the option\'s description)' : `must be ${expect}`
  }
  return err.message ?? 'is invalid'
}

function coerce(key: string, prop: OptionSchema, raw: string | boolean, from: string): unknown {
  if (typeof raw === 'boolean') return prop.type === 'boolean' ? raw : ''
  switch (prop.type) {
    case 'integer':
    case 'number': {
      const n = Number(raw)
      if (raw.trim() === '' || !Number.isFinite(n)) {
        throw new ConfigError(`${key} option from ${from} must be a number, got "${prop['x-secret'] ? '<redacted>' : raw}"`)
      }
      return n
    }
    case 'boolean':
      if (/^(1|true|yes|on)$/i.test(raw)) return true
      if (/^(0|false|no|off)$/i.test(raw)) return false
      throw new ConfigError(`${key} option from ${from} must be true or false, got "${raw}"`)
    case 'array':
    case 'object':
      try {
        return JSON.parse(raw)
      } catch (cause) {
        throw new ConfigError(`${key} option from ${from} must be JSON`, { cause })
      }
    default:
      return raw
  }
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (cause) {
    throw new ConfigError(`cannot read config file ${file}: ${(cause as Error).message}`, { cause })
  }
  let parsed: unknown
  try {
    parsed = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text)
  } catch (cause) {
    throw new ConfigError(`config file ${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}${parsePosition(cause)}`, { cause })
  }
  if (parsed === null || parsed === undefined) return {}
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${file} must hold a mapping of options`)
  }
  return parsed as Record<string, unknown>
}

// Where a config file fails to parse, never the parser's message: both parsers quote the text around the
// fault, and a config file may hold a key.
function parsePosition(err: unknown): string {
  if (err instanceof YAMLParseError && err.linePos !== undefined) return ` (line ${err.linePos[0].line}, column ${err.linePos[0].col})`
  const at = /at position (\d+)/.exec((err as Error).message)?.[1]
  return at === undefined ? '' : ` (at character ${at})`
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}

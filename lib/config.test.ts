import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig, type ConfigSchema } from './config.js'
import { ConfigError } from './errors.js'
import { tempDir } from '../test/support.js'

const schema: ConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { adminKey: { type: 'string', description: 'a key', 'x-env': 'LEAKGATE_ADMIN_KEY', 'x-secret': true } },
}

t.test('a config file that does not parse: the error never quotes its text (it may hold a key)', async (t) => {
  const dir = tempDir(t, 'leakgate-config-')
  const key = 'lgk_' + 'S3cret'.repeat(6) + 'abcd'
  const cases = [
    ['bad.yaml', `adminKey: ${key}: x\n`],
    ['bad.json', `{"adminKey": ${key}}`],
    ['trailing.json', `{"adminKey": "${key}",}`],
  ] as const
  for (const [name, text] of cases) {
    const file = join(dir, name)
    writeFileSync(file, text)
    let err: unknown
    try {
      loadConfig(schema, { file })
    } catch (e) {
      err = e
    }
    t.match(err, { code: ConfigError.code }, `${name}: a config error`)
    t.notMatch((err as Error).message, key, `${name}: the key is not in the message`)
  }
})

t.test('a value in the wrong form is told what is expected, in words: never a regular expression', async (t) => {
  const shaped: ConfigSchema = {
    type: 'object',
    additionalProperties: false,
    properties: {
      upstream: { type: 'string', pattern: '^https?://', 'x-expect': 'an http:// or https:// URL', description: 'the API', 'x-env': 'LEAKGATE_UPSTREAM', 'x-flag': 'upstream' },
      hosts: { type: 'array', description: 'hosts', items: { type: 'string', pattern: '^[a-z.]+$', 'x-expect': 'a lowercase host name' } },
      bare: { type: 'string', pattern: '^[0-9]+$', description: 'digits' },
    },
  }
  const message = (sources: Parameters<typeof loadConfig>[1]): string => {
    try {
      loadConfig(shaped, sources)
    } catch (err) {
      return (err as Error).message
    }
    return ''
  }
  const upstream = message({ env: { LEAKGATE_UPSTREAM: 'ftp://x' } })
  t.match(upstream, 'upstream option (LEAKGATE_UPSTREAM, --upstream) must be an http:// or https:// URL')
  t.notMatch(upstream, '^https', 'the expression is not quoted')
  t.equal(message({ env: { LEAKGATE_UPSTREAM: 'https://api.example' } }), '', 'a good value: no error')
  const dir = tempDir(t, 'leakgate-config-')
  const file = join(dir, 'c.json')
  writeFileSync(file, JSON.stringify({ hosts: ['ok.example', 'Bad Host'], bare: 'x1' }))
  const both = message({ file })
  t.match(both, 'hosts option (at hosts.1) must be a lowercase host name')
  t.match(both, 'bare option is not in the expected form (see the option\'s description)')
  t.notMatch(both, '[0-9]', 'no expression')
})

t.test('a value outside a list is told the allowed values', async (t) => {
  const listed: ConfigSchema = {
    type: 'object',
    additionalProperties: false,
    properties: { mode: { type: 'string', enum: ['proxy', 'check'], description: 'mode', 'x-env': 'LEAKGATE_MODE', 'x-flag': 'mode' } },
  }
  let message = ''
  try {
    loadConfig(listed, { flags: { mode: 'proxi' } })
  } catch (err) {
    message = (err as Error).message
  }
  t.match(message, 'mode option (LEAKGATE_MODE, --mode) must be one of: "proxy", "check"')
})

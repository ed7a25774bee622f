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

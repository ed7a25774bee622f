import t from 'tap'
import { echoesSecret, hideSecret } from './echo.js'
import { randomBytes } from 'node:crypto'

/** A random secret of base62 characters, made at test time. */
const random = (n: number, alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'): string => [...randomBytes(n)].map((b) => alphabet[b % alphabet.length]).join('')
const secret = random(24)
const b64 = (s: string): string => Buffer.from(s).toString('base64')

t.test('a text gives a secret away in every reading a person or a program can undo', async (t) => {
  const copies = {
    'as written': `leak ${secret}`,
    'two characters cut': `leak ${secret.slice(1, -1)}`,
    'half of it': `x ${secret.slice(0, 12)} y`,
    'another case': `leak ${secret.toLowerCase()}`,
    'spaces put in': `leak ${secret.slice(0, 8)} ${secret.slice(8, 16)} ${secret.slice(16)}`,
    'dashes put in': [...secret].join('-'),
    reversed: [...secret].reverse().join(''),
    'percent-encoded': [...secret].map((c) => `%${c.charCodeAt(0).toString(16)}`).join(''),
    'percent-encoded twice': [...secret].map((c) => `%25${c.charCodeAt(0).toString(16)}`).join(''),
    'HTML escapes': [...secret].map((c) => `&#${c.charCodeAt(0)};`).join(''),
    'backslash escapes': [...secret].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''),
    base64: `x ${b64(secret)}`,
    'base64 of user:secret': `Basic ${b64(`alice:${secret}`)}`,
    'base64 of ab:secret': `Basic ${b64(`ab:${secret}`)}`,
    base64url: Buffer.from(`a${secret}`).toString('base64url'),
    hex: Buffer.from(secret).toString('hex'),
    'in a URL': `https://x.example/?t=${encodeURIComponent(secret)}`,
  }
  for (const [name, text] of Object.entries(copies)) t.ok(echoesSecret(text, secret), name)
})

t.test('a preview, the secret\'s kind and unrelated text do not count as giving it away', async (t) => {
  const preview = `${secret.slice(0, 4)}…${secret.slice(-4)}`
  for (const text of [`GitHub token ${preview} in config.yml`, 'leaked in a public repository', `${secret.slice(0, 5)} and ${secret.slice(10, 15)}`, random(200)]) {
    t.notOk(echoesSecret(text, secret), text)
  }
  t.notOk(echoesSecret('abc', 'abc'), 'a secret shorter than 6 characters cannot be told from words')
})

t.test('hideSecret replaces copies, or the whole text when a copy cannot be cut out', async (t) => {
  t.equal(hideSecret(`src/${secret}.json`, secret, '[hidden]'), 'src/[secret].json')
  t.equal(hideSecret(`src/${b64(secret)}.json`, secret, '[hidden]'), '[hidden]')
  t.equal(hideSecret('src/app.json', secret, '[hidden]'), 'src/app.json')
})

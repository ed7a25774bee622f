/**
 * The one text rule: what the API's one-line and multi-line formats refuse, and how scanned text
 * shows those characters instead (escaped, one line, nothing else changed).
 */
import t from 'tap'
import { escapeText, isPlainMultiline, isPlainText } from './text.js'

/** Characters that make what a person reads differ from what is stored. */
const ODD = ['\u202e', '\n', '\u001b[31m', '\u200b', '\u2028', '\u2029', '\u{e0041}', '\u2066', '\r', '\u0007', '\u00ad', '\u2060', '\ufeff']

t.test('the sanitiser escapes what the one-line rule refuses, and nothing else', async (t) => {
  for (const c of ODD) {
    // Labels name the character by its code: a raw U+2028 would break the test output's own lines.
    t.notOk(isPlainText(`a${c}b`), escapeText(c))
    t.ok(isPlainText(escapeText(`a${c}b`)), `${escapeText(c)} escaped`)
  }
  t.equal(escapeText('src/main.ts café 日本 😀'), 'src/main.ts café 日本 😀', 'ordinary text is left as it is')
  t.equal(escapeText(escapeText('a\u202eb\n')), 'a\\u202eb\\u000a', 'escaping twice is escaping once')
  t.equal(escapeText('x\ud800y'), 'x\\ud800y', 'an unpaired surrogate')
})

t.test('multi-line text allows newlines and tabs, nothing else of those', async (t) => {
  t.ok(isPlainMultiline('line one\n\tline two'))
  for (const c of ODD.filter((c) => c !== '\n')) t.notOk(isPlainMultiline(`a${c}b`), escapeText(c))
})

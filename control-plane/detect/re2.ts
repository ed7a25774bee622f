/**
 * Go/RE2 patterns (as gitleaks configurations write them) run on RE2 itself, through the native
 * binding `re2`: matching takes time linear in the text whatever the pattern, so no rules file can
 * make a scan hang on a crafted line, and `(?i)`, `(?P<name>…)`, `\z`, `[[:alnum:]]`, `(?-i:…)`
 * mean what they mean in Go.
 *
 * The binding turns a JavaScript string into UTF-8 before searching it, keeping that copy only for
 * the next call on the same compiled pattern with the same string: each rule of a scan would encode
 * the text again (more than the search itself costs), and a pattern given another string between
 * two matches (a path, a secret) would encode the whole text again at each match, which is
 * quadratic. A text is therefore encoded once, the last one kept for the next pattern, and searched
 * as a Buffer, where RE2 reports byte offsets; they are turned back into UTF-16 offsets here.
 */
import { createRequire } from 'node:module'

/** What is used of the binding: a Buffer given to exec gives Buffers and byte offsets back. */
interface Re2Class {
  lastIndex: number
  test(text: string): boolean
  exec(bytes: Buffer): { index: number; length: number; [group: number]: Buffer | undefined } | null
}
const RE2 = createRequire(import.meta.url)('re2') as new (source: string, flags: string) => Re2Class

/** Texts shorter than this are encoded at each search rather than kept: a path or a secret tested must not evict the scanned text. */
const KEEP_MIN = 4096

/** One match: UTF-16 offsets in the searched text, the matched text and its groups. */
export interface Re2Match {
  index: number
  end: number
  text: string
  /** Capturing groups 1..n; undefined where a group did not take part (decoded from UTF-8: a lone surrogate reads U+FFFD). */
  groups: ReadonlyArray<string | undefined>
}

/** An RE2 pattern, compiled as written (RE2's `u` mode: `.` and classes match code points). */
export class Re2Pattern {
  readonly source: string
  /** Number of capturing groups. */
  readonly groupCount: number
  /** Whether the pattern matches the empty text. */
  readonly matchesEmpty: boolean
  readonly #re: Re2Class

  /** @throws SyntaxError naming what RE2 refuses in `source` (as RE2 says it, e.g. `invalid perl operator: (?<=`). */
  constructor(source: string) {
    this.source = source
    this.groupCount = countGroups(source)
    this.#re = new RE2(source, 'gu')
    this.matchesEmpty = this.test('')
  }

  /** Whether the pattern matches anywhere in `text`. */
  test(text: string): boolean {
    // One call: the binding's own conversion of the string costs no more than encoding it here.
    this.#re.lastIndex = 0
    return this.#re.test(text)
  }

  /**
   * Successive non-overlapping matches, leftmost first, as Go's FindAll gives them over the whole
   * text (`^` and `$` are the text's bounds; an empty match right after a match is skipped, and
   * after an empty match the search moves on by one code point).
   */
  *matches(text: string): Generator<Re2Match> {
    const encoded = encode(text)
    const { bytes } = encoded
    const re = this.#re
    let at = 0
    let previousEnd = -1
    while (at <= bytes.length) {
      // Set at every step: another search with the same pattern may have run while this one was suspended.
      re.lastIndex = at
      const m = re.exec(bytes)
      if (m === null) return
      const start = m.index
      const stop = start + m[0]!.length
      at = stop > start ? stop : stop + charBytes(bytes, stop)
      if (stop === start && start === previousEnd) continue
      previousEnd = stop
      const index = encoded.utf16(start)
      const end = stop === start ? index : encoded.utf16(stop)
      const groups: Array<string | undefined> = []
      for (let g = 1; g < m.length; g++) groups.push(m[g]?.toString('utf8'))
      yield { index, end, text: text.slice(index, end), groups }
    }
  }
}

/** A text as RE2 searches it: its UTF-8 bytes, and the way back from a byte offset to a UTF-16 offset. */
class Encoded {
  readonly text: string
  readonly bytes: Buffer
  #offsets: Offsets | undefined

  constructor(text: string) {
    this.text = text
    this.bytes = Buffer.from(text, 'utf8')
  }

  /** The UTF-16 offset of the character starting at byte `byte`. */
  utf16(byte: number): number {
    // Equal lengths: every character is ASCII, one byte and one code unit.
    if (this.bytes.length === this.text.length) return byte
    this.#offsets ??= new Offsets(this.text, this.bytes.length)
    return this.#offsets.utf16(byte)
  }
}

let kept: Encoded | undefined

function encode(text: string): Encoded {
  if (kept?.text === text) return kept
  const encoded = new Encoded(text)
  if (text.length >= KEEP_MIN) kept = encoded
  return encoded
}

/** Bytes per checkpoint: a lookup walks at most this far. */
const STEP = 64

/**
 * Byte offsets of a non-ASCII text's UTF-8 encoding mapped to UTF-16 offsets: a checkpoint every
 * `STEP` bytes (the first character starting at or after it), then a short walk. Built in one pass
 * the first time it is needed; 8 bytes a checkpoint instead of 4 a byte.
 */
class Offsets {
  readonly #text: string
  readonly #byteAt: Uint32Array
  readonly #unitAt: Uint32Array

  constructor(text: string, byteLength: number) {
    this.#text = text
    const count = Math.floor(byteLength / STEP) + 1
    this.#byteAt = new Uint32Array(count)
    this.#unitAt = new Uint32Array(count)
    let byte = 0
    let k = 0
    for (let i = 0; i < text.length; ) {
      while (k < count && k * STEP <= byte) {
        this.#byteAt[k] = byte
        this.#unitAt[k++] = i
      }
      const bytes = utf8Bytes(text, i)
      i += bytes === 4 ? 2 : 1
      byte += bytes
    }
    for (; k < count; k++) {
      this.#byteAt[k] = byteLength
      this.#unitAt[k] = text.length
    }
  }

  utf16(byte: number): number {
    let k = Math.floor(byte / STEP)
    // A character straddling the checkpoint put it past `byte`: the one before is at or below it.
    if (this.#byteAt[k]! > byte) k--
    let at = this.#byteAt[k]!
    let i = this.#unitAt[k]!
    while (at < byte && i < this.#text.length) {
      const bytes = utf8Bytes(this.#text, i)
      i += bytes === 4 ? 2 : 1
      at += bytes
    }
    return i
  }
}

/**
 * The UTF-8 length of the character at UTF-16 offset `i`, as Buffer.from writes it: 4 bytes for a
 * surrogate pair (two code units), else one code unit (a lone surrogate becomes U+FFFD, 3 bytes).
 */
function utf8Bytes(s: string, i: number): number {
  const c = s.charCodeAt(i)
  if (c < 0x80) return 1
  if (c < 0x800) return 2
  if (c >= 0xd800 && c <= 0xdbff) {
    const next = s.charCodeAt(i + 1)
    if (next >= 0xdc00 && next <= 0xdfff) return 4
  }
  return 3
}

/** The length of the UTF-8 character starting at `at` (1 at the end): how far an empty match moves the search. */
function charBytes(bytes: Buffer, at: number): number {
  const lead = bytes[at]
  if (lead === undefined || lead < 0xc0) return 1
  return lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4
}

/** The index of the `]` closing the class that opens at `start`. */
function classEnd(source: string, start: number): number {
  let i = start + 1
  if (source[i] === '^') i++
  if (source[i] === ']') i++
  for (; i < source.length && source[i] !== ']'; i++) {
    if (source[i] === '\\') i++
    else if (source.startsWith('[:', i)) {
      const end = source.indexOf(':]', i + 2)
      if (end >= 0) i = end + 1
    }
  }
  return i
}

/**
 * Capturing groups of a pattern: `(` not in a class nor escaped, unless `(?` but for named groups.
 * @throws SyntaxError for `\C` (any byte), which Go refuses and which could end a match inside a character.
 */
function countGroups(source: string): number {
  let count = 0
  for (let i = 0; i < source.length; i++) {
    const c = source[i]
    if (c === '\\') {
      if (source[i + 1] === 'C') throw new SyntaxError('invalid escape sequence: \\C')
      if (source[i + 1] === 'Q') {
        const end = source.indexOf('\\E', i + 2)
        i = end < 0 ? source.length : end + 1
      } else i++
    } else if (c === '[') {
      // A class: a leading ^ and a leading ] are part of it; [:name:] inside it is one item.
      i = classEnd(source, i)
    } else if (c === '(') {
      if (source[i + 1] !== '?' || source.startsWith('(?P<', i) || (source.startsWith('(?<', i) && source[i + 3] !== '=' && source[i + 3] !== '!')) count++
    }
  }
  return count
}

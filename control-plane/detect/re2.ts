/**
 * Go/RE2 patterns (as gitleaks configurations write them) run on RE2 itself, through the re2-wasm
 * package: matching takes time linear in the text whatever the pattern, so no rules file can make a
 * scan hang on a crafted line, and `(?i)`, `(?P<name>…)`, `\z`, `[[:alnum:]]`, `(?-i:…)` mean what
 * they mean in Go.
 *
 * Two properties of re2-wasm shape the search. Each call copies its whole input into the module's
 * memory, so searching a long text match after match (exec with lastIndex) is quadratic; and that
 * memory is fixed at 16 MiB, so a text of a few megabytes aborts the module. Texts are therefore
 * searched through windows: small after a match, doubling while nothing is found, never larger than
 * `MAX_WINDOW`. Indices it reports count code points; they are turned back into UTF-16 offsets here.
 */
import { createRequire } from 'node:module'
import type { RE2 as Re2Class } from 're2-wasm'

const { RE2 } = createRequire(import.meta.url)('re2-wasm') as { RE2: typeof Re2Class }

/** The first window after a match, in UTF-16 code units: what one more match costs to look for. */
const FIRST_WINDOW = 1024
/** The largest window: a match longer than half of it may be missed; its UTF-8 copy stays far below 16 MiB. */
const MAX_WINDOW = 1 << 16
/**
 * How many patterns stay compiled at once. Each holds its program and DFA cache in the module's
 * fixed 16 MiB, which aborts the module for good when full: the least recently used is freed.
 */
const MAX_COMPILED = 12
const compiled: Re2Pattern[] = []
/** A match ending this close to a window's end may continue past it: it is looked for again in a larger window. */
const EDGE = 256
/** Characters before a window's start given as context, so `\b` sees the previous character. */
const CONTEXT = 2

/** One match: UTF-16 offsets in the searched text, the matched text and its groups. */
export interface Re2Match {
  index: number
  end: number
  text: string
  /** Capturing groups 1..n; undefined where a group did not take part. */
  groups: ReadonlyArray<string | undefined>
}

/**
 * An RE2 pattern. RE2 in WebAssembly takes ~0.1 s to compile a counted repetition such as
 * `[\w.-]{0,50}?`, which gitleaks' rules are full of: the pattern is checked at once with each
 * `{n,m}` read as `*` or `+` (same syntax, same groups, same empty matches), and compiled as written
 * the first time it is used, so a rules file loads fast and a rule whose keywords never occur costs nothing.
 */
export class Re2Pattern {
  readonly source: string
  /** Number of capturing groups. */
  readonly groupCount: number
  /** Whether the pattern matches the empty text. */
  readonly matchesEmpty: boolean
  #re: Re2Class | undefined

  /** @throws SyntaxError naming what RE2 refuses in `source`. */
  constructor(source: string) {
    this.source = source
    const relaxed = new RE2(withoutCounts(source), 'u')
    this.groupCount = countGroups(source)
    this.matchesEmpty = relaxed.test('')
    free(relaxed)
  }

  /** Whether the pattern matches anywhere in `text`. */
  test(text: string): boolean {
    for (const _ of this.matches(text)) return true
    return false
  }

  /** The compiled pattern. @throws SyntaxError if RE2 cannot compile it as written (too large). */
  #compiled(): Re2Class {
    const at = compiled.indexOf(this)
    if (at >= 0) compiled.splice(at, 1)
    compiled.push(this)
    if (this.#re === undefined) {
      this.#re = new RE2(this.source, 'gu')
      const oldest = compiled.length > MAX_COMPILED ? compiled.shift() : undefined
      if (oldest !== undefined) oldest.#free()
    }
    return this.#re
  }

  /** Gives the compiled pattern's memory back to the module (re2-wasm's objects are not garbage collected). */
  #free(): void {
    if (this.#re !== undefined) free(this.#re)
    this.#re = undefined
  }

  /**
   * Successive non-overlapping matches, leftmost first, as RE2 finds them in the whole text (`^` and
   * `$` are the text's bounds), except that a match longer than 128 KiB, or that only exists as a
   * longer alternative than one that ends a window, can be reported shorter or missed.
   */
  *matches(text: string): Generator<Re2Match> {
    const n = text.length
    let at = 0
    let width = FIRST_WINDOW
    while (at < n || (at === 0 && n === 0)) {
      const end = Math.min(n, at + width)
      const from = Math.max(0, at - CONTEXT)
      const m = this.#execAt(text.slice(from, end), at - from)
      if (m === undefined) {
        if (end === n) return
        // Whatever starts in the first half of the window and fits in half of it was not there.
        at = Math.max(at + 1, end - (width >> 1))
        width = Math.min(MAX_WINDOW, width * 2)
        continue
      }
      const index = from + m.index
      const stop = index + m.text.length
      if (end < n && stop > end - EDGE && width < MAX_WINDOW) {
        width = Math.min(MAX_WINDOW, width * 2)
        continue
      }
      yield { index, end: stop, text: m.text, groups: m.groups }
      at = stop > index ? stop : index + 1
      width = FIRST_WINDOW
      if (n === 0) return
    }
  }

  /** The first match in `window` starting at or after the UTF-16 offset `start`. */
  #execAt(window: string, start: number): { index: number; text: string; groups: Array<string | undefined> } | undefined {
    const plain = !/[\uD800-\uDFFF]/.test(window)
    // Lone surrogates (a window may cut a pair) would be mis-encoded on the way in: same length, replaced.
    const input = plain ? window : wellFormed(window)
    const re = this.#compiled()
    re.lastIndex = plain ? start : codePoints(input, start)
    const m = re.exec(input)
    if (m === null) return undefined
    const text = m[0] ?? ''
    return { index: plain ? m.index : utf16Offset(input, m.index), text, groups: m.slice(1) }
  }
}

/** Gives a compiled pattern's memory back to the module (re2-wasm's objects are not garbage collected). */
function free(re: Re2Class): void {
  ;(re as unknown as { wrapper?: { delete?: () => void } }).wrapper?.delete?.()
}

/**
 * The pattern with each counted repetition `{n}`, `{n,}`, `{n,m}` (outside classes and escapes) as
 * `*` (n = 0) or `+`. @throws SyntaxError for counts RE2 refuses (above 1000, or m < n).
 */
function withoutCounts(source: string): string {
  let out = ''
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!
    if (c === '\\') {
      out += source.slice(i, i + 2)
      i++
    } else if (c === '[') {
      const start = i
      i = classEnd(source, i)
      out += source.slice(start, i + 1)
    } else if (c === '{') {
      const m = /^\{(\d+)(?:(,)(\d*))?\}/.exec(source.slice(i))
      if (m === null) {
        out += c
        continue
      }
      const min = Number(m[1])
      const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3])
      if (min > 1000 || (max !== Infinity && max > 1000) || max < min) throw new SyntaxError(`bad repetition operator: ${m[0]}`)
      out += min === 0 ? '*' : '+'
      i += m[0].length - 1
    } else out += c
  }
  return out
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

/** Capturing groups of a pattern RE2 accepted: `(` not in a class nor escaped, unless `(?` but for named groups. */
function countGroups(source: string): number {
  let count = 0
  for (let i = 0; i < source.length; i++) {
    const c = source[i]
    if (c === '\\') {
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

function wellFormed(s: string): string {
  return s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
}

function codePoints(s: string, utf16: number): number {
  let count = 0
  for (let i = 0; i < utf16; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) i++
    count++
  }
  return count
}

function utf16Offset(s: string, codePoint: number): number {
  let i = 0
  for (let count = 0; count < codePoint && i < s.length; count++) {
    const c = s.charCodeAt(i)
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < s.length ? 2 : 1
  }
  return i
}

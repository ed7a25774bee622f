/**
 * What a regex source says about where its matches can be, for running a rule only around its
 * keywords (Rule.reach): the longest text a match (or an attempt at one) can span, and the
 * literal texts every match starts with. Both are read from the source conservatively: anything
 * this reader does not understand makes the answer "unbounded" / "unknown", and the rule then runs
 * on the whole text as before.
 */

/** Look-arounds, `\b` and `\B` may read this far outside a match; a window is padded by it. */
export const LOOK_PAD = 64

/** Alternatives kept when expanding leading literals (`(?:a|b)(?:c|d)` is 4). */
const MAX_PREFIXES = 64

/**
 * The longest a match of `source` can be, in UTF-16 code units; Infinity when unbounded (`*`, `+`,
 * `{n,}`, back references), when anchored (`^`, `$`: a window's edge is no line's), or when a
 * look-around may read further than LOOK_PAD.
 */
export function maxMatchLength(source: string): number {
  let i = 0
  let ok = true
  // Returns the longest of the alternatives from i up to `)` or the end.
  const alternatives = (): number => {
    let best = sequence()
    while (source[i] === '|') {
      i++
      best = Math.max(best, sequence())
    }
    return best
  }
  const sequence = (): number => {
    let total = 0
    while (i < source.length && source[i] !== '|' && source[i] !== ')') {
      let atom = 0
      const c = source[i]!
      if (c === '\\') {
        const next = source[i + 1] ?? ''
        if (/[1-9k]/.test(next)) ok = false
        if (next === 'u' && /^[0-9a-fA-F]{4}$/.test(source.slice(i + 2, i + 6))) i += 6
        else if (next === 'x' && /^[0-9a-fA-F]{2}$/.test(source.slice(i + 2, i + 4))) i += 4
        else if (next === 'c') i += 3
        else if (next === 'p' || next === 'P' || next === 'u') ok = false
        else i += 2
        atom = next === 'b' || next === 'B' ? 0 : 1
      } else if (c === '[') {
        i++
        if (source[i] === '^') i++
        if (source[i] === ']') i++
        while (i < source.length && source[i] !== ']') i += source[i] === '\\' ? 2 : 1
        i++
        atom = 1
      } else if (c === '(') {
        let look = false
        if (source.startsWith('(?:', i)) i += 3
        else if (source.startsWith('(?=', i) || source.startsWith('(?!', i)) {
          i += 3
          look = true
        } else if (source.startsWith('(?<=', i) || source.startsWith('(?<!', i)) {
          i += 4
          look = true
        } else if (source.startsWith('(?<', i)) i = source.indexOf('>', i) + 1
        else if (source.startsWith('(?', i)) ok = false
        else i++
        const inner = alternatives()
        if (source[i] !== ')') ok = false
        i++
        if (look && inner > LOOK_PAD) ok = false
        atom = look ? 0 : inner
      } else if (c === '^' || c === '$') {
        ok = false
        i++
      } else {
        i++
        atom = 1
      }
      // A quantifier multiplies the atom by its largest count.
      const q = source[i]
      if (q === '*' || q === '+') {
        atom = atom === 0 ? 0 : Infinity
        i++
      } else if (q === '?') {
        i++
      } else if (q === '{') {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i))
        if (m !== null) {
          const most = m[2] === undefined ? Number(m[1]) : m[3] === '' ? Infinity : Number(m[3])
          atom = atom === 0 ? 0 : atom * most
          i += m[0].length
        }
      }
      if (source[i] === '?' && (q === '*' || q === '+' || q === '?' || q === '{')) i++
      total += atom
    }
    return total
  }
  const max = alternatives()
  return ok && i >= source.length ? max : Infinity
}

/**
 * Lowercase literal texts one of which every match of `source` starts with (look-arounds before
 * them skipped: they read, they do not match); undefined when the source does not start with a
 * literal this reader can see. `[sS]` counts as the letter s (provider-spec.ts `caseless` writes
 * names that way).
 */
export function leadingLiterals(source: string): string[] | undefined {
  let i = 0
  // Reads a sequence; returns its prefixes and whether the sequence was literal to its end.
  const sequence = (): { prefixes: string[]; whole: boolean } => {
    let prefixes = ['']
    for (;;) {
      if (i >= source.length || source[i] === '|' || source[i] === ')') return { prefixes, whole: true }
      const start = i
      let atom: string[] | undefined
      let atomWhole = true
      const c = source[i]!
      if (c === '\\') {
        const next = source[i + 1] ?? ''
        if (/[^A-Za-z0-9]/.test(next)) atom = [next]
        i += 2
      } else if (c === '[') {
        const m = /^\[([A-Za-z])([A-Za-z])\]/.exec(source.slice(i))
        if (m !== null && m[1]!.toLowerCase() === m[2]!.toLowerCase()) atom = [m[1]!.toLowerCase()]
        i += m?.[0].length ?? 1
      } else if (c === '(') {
        if (source.startsWith('(?<=', i) || source.startsWith('(?<!', i) || source.startsWith('(?=', i) || source.startsWith('(?!', i)) {
          // Zero-width: skip it whole (only where nothing was read yet, else it ends the prefix).
          if (prefixes.length !== 1 || prefixes[0] !== '') return { prefixes, whole: false }
          i = skipGroup(source, i)
          continue
        }
        if (source.startsWith('(?:', i)) i += 3
        else if (source.startsWith('(?<', i)) i = source.indexOf('>', i) + 1
        else if (source.startsWith('(?', i)) return { prefixes, whole: false }
        else i++
        const alts: string[] = []
        for (;;) {
          const seq = sequence()
          alts.push(...seq.prefixes)
          atomWhole &&= seq.whole
          if (!seq.whole) i = alternativeEnd(source, i)
          if (source[i] === '|') i++
          else break
        }
        if (source[i] !== ')') {
          i = start
          return { prefixes, whole: false }
        }
        i++
        atom = alts
      } else if (!/[.*+?{}^$|]/.test(c)) {
        atom = [c.toLowerCase()]
        i++
      }
      if (atom === undefined) {
        i = start
        return { prefixes, whole: false }
      }
      const q = source[i]
      const optional = q === '?' || q === '*' || (q === '{' && /^\{0[,}]/.test(source.slice(i)))
      if (optional) {
        i = start
        return { prefixes, whole: false }
      }
      const repeated = q === '+' || q === '{'
      const next: string[] = []
      for (const p of prefixes) for (const a of atom) next.push(p + a)
      if (next.length > MAX_PREFIXES) return { prefixes, whole: false }
      prefixes = next
      if (repeated || !atomWhole) return { prefixes, whole: false }
    }
  }
  const prefixes: string[] = []
  for (;;) {
    const seq = sequence()
    prefixes.push(...seq.prefixes)
    if (!seq.whole) i = alternativeEnd(source, i)
    if (source[i] !== '|') break
    i++
  }
  return i < source.length || prefixes.some((p) => p === '') ? undefined : prefixes
}

/** From inside an alternative, the offset of the `|` or `)` that ends it. */
function alternativeEnd(source: string, i: number): number {
  let depth = 0
  for (; i < source.length; i++) {
    const c = source[i]
    if (c === '\\') i++
    else if (c === '[') {
      for (i++; i < source.length && source[i] !== ']'; i++) if (source[i] === '\\') i++
    } else if (c === '(') depth++
    else if (c === ')') {
      if (depth === 0) return i
      depth--
    } else if (c === '|' && depth === 0) return i
  }
  return i
}

function skipGroup(source: string, i: number): number {
  let depth = 0
  for (; i < source.length; i++) {
    const c = source[i]
    if (c === '\\') i++
    else if (c === '[') {
      for (i++; i < source.length && source[i] !== ']'; i++) if (source[i] === '\\') i++
    } else if (c === '(') depth++
    else if (c === ')' && --depth === 0) return i + 1
  }
  return i
}

/**
 * How far around a keyword a match of `source` can be, when every match holds one of `keywords`
 * (every leading literal contains one) and matches are bounded; undefined otherwise.
 */
export function reachOf(source: string, keywords: readonly string[]): { before: number; after: number } | undefined {
  const max = maxMatchLength(source)
  if (!Number.isFinite(max)) return undefined
  const prefixes = leadingLiterals(source)
  if (prefixes === undefined || keywords.length === 0) return undefined
  if (!prefixes.every((p) => keywords.some((k) => p.includes(k.toLowerCase())))) return undefined
  return { before: max, after: max }
}

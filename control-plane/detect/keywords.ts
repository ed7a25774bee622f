/**
 * The keyword prefilter: every keyword of every rule found in one pass over the text, by one
 * Aho-Corasick automaton (a trie of the keywords whose missing transitions are filled in from the
 * failure links, so each character costs one table read). With ~700 keywords a regex alternation
 * or one `includes` a keyword costs a pass a keyword, more or less; this costs one. ASCII letters
 * are matched without regard to case by the table itself (an upper-case letter's column is its
 * lower-case one's), so the text is not lowercased first: that copy cost as much as the pass.
 *
 * Besides which keywords occur, it records where the "positional" keywords occur (those of rules
 * that run only near their keywords, see Rule.reach), so the scanner can run those rules on
 * windows around the hits.
 */

/** Characters the table holds a column for; a keyword with another character is matched by the fallback. */
const WIDTH = 128

/** What one pass found: the keywords present, and the places of the positional ones. */
export interface KeywordHits {
  present: Set<string>
  /** Keyword → start offsets in the text where it occurs, for positional keywords only. */
  at: Map<string, number[]>
  /**
   * False when a positional keyword outside ASCII occurs but its places could not be told (lowercasing
   * the text changed its length): rules must then read the whole text.
   */
  placed: boolean
}

/** A compiled keyword set. */
export interface KeywordMatcher {
  /** The keywords in `text`, ASCII letters matched in any case. */
  find(text: string): KeywordHits
}

/**
 * Compiles `keywords` (lowercase). `positional`: the keywords whose every occurrence is wanted.
 * Keywords with characters outside ASCII are looked for with `includes` / `indexOf` in the
 * lowercased text (there are few or none; the text is lowercased only for them).
 */
export function keywordMatcher(keywords: readonly string[], positional: ReadonlySet<string> = new Set()): KeywordMatcher {
  const all = [...new Set(keywords)].filter((k) => k.length > 0)
  const ascii = all.filter((k) => /^[\x00-\x7f]*$/.test(k))
  const other = all.filter((k) => !/^[\x00-\x7f]*$/.test(k))
  // Trie: goto[state * WIDTH + c] = next state, -1 none (root's missing ones become 0 below).
  let goto = new Int32Array(WIDTH * 64).fill(-1)
  const terminal: number[] = [-1] // state → keyword index ending there, -1 none
  let states = 1
  for (const [i, k] of ascii.entries()) {
    let s = 0
    for (let j = 0; j < k.length; j++) {
      const c = k.charCodeAt(j)
      let n = goto[s * WIDTH + c]!
      if (n < 0) {
        n = states++
        if (n * WIDTH >= goto.length) {
          const grown = new Int32Array(goto.length * 2).fill(-1)
          grown.set(goto)
          goto = grown
        }
        goto[s * WIDTH + c] = n
        terminal.push(-1)
      }
      s = n
    }
    terminal[s] = i
  }
  goto = goto.slice(0, states * WIDTH)
  // Breadth-first: failure links, outputs (own keyword plus the failure chain's), full transitions.
  const fail = new Int32Array(states)
  const outputs: number[][] = Array.from({ length: states }, (_, s) => (terminal[s]! >= 0 ? [terminal[s]!] : []))
  const queue: number[] = []
  for (let c = 0; c < WIDTH; c++) {
    const n = goto[c]!
    if (n < 0) goto[c] = 0
    else {
      fail[n] = 0
      queue.push(n)
    }
  }
  for (let q = 0; q < queue.length; q++) {
    const s = queue[q]!
    outputs[s]!.push(...outputs[fail[s]!]!)
    for (let c = 0; c < WIDTH; c++) {
      const n = goto[s * WIDTH + c]!
      const viaFail = goto[fail[s]! * WIDTH + c]!
      if (n < 0) goto[s * WIDTH + c] = viaFail
      else {
        fail[n] = viaFail
        queue.push(n)
      }
    }
  }
  // Upper-case letters go where their lower-case letters go: matching ignores ASCII case.
  for (let st = 0; st < states; st++) {
    for (let c = 65; c <= 90; c++) goto[st * WIDTH + c] = goto[st * WIDTH + c + 32]!
  }
  // States are stored premultiplied by WIDTH, so a step is one add and one read.
  for (let i = 0; i < goto.length; i++) goto[i] = goto[i]! * WIDTH
  // Per state: 0 nothing ends here, 1 only keywords whose presence is enough, 2 a positional one too.
  const kindOf = new Uint8Array(states)
  for (let st = 0; st < states; st++) {
    const out = outputs[st]!
    if (out.length > 0) kindOf[st] = out.some((i) => positional.has(ascii[i]!)) ? 2 : 1
  }
  const lengths = ascii.map((k) => k.length)
  return {
    find(text: string): KeywordHits {
      const present = new Set<string>()
      const at = new Map<string, number[]>()
      const seen = new Uint8Array(states)
      let placed = true
      const length = text.length
      let s = 0
      for (let i = 0; i < length; i++) {
        const c = text.charCodeAt(i)
        s = c < WIDTH ? goto[s + c]! : 0
        const state = s >> SHIFT
        const kind = kindOf[state]!
        if (kind === 0) continue
        if (kind === 1) {
          // Presence only: the first time a state is reached is all that counts.
          if (seen[state] === 0) {
            seen[state] = 1
            for (const k of outputs[state]!) present.add(ascii[k]!)
          }
          continue
        }
        for (const k of outputs[state]!) {
          const word = ascii[k]!
          present.add(word)
          if (!positional.has(word)) continue
          const start = i + 1 - lengths[k]!
          const list = at.get(word)
          if (list === undefined) at.set(word, [start])
          else list.push(start)
        }
      }
      if (other.length > 0) {
        const lower = text.toLowerCase()
        // Lowercasing changed some lengths (a few non-ASCII letters): offsets in `lower` would not be the text's.
        const sameOffsets = lower.length === text.length
        for (const k of other) {
          if (!lower.includes(k)) continue
          present.add(k)
          if (!positional.has(k)) continue
          if (!sameOffsets) {
            placed = false
            continue
          }
          const list: number[] = []
          for (let i = lower.indexOf(k); i >= 0; i = lower.indexOf(k, i + 1)) list.push(i)
          at.set(k, list)
        }
      }
      return { present, at, placed }
    },
  }
}

/** log2(WIDTH): a premultiplied state back to its number. */
const SHIFT = 7

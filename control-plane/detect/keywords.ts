/**
 * The keyword prefilter: every keyword of every rule found in one pass over the lowercased text,
 * by one Aho-Corasick automaton (a trie of the keywords whose missing transitions are filled in
 * from the failure links, so each character costs one table read). With ~700 keywords a regex
 * alternation or one `includes` a keyword costs a pass a keyword, more or less; this costs one.
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
  /** Keyword → start offsets (in the lowercased text) where it occurs, for positional keywords only. */
  at: Map<string, number[]>
}

/** A compiled keyword set. */
export interface KeywordMatcher {
  find(lower: string): KeywordHits
}

/**
 * Compiles `keywords` (lowercase). `positional`: the keywords whose every occurrence is wanted.
 * Keywords with characters outside ASCII are looked for with `includes` / `indexOf` (there are
 * few or none).
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
  // Per state: 0 nothing ends here, 1 only keywords whose presence is enough, 2 a positional one too.
  const kindOf = new Uint8Array(states)
  for (let s = 0; s < states; s++) {
    const out = outputs[s]!
    if (out.length > 0) kindOf[s] = out.some((i) => positional.has(ascii[i]!)) ? 2 : 1
  }
  const lengths = ascii.map((k) => k.length)
  return {
    find(lower: string): KeywordHits {
      const present = new Set<string>()
      const at = new Map<string, number[]>()
      const seen = new Uint8Array(states)
      let s = 0
      for (let i = 0; i < lower.length; i++) {
        const c = lower.charCodeAt(i)
        s = c < WIDTH ? goto[s * WIDTH + c]! : 0
        const kind = kindOf[s]!
        if (kind === 0) continue
        if (kind === 1) {
          // Presence only: the first time a state is reached is all that counts.
          if (seen[s] === 0) {
            seen[s] = 1
            for (const k of outputs[s]!) present.add(ascii[k]!)
          }
          continue
        }
        for (const k of outputs[s]!) {
          const word = ascii[k]!
          present.add(word)
          if (!positional.has(word)) continue
          const start = i + 1 - lengths[k]!
          const list = at.get(word)
          if (list === undefined) at.set(word, [start])
          else list.push(start)
        }
      }
      for (const k of other) {
        if (!lower.includes(k)) continue
        present.add(k)
        if (!positional.has(k)) continue
        const list: number[] = []
        for (let i = lower.indexOf(k); i >= 0; i = lower.indexOf(k, i + 1)) list.push(i)
        at.set(k, list)
      }
      return { present, at }
    },
  }
}

/**
 * Every token-shaped string of a text, for the issued-hash check: what the detection engine's rules
 * match (their values, decoded where a rule decodes), and a generic pass over runs of token
 * characters, so a token of ours is found by its hash even in a format no rule knows. Only hashes of
 * these leave memory; a candidate that matches no issued hash is forgotten.
 */
import { scanText } from '../detect/scanner.js'
import type { Rule } from '../detect/rule.js'

/** A token-shaped string and where it starts. */
export interface TokenCandidate {
  value: string
  /** 1-based. */
  line: number
  column: number
  /** The rule that matched it, when one did. */
  rule?: Rule
}

/** Shortest run taken by the generic pass: below it, too many words; issued tokens are longer. */
const MIN_LENGTH = 16
/** Longest: a token longer than this is a blob, not a credential. */
const MAX_LENGTH = 512

// Two alphabets, so that a token is found whether it is written bare or inside a longer run: the
// narrow one (letters, digits, `_`, `-`: most API tokens) splits `key=abc...` and `"abc..."`; the wide
// one adds what base64, JWTs and URLs-safe tokens hold (`.`, `+`, `/`, `=`, `~`).
const NARROW = new RegExp(`[A-Za-z0-9_-]{${MIN_LENGTH},${MAX_LENGTH}}`, 'g')
const WIDE = new RegExp(`[A-Za-z0-9_\\-.+/=~]{${MIN_LENGTH},${MAX_LENGTH}}`, 'g')

/** Offsets where each line starts. */
function lineStarts(text: string): number[] {
  const starts = [0]
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1)
  return starts
}

/** 1-based line and column of `offset`. */
function placeOf(starts: readonly number[], offset: number): { line: number; column: number } {
  let lo = 0
  let hi = starts.length - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (starts[mid]! <= offset) lo = mid
    else hi = mid - 1
  }
  return { line: lo + 1, column: offset - starts[lo]! + 1 }
}

/**
 * The token-shaped strings of `text`: the rules' matches first (they carry a kind), then the generic
 * runs not already among them, each value once (its first place).
 */
export function tokenCandidates(text: string, rules: readonly Rule[], path?: string): TokenCandidate[] {
  const out = new Map<string, TokenCandidate>()
  for (const f of scanText(text, { rules, ...(path === undefined ? {} : { path }) })) {
    if (!out.has(f.value)) out.set(f.value, { value: f.value, line: f.line, column: f.column, rule: f.rule })
  }
  const starts = lineStarts(text)
  for (const pattern of [NARROW, WIDE]) {
    pattern.lastIndex = 0
    for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
      // A run ending a sentence or a list takes its punctuation with it in the wide alphabet.
      for (const value of new Set([m[0], m[0].replace(/[.,=~/+]+$/, '')])) {
        if (value.length < MIN_LENGTH || out.has(value)) continue
        out.set(value, { value, ...placeOf(starts, m.index) })
      }
    }
  }
  return [...out.values()]
}

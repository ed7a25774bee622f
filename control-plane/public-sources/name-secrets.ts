/**
 * Tokens in a public place's names. A repository, a branch or a file may be named after a token
 * (`acme/<token>`, `refs/heads/<token>`, `keys/<token>.txt`), ours or anyone else's, and a leak found in
 * its content keeps those names in its location, its title and its public places: they would store the
 * token raw. The names are not content (a token only in a name is no finding of ours), but what they hold
 * must be hidden before they are stored: every match of a rule (the organisation's own formats and the
 * providers'), and every token-shaped run whose SHA-256 is an issued token's.
 */
import { sha256Hex } from '../../protocol/token-hash.js'
import { scanText } from '../detect/scanner.js'
import type { Rule } from '../detect/rule.js'
import { tokenCandidates } from './candidates.js'
import type { PublicLocation } from './source.js'

/** A location's token-shaped strings: those to hide whatever they are, and those to hide if issued. */
export interface NameTokens {
  /** Matches of a rule: a token's format, ours or a provider's. */
  matched: string[]
  /** Other token-shaped runs, by SHA-256: hidden when the hash is an issued token's. */
  unmatched: Map<string, string>
}

/** The token-shaped strings of `location`'s repository, branch and path. */
export function nameTokens(location: PublicLocation, ourRules: readonly Rule[], candidateRules: readonly Rule[]): NameTokens {
  return tokensIn([location.repo, location.branch, location.path], ourRules, candidateRules)
}

/** The token-shaped strings of `texts` (names, or an error's message that quotes them). */
export function tokensIn(texts: Iterable<string | undefined>, ourRules: readonly Rule[], candidateRules: readonly Rule[]): NameTokens {
  const matched = new Set<string>()
  const unmatched = new Map<string, string>()
  for (const text of texts) {
    if (text === undefined || text === '') continue
    for (const f of scanText(text, { rules: ourRules })) matched.add(f.value)
    for (const c of tokenCandidates(text, candidateRules)) {
      if (c.rule !== undefined) matched.add(c.value)
      else unmatched.set(sha256Hex(c.value), c.value)
    }
  }
  for (const value of matched) unmatched.delete(sha256Hex(value))
  return { matched: [...matched], unmatched }
}

/**
 * Shannon entropy of a candidate secret, in bits per character. Random API keys score
 * 4.5–6 (base62/base64), hex strings at most 4, words and placeholders well under 3.5,
 * which is what lets keyword-assigned generic secrets be told from prose and code.
 */
export function shannonEntropy(value: string): number {
  if (value.length === 0) return 0
  const counts = new Map<string, number>()
  for (const ch of value) counts.set(ch, (counts.get(ch) ?? 0) + 1)
  let bits = 0
  const n = [...value].length
  for (const c of counts.values()) {
    const p = c / n
    bits -= p * Math.log2(p)
  }
  return bits
}

/** How many of the classes lower, upper, digit, other appear in `value`. */
export function charClasses(value: string): number {
  let classes = 0
  if (/[a-z]/.test(value)) classes++
  if (/[A-Z]/.test(value)) classes++
  if (/[0-9]/.test(value)) classes++
  if (/[^A-Za-z0-9]/.test(value)) classes++
  return classes
}

/**
 * Whether a free text (a title, a comment, a location) gives a secret away, in any reading that a
 * person or a program could undo: the secret or a large part of it, in another case, with separators
 * put in, reversed, percent-encoded (once or twice), as HTML or backslash escapes, or encoded as
 * base64, base64url or hex (the encodings the node itself decodes, and the obvious ones).
 *
 * "A large part" is half of the secret (at least 6 characters): a copy cut by a few characters
 * still leaves too little to guess, while a preview (at most a third, in two pieces) passes.
 */

/** A secret's shortest length that is checked at all: shorter ones cannot be told from ordinary words. */
const MIN_SECRET = 6

/** Lowercase letters and digits only: separators, case and punctuation put into a copy do not hide it. */
function squash(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]/g, '')
}

function decodePercent(text: string): string {
  return text.replace(/(?:%[0-9a-f]{2})+/gi, (run) => {
    try {
      return decodeURIComponent(run)
    } catch {
      return run
    }
  })
}

function decodeEscapes(text: string): string {
  return text
    .replace(/&#x([0-9a-f]{1,6});?/gi, (m, hex: string) => safeChar(Number.parseInt(hex, 16)) ?? m)
    .replace(/&#([0-9]{1,7});?/g, (m, dec: string) => safeChar(Number(dec)) ?? m)
    .replace(/\\u\{?([0-9a-f]{4,6})\}?/gi, (m, hex: string) => safeChar(Number.parseInt(hex, 16)) ?? m)
    .replace(/\\x([0-9a-f]{2})/gi, (m, hex: string) => safeChar(Number.parseInt(hex, 16)) ?? m)
}

function safeChar(code: number): string | undefined {
  return code <= 0x10ffff ? String.fromCodePoint(code) : undefined
}

/** Every reading of a text: as written, its escapes undone (twice, for a double encoding), `+` as a space. */
function readingsOf(text: string): string[] {
  const once = decodeEscapes(decodePercent(text.replace(/\+/g, ' ')))
  return [...new Set([text, decodePercent(text), once, decodeEscapes(decodePercent(once))])]
}

/**
 * The secret's encodings whose characters depend on its bytes alone: base64 of it at each of the three
 * alignments it may stand at inside a longer encoded text (`user:secret`), without the edge characters
 * that depend on its neighbours; base64url; hex.
 */
function encodingsOf(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8')
  const out: string[] = [bytes.toString('hex')]
  for (let shift = 0; shift < 3; shift++) {
    const encoded = Buffer.concat([Buffer.alloc(shift), bytes]).toString('base64')
    // Characters before ceil(shift·4/3) mix in the padding bytes; the last block mixes in what follows.
    const start = Math.ceil((shift * 4) / 3)
    const end = Math.floor(((shift + bytes.length) * 4) / 3)
    const stable = encoded.slice(start, end)
    out.push(stable, stable.replace(/\+/g, '-').replace(/\//g, '_'))
  }
  return out
}

/**
 * Whether `text` holds a run of at least `length` characters of `form`. Any such run wholly contains one
 * of the pieces `form` is cut into (each at most half of `length`), so only the places where a piece
 * occurs are extended: linear-ish work, where trying every run of `form` against `text` was quadratic
 * (a body of long tokens and a long comment held the event loop for seconds).
 */
function sharesRun(text: string, form: string, length: number): boolean {
  if (form.length < length || text.length < length) return false
  const piece = Math.max(1, Math.floor(length / 2))
  for (let start = 0; start + piece <= form.length; start += piece) {
    const needle = form.slice(start, start + piece)
    for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) {
      let left = 0
      while (left < start && left < at && form[start - left - 1] === text[at - left - 1]) left++
      let right = 0
      const end = start + piece
      while (end + right < form.length && at + piece + right < text.length && form[end + right] === text[at + piece + right]) right++
      if (left + piece + right >= length) return true
    }
  }
  return false
}

/** Whether `text` gives `secret` away in any reading (see the module comment). */
export function echoesSecret(text: string, secret: string): boolean {
  if (secret.length < MIN_SECRET || text.length < MIN_SECRET) return false
  const readings = readingsOf(text)
  const squashedReadings = readings.map(squash)
  const plain = squash(secret)
  const forms = [plain, [...plain].reverse().join('')]
  for (const form of forms) {
    const length = Math.max(MIN_SECRET, Math.ceil(form.length / 2))
    if (squashedReadings.some((r) => sharesRun(r, form, Math.min(length, form.length)))) return true
  }
  // Encodings are case-sensitive: compared as written, a run of half the encoded length.
  for (const form of encodingsOf(secret)) {
    const length = Math.max(8, Math.ceil(form.length / 2))
    if (readings.some((r) => sharesRun(r, form, length))) return true
  }
  // A secret of symbols only squashes to little: compared as written too.
  return secret.length >= MIN_SECRET && readings.some((r) => r.includes(secret))
}

/**
 * `text` with `secret` hidden: each copy as written or percent-encoded replaced by `[secret]`; and if the
 * text still gives it away in another reading, the whole text replaced by `replacement`.
 */
export function hideSecret(text: string, secret: string, replacement: string): string {
  if (!echoesSecret(text, secret)) return text
  let hidden = text
  for (const form of new Set([secret, encodeURIComponent(secret)])) hidden = hidden.split(form).join('[secret]')
  return echoesSecret(hidden, secret) ? replacement : hidden
}

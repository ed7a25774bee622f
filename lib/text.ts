/**
 * One rule for text a person reads, whether a caller sent it through the API or a scan found it in
 * a file name or a branch: control characters, newlines where one line is expected, terminal
 * escapes, bidi embeddings/overrides/isolates/marks (the "trojan source" characters), line and
 * paragraph separators, zero-width and other invisible format characters, tag characters and
 * unpaired surrogates are never shown raw. The API refuses them (`isPlainText`); text from
 * scanned content, which cannot be refused, shows each as an escape (`\u202e`).
 */

/** Invisible and control characters, newlines and tabs included (one-line text). */
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff\u{e0000}-\u{e007f}]/u
/** The same, but tabs and newlines allowed (multi-line text). */
const INVISIBLE_MULTILINE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff\u{e0000}-\u{e007f}]/u

/** Whether `s` is one line of ordinary text: no control, bidi, invisible, tag or unpaired surrogate character. */
export function isPlainText(s: string): boolean {
  return !INVISIBLE.test(s)
}

/** Like `isPlainText`, with newlines and tabs allowed. */
export function isPlainMultiline(s: string): boolean {
  return !INVISIBLE_MULTILINE.test(s)
}

const INVISIBLE_ALL = new RegExp(INVISIBLE.source, 'gu')

/**
 * `s` as one line with every character `isPlainText` refuses shown as an escape: `\u202e`, `\u000a`,
 * `\u{e0041}`. Escaping twice changes nothing (the CLI escapes what it pushes, the control plane
 * what it stores), so a backslash already there is left as it is.
 */
export function escapeText(s: string): string {
  return s.replace(INVISIBLE_ALL, (c) => {
    const cp = c.codePointAt(0) ?? 0
    return cp > 0xffff ? `\\u{${cp.toString(16)}}` : `\\u${cp.toString(16).padStart(4, '0')}`
  })
}

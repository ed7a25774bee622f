/**
 * Which request bodies the node reads before it judges, and reading them: only form and JSON bodies
 * (the ones server stacks parse into the parameters an API reads its key from), only up to
 * `bodyCheckLimit` bytes. Every other body streams to the upstream untouched, as it arrives.
 *
 * Content types, as the stacks that parse them decide (a type that any of them parses is read):
 * - form: the media type `application/x-www-form-urlencoded` in any case, cut at `;`, `,` or whitespace
 *   (PHP cuts at all three, Rack at the first two); a POST body with no Content-Type at all (Rack, and
 *   so Rails and Sinatra, parse one as a form; no stack parses a body of another method without one).
 * - JSON: a Content-Type holding `/json` or `+json` anywhere, parameters included (Laravel's `isJson`;
 *   it covers `application/json`, `text/json`, `application/*+json`), and Rails' `/x-json`.
 * Not read: `text/plain` (no mainstream stack parses it as JSON or a form unless the app forces it),
 * `multipart/form-data` and everything else.
 *
 * A body sent with `Content-Encoding: gzip`, `deflate` or `br` is checked as sent and inflated
 * (Express's body parsers inflate it), inflation held to the same limit.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import type { Http2ServerRequest } from 'node:http2'
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib'
import { FORM_BODY, JSON_BODY } from './body-credentials.js'

const FORM_TYPE = 'application/x-www-form-urlencoded'

/**
 * Whether an HTTP/2 request has a body: over HTTP/2 a body is any DATA after the headers, and needs
 * no Content-Length (node:http2 holds one that is sent to the bytes that come).
 */
export function http2Body(req: IncomingMessage): boolean {
  return req.httpVersionMajor === 2 && !(req as unknown as Http2ServerRequest).stream.endAfterHeaders
}

/**
 * The kinds (`FORM_BODY` | `JSON_BODY` bits) a request's body is read as; 0 when it has no body or
 * one of a type no stack parses into parameters. Allocates nothing for a request without a body.
 * `framed`: the request has a body whatever its headers say (HTTP/2, `http2Body`).
 */
export function bodyKinds(method: string | undefined, headers: IncomingHttpHeaders, framed = false): number {
  const cl = headers['content-length']
  if (!framed && headers['transfer-encoding'] === undefined && (cl === undefined || cl === '0')) return 0
  const type = headers['content-type']
  if (type === undefined || type.trim() === '') return method === 'POST' ? FORM_BODY : 0
  const lower = type.toLowerCase()
  let kinds = mediaType(lower) === FORM_TYPE ? FORM_BODY : 0
  if (lower.includes('/json') || lower.includes('+json') || lower.includes('/x-json')) kinds |= JSON_BODY
  return kinds
}

function mediaType(lower: string): string {
  const v = lower.trimStart()
  let end = v.length
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i)
    if (c === 0x3b || c === 0x2c || c === 0x20 || c === 0x09) {
      end = i
      break
    }
  }
  return v.slice(0, end)
}

/** Whether a body of this Content-Length is past the limit before a byte of it is read. */
export function declaredPastLimit(headers: IncomingHttpHeaders, limit: number): boolean {
  const cl = headers['content-length']
  return cl !== undefined && Number(cl) > limit
}

/** What reading a body came to. */
export type BodyRead =
  | { readonly state: 'complete'; readonly bytes: Buffer }
  /** Past the limit: what was read is put back on the request, which streams on from its start. */
  | { readonly state: 'overflow' }
  /** The client went away (or node:http's requestTimeout ended the request): nothing to answer. */
  | { readonly state: 'aborted' }

const OVERFLOW: BodyRead = Object.freeze({ state: 'overflow' })
const ABORTED: BodyRead = Object.freeze({ state: 'aborted' })

/**
 * Reads the body whole, holding at most `limit` bytes and one chunk; a chunked body is counted as it
 * comes. Never rejects. Past the limit, the bytes read are unshifted back onto `req` (paused), so a
 * request forwarded unchecked sends the upstream every byte from the first.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<BodyRead> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    const done = (read: BodyRead): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onGone)
      req.off('close', onGone)
      resolve(read)
    }
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      chunks.push(chunk)
      if (size <= limit) return
      req.pause()
      done(OVERFLOW)
      req.unshift(chunks.length === 1 ? chunk : Buffer.concat(chunks, size))
    }
    const onEnd = (): void => done({ state: 'complete', bytes: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size) })
    const onGone = (): void => done(ABORTED)
    req.on('data', onData)
    req.once('end', onEnd)
    req.once('error', onGone)
    req.once('close', onGone)
  })
}

/** How a read body is checked. */
export type BodyTexts =
  /** The texts to walk, and the declared charset when it is not UTF-8 (for a form's escaped bytes). */
  | { readonly state: 'texts'; readonly texts: readonly string[]; readonly charset: TextDecoder | undefined }
  /** Inflated past the limit: the body cannot be checked whole. */
  | { readonly state: 'too-large' }
  /** A declared charset the node cannot decode (EBCDIC, UTF-7...): it cannot read the body as the upstream might. */
  | { readonly state: 'charset' }

const TOO_LARGE: BodyTexts = Object.freeze({ state: 'too-large' })
const UNREADABLE: BodyTexts = Object.freeze({ state: 'charset' })
const CHARSET = /;\s*charset\s*=\s*"?([^";,\s]+)/i
// Every UTF-32 spelling: not a TextDecoder label, but covered by the NUL-stripped text below.
const UTF32 = /^utf-?32(?:le|be)?$/i

/**
 * The texts a body is read as: its bytes as UTF-8; inflated, when its Content-Encoding is one Express
 * inflates; in its declared charset (Spring and Express decode UTF-16, Tomcat and Spring any charset);
 * with NUL bytes removed when it has any (Jackson detects UTF-16 and UTF-32 JSON without a charset, and
 * the names and a token are ASCII, which this leaves readable).
 */
export function bodyTexts(bytes: Buffer, headers: IncomingHttpHeaders, limit: number): BodyTexts {
  let charset: TextDecoder | undefined
  const label = CHARSET.exec(headers['content-type'] ?? '')?.[1]
  if (label !== undefined) {
    try {
      charset = new TextDecoder(label)
      if (charset.encoding === 'utf-8') charset = undefined
    } catch {
      if (!UTF32.test(label)) return UNREADABLE
    }
  }
  const texts = [bytes.toString('utf8')]
  const coding = headers['content-encoding']?.trim().toLowerCase()
  let inflated: Buffer | undefined
  if (coding !== undefined && coding !== '' && coding !== 'identity') {
    try {
      const options = { maxOutputLength: Math.max(limit, 1) }
      if (coding === 'gzip' || coding === 'x-gzip') inflated = gunzipSync(bytes, options)
      else if (coding === 'deflate') inflated = inflateSync(bytes, options)
      else if (coding === 'br') inflated = brotliDecompressSync(bytes, options)
    } catch (err) {
      // Past the limit: unchecked. Malformed: no parser upstream reads it inflated either.
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') return TOO_LARGE
    }
    if (inflated !== undefined) {
      if (inflated.length > limit) return TOO_LARGE
      texts.push(inflated.toString('utf8'))
    }
  }
  const source = inflated ?? bytes
  if (charset !== undefined) texts.push(charset.decode(source))
  if (source.includes(0)) texts.push(Buffer.from(source.filter((b) => b !== 0)).toString('utf8'))
  return { state: 'texts', texts, charset }
}

// @ts-check
// Talks to the control plane's JSON API with the signed-in key. The key lives in sessionStorage only:
// it is gone when the browser tab closes, and it is never put in a URL. A tab opened beside a signed-in
// one asks it for the key over a BroadcastChannel (same origin only; nothing is written anywhere else),
// so opening a leak in a new tab does not sign out, and signing out in one tab signs out all of them.
// A person signed in through OpenID Connect holds a session token (lgs_…) in the same place, shared the
// same way; signing out ends that session on the control plane too.
/** @import { Problem } from '../../types/api.js' */

const KEY_STORAGE = 'leakgate.apiKey'

/** An answer that was not 2xx, carrying the problem+json body when there was one. */
export class ApiError extends Error {
  /**
   * @param {number} status the HTTP status; 0 when the request got no answer
   * @param {Problem | null | undefined} problem
   */
  constructor(status, problem) {
    const title = problem?.title ?? (status === 0 ? 'Control plane unreachable' : `HTTP ${status}`)
    super(title)
    this.status = status
    this.title = title
    this.detail = problem?.detail ?? ''
    this.code = problem?.code ?? ''
  }
}

/** @type {(err: ApiError) => void} */
let unauthorized = () => {}

/**
 * Called when the control plane answers 401 to a signed-in request (key revoked or wrong).
 * @param {(err: ApiError) => void} handler
 */
export function onUnauthorized(handler) {
  unauthorized = handler
}

export function getKey() {
  return sessionStorage.getItem(KEY_STORAGE)
}

/** @param {string} key */
export function setKey(key) {
  sessionStorage.setItem(KEY_STORAGE, key)
}

/**
 * Ends a console session on the control plane (a person signed in through OpenID Connect), so its
 * token stops working wherever it was copied; a key is left as it is. Failures are ignored: signing out
 * here goes on anyway, and the session ends by itself at its expiry.
 */
export async function endSession() {
  const key = getKey()
  if (!key || !key.startsWith('lgs_')) return
  await api('/v1/sign-out', { method: 'POST', key }).catch(() => {})
}

/**
 * Whether the control plane offers sign-in through OpenID Connect, and the provider's name.
 * @returns {Promise<{ enabled: boolean, name?: string }>}
 */
export async function signInProvider() {
  try {
    const res = await fetch('/auth/oidc', { cache: 'no-store', credentials: 'omit', headers: { accept: 'application/json' } })
    if (!res.ok) return { enabled: false }
    const data = /** @type {{ enabled?: unknown, name?: unknown }} */ (await res.json())
    return data.enabled === true && typeof data.name === 'string' ? { enabled: true, name: data.name } : { enabled: false }
  } catch {
    return { enabled: false }
  }
}

/**
 * After the provider sent the browser back: takes the session's token for the one-time code the
 * control plane left in an HttpOnly cookie (sent with this request only, never readable here), and keeps
 * it as the signed-in credential. The token comes in a POST answer, so it is in no URL or history.
 * @returns {Promise<void>} rejects with ApiError when there is no sign-in to complete
 */
export async function completeSignIn() {
  let res
  try {
    res = await fetch('/auth/oidc/session', {
      method: 'POST',
      headers: { accept: 'application/json, application/problem+json', 'content-type': 'application/json' },
      body: '{}',
      cache: 'no-store',
      credentials: 'same-origin',
    })
  } catch {
    throw new ApiError(0, { title: 'Control plane unreachable', detail: 'The sign-in could not be completed. Check that the control plane is running, then sign in again.' })
  }
  const data = /** @type {unknown} */ (await res.json().catch(() => null))
  if (!res.ok) throw new ApiError(res.status, isProblem(data) ? data : null)
  const token = typeof data === 'object' && data !== null ? Reflect.get(data, 'token') : undefined
  if (typeof token !== 'string') throw new ApiError(res.status, { title: 'Sign-in not completed', detail: 'The control plane answered without a session.' })
  setKey(token)
}

/** Forgets the key here and in every other tab of the console. */
export function clearKey() {
  sessionStorage.removeItem(KEY_STORAGE)
  tabs?.postMessage({ type: 'signed-out' })
}

const tabs = typeof BroadcastChannel === 'function' ? new BroadcastChannel('leakgate-console') : null
/** @type {() => void} */
let signedOutElsewhere = () => {}
/** @type {((key: string) => void) | null} */
let waitingForKey = null

tabs?.addEventListener('message', (event) => {
  const msg = /** @type {{ type?: string, key?: unknown }} */ (event.data ?? {})
  if (msg.type === 'ask') {
    const key = getKey()
    if (key) tabs.postMessage({ type: 'key', key })
  } else if (msg.type === 'key' && typeof msg.key === 'string' && waitingForKey) {
    waitingForKey(msg.key)
  } else if (msg.type === 'signed-out' && getKey()) {
    sessionStorage.removeItem(KEY_STORAGE)
    signedOutElsewhere()
  }
})

/**
 * Called when another tab signs out (this tab's key is already gone).
 * @param {() => void} handler
 */
export function onSignedOutElsewhere(handler) {
  signedOutElsewhere = handler
}

/**
 * The key of another open tab of the console, kept here too; null when no tab answers within `ms`.
 * @param {number} [ms]
 * @returns {Promise<string | null>}
 */
export function keyFromOtherTabs(ms = 400) {
  if (!tabs) return Promise.resolve(null)
  return new Promise((resolve) => {
    const done = (/** @type {string | null} */ key) => {
      clearTimeout(timer)
      waitingForKey = null
      if (key) setKey(key)
      resolve(key)
    }
    const timer = setTimeout(() => done(null), ms)
    waitingForKey = done
    tabs.postMessage({ type: 'ask' })
  })
}

/**
 * @typedef {object} CallOptions
 * @property {string} [method]
 * @property {unknown} [body] sent as JSON
 * @property {string} [key] overrides the stored key
 * @property {AbortSignal} [signal]
 */

/**
 * One API call. `key` overrides the stored key (used by sign-in before the key is kept).
 * Resolves to the parsed JSON body (null for 204), unchecked: the caller states the route's answer
 * shape (docs/api.md) where it uses it. Rejects with ApiError.
 * @param {string} path
 * @param {CallOptions} [options]
 * @returns {Promise<unknown>}
 */
export async function api(path, { method = 'GET', body, key, signal } = {}) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json, application/problem+json' }
  const useKey = key ?? getKey()
  if (useKey) headers.authorization = `Bearer ${useKey}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  let res
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
      signal: signal ?? null,
    })
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err
    throw new ApiError(0, {
      title: 'Control plane unreachable',
      detail: 'The request did not reach the control plane. Check that it is running, then retry.',
    })
  }
  if (res.status === 204 || res.status === 304) return null
  const type = res.headers.get('content-type') ?? ''
  /** @type {unknown} */
  const data = type.includes('json') ? await res.json().catch(() => null) : null
  if (!res.ok) {
    const err = new ApiError(res.status, isProblem(data) ? data : null)
    if (res.status === 401 && key === undefined) unauthorized(err)
    throw err
  }
  return data
}

/**
 * A problem+json body: an object whose title, detail and code, when there, are text.
 * @param {unknown} data
 * @returns {data is Problem}
 */
function isProblem(data) {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return false
  return ['title', 'detail', 'code'].every((k) => {
    const v = Reflect.get(data, k)
    return v === undefined || typeof v === 'string'
  })
}

/**
 * Builds `path?k=v` from an object, leaving out empty values.
 * @param {string} path
 * @param {Record<string, string | number | null | undefined>} params
 */
export function withQuery(path, params) {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v))
  }
  const s = q.toString()
  return s ? `${path}?${s}` : path
}

/**
 * Downloads a file from the API with the signed-in key (a plain link could not send it): fetches it,
 * then saves the body under the name the answer's Content-Disposition gives (or `fallback`).
 * Rejects with ApiError.
 * @param {string} path
 * @param {string} fallback
 */
export async function download(path, fallback) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'text/csv, application/problem+json' }
  const key = getKey()
  if (key) headers.authorization = `Bearer ${key}`
  let res
  try {
    res = await fetch(path, { headers, cache: 'no-store', credentials: 'omit' })
  } catch {
    throw new ApiError(0, { title: 'Control plane unreachable', detail: 'The download did not reach the control plane. Check that it is running, then retry.' })
  }
  if (!res.ok) {
    const data = (res.headers.get('content-type') ?? '').includes('json') ? await res.json().catch(() => null) : null
    const err = new ApiError(res.status, isProblem(data) ? data : null)
    if (res.status === 401) unauthorized(err)
    throw err
  }
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? fallback
  const url = URL.createObjectURL(await res.blob())
  const a = document.createElement('a')
  a.href = url
  a.download = name
  document.body.append(a)
  a.click()
  a.remove()
  // The click has handed the blob to the browser's download; the URL is not needed after.
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}

// Talks to the control plane's JSON API with the signed-in key. The key lives in sessionStorage only:
// it is gone when the browser tab closes, and it is never put in a URL.

const KEY_STORAGE = 'leakgate.apiKey'

/** An answer that was not 2xx, carrying the problem+json body when there was one. */
export class ApiError extends Error {
  constructor(status, problem) {
    const title = problem?.title ?? (status === 0 ? 'Control plane unreachable' : `HTTP ${status}`)
    super(title)
    this.status = status
    this.title = title
    this.detail = problem?.detail ?? ''
    this.code = problem?.code ?? ''
  }
}

let unauthorized = () => {}

/** Called when the control plane answers 401 to a signed-in request (key revoked or wrong). */
export function onUnauthorized(handler) {
  unauthorized = handler
}

export function getKey() {
  return sessionStorage.getItem(KEY_STORAGE)
}

export function setKey(key) {
  sessionStorage.setItem(KEY_STORAGE, key)
}

export function clearKey() {
  sessionStorage.removeItem(KEY_STORAGE)
}

/**
 * One API call. `key` overrides the stored key (used by sign-in before the key is kept).
 * Resolves to the parsed JSON body (null for 204); rejects with ApiError.
 */
export async function api(path, { method = 'GET', body, key, signal } = {}) {
  const headers = { accept: 'application/json, application/problem+json' }
  const useKey = key ?? getKey()
  if (useKey) headers.authorization = `Bearer ${useKey}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  let res
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
      signal,
    })
  } catch (err) {
    if (err?.name === 'AbortError') throw err
    throw new ApiError(0, {
      title: 'Control plane unreachable',
      detail: 'The request did not reach the control plane. Check that it is running, then retry.',
    })
  }
  if (res.status === 204 || res.status === 304) return null
  const type = res.headers.get('content-type') ?? ''
  const data = type.includes('json') ? await res.json().catch(() => null) : null
  if (!res.ok) {
    const err = new ApiError(res.status, data)
    if (res.status === 401 && key === undefined) unauthorized(err)
    throw err
  }
  return data
}

/** Builds `path?k=v` from an object, leaving out empty values. */
export function withQuery(path, params) {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v))
  }
  const s = q.toString()
  return s ? `${path}?${s}` : path
}

// @ts-check
// Follows the control plane's live changes (GET /v1/events/stream, Server-Sent Events) so pages reload
// by themselves. Read with fetch rather than EventSource: EventSource cannot send the Authorization
// header, and the key is never put in a URL. A stream the control plane ends (it does every few
// minutes, to check the key again) or loses is opened again, with Last-Event-ID, so nothing is missed.
import { getKey } from './api.js'
/** @import { LiveChange } from '../../types/views.js' */

/** Waits before reconnecting, growing while the control plane stays away. */
const RETRY_MS = [1000, 2000, 5000, 10000]

/**
 * Follows the stream until stopped. `onChange` gets each batch of events as they come, or 'reset'
 * when more was missed than the control plane replays (reload everything); `onState` whether the
 * stream is connected.
 * @param {(change: LiveChange) => void} onChange
 * @param {(connected: boolean) => void} onState
 * @returns {() => void} stops following
 */
export function followChanges(onChange, onState) {
  let stopped = false
  /** @type {AbortController | null} */
  let controller = null
  /** @type {string | null} */
  let lastEventId = null
  let failures = 0

  async function connect() {
    const key = getKey()
    if (stopped || !key) return
    controller = new AbortController()
    /** @type {Record<string, string>} */
    const headers = { accept: 'text/event-stream', authorization: `Bearer ${key}` }
    if (lastEventId !== null) headers['last-event-id'] = lastEventId
    try {
      const res = await fetch('/v1/events/stream', { headers, cache: 'no-store', credentials: 'omit', signal: controller.signal })
      // A refused key: the next API call signs out (api.js); following stops here.
      if (res.status === 401 || res.status === 403) return
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`)
      await read(res.body)
      // The control plane ended the stream on time (to check the key again): follow on at once.
      if (!stopped && failures === 0) {
        setTimeout(connect, 0)
        return
      }
    } catch {
      // Unreachable or cut off: try again below.
    }
    if (stopped) return
    onState(false)
    failures += 1
    setTimeout(connect, RETRY_MS[Math.min(failures - 1, RETRY_MS.length - 1)])
  }

  /** @param {ReadableStream<Uint8Array>} body */
  async function read(body) {
    const reader = body.getReader()
    const decoder = new TextDecoder()
    let buffered = ''
    for (;;) {
      const { value, done } = await reader.read()
      if (done || stopped) return
      buffered += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n')
      /** @type {LiveChange[number][]} */
      const batch = []
      let at
      while ((at = buffered.indexOf('\n\n')) !== -1) {
        const frame = parseFrame(buffered.slice(0, at))
        buffered = buffered.slice(at + 2)
        if (frame.id !== undefined) lastEventId = frame.id
        if (frame.event === 'ready') {
          // Back after a failure: what happened before the stream was lost may not be replayed (it
          // never connected, or it was cut mid-change): reload what the page shows.
          if (failures > 0) onChange('reset')
          failures = 0
          onState(true)
        } else if (frame.event === 'reset') {
          onChange('reset')
        } else if (frame.event === undefined && frame.data !== undefined) {
          try {
            batch.push(JSON.parse(frame.data))
          } catch {
            // Not ours to show: skip it.
          }
        }
      }
      if (batch.length > 0) onChange(/** @type {LiveChange} */ (batch))
    }
  }

  connect()
  return () => {
    stopped = true
    controller?.abort()
  }
}

/**
 * One Server-Sent Events frame's fields (comments and unknown fields left out).
 * @param {string} block
 * @returns {{ id?: string, event?: string, data?: string }}
 */
function parseFrame(block) {
  /** @type {{ id?: string, event?: string, data?: string }} */
  const frame = {}
  for (const line of block.split('\n')) {
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const field = line.slice(0, colon)
    const value = line.slice(colon + 1).replace(/^ /, '')
    if (field === 'id' || field === 'event') frame[field] = value
    else if (field === 'data') frame.data = frame.data === undefined ? value : `${frame.data}\n${value}`
  }
  return frame
}

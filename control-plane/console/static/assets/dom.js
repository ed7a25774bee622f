// @ts-check
// A small DOM builder. Every piece of data reaches the page as a text node or an attribute value,
// never through innerHTML, so a leak title or a location cannot inject markup.

/**
 * Attribute values: false, null and undefined leave the attribute out, `true` sets it empty, an
 * `on…` function becomes an event listener and `dataset` an object of data-* values.
 * @typedef {Record<string, string | number | boolean | null | undefined | EventListener | Record<string, string>>} Attrs
 */

/**
 * What may be a child: nodes, text, numbers; null, undefined and false are skipped; arrays are flattened.
 * @typedef {Node | string | number | null | undefined | false | ChildList} Child
 * @typedef {readonly Child[]} ChildList
 */

/**
 * h('button', { class: 'x', onclick: fn, 'data-testid': 't' }, 'text', child)
 * Attributes whose value is false, null or undefined are left out; `true` sets an empty attribute.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs | null} [attrs]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === false || value === null || value === undefined) continue
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value)
    } else if (name === 'dataset' && typeof value === 'object') {
      Object.assign(el.dataset, value)
    } else if (name === 'value' && 'value' in el) {
      el.value = String(value)
    } else if (name === 'checked' || name === 'selected' || name === 'disabled') {
      // The property (the control's state) as well as the attribute (what CSS and tests see).
      Reflect.set(el, name, Boolean(value))
      if (value) el.setAttribute(name, '')
    } else {
      el.setAttribute(name, value === true ? '' : String(value))
    }
  }
  append(el, children)
  return el
}

/**
 * @param {Element} el
 * @param {readonly Child[]} children
 */
function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue
    if (Array.isArray(child)) append(el, child)
    else el.append(child instanceof Node ? child : String(child))
  }
}

/**
 * Replaces an element's children.
 * @template {Element} E
 * @param {E} el
 * @param {...Child} children
 * @returns {E}
 */
export function replace(el, ...children) {
  el.replaceChildren()
  append(el, children)
  return el
}

const RTF = new Intl.RelativeTimeFormat('en', { numeric: 'auto' })
/** @type {[number, Intl.RelativeTimeFormatUnit][]} */
const STEPS = [
  [60, 'second'],
  [60, 'minute'],
  [24, 'hour'],
  [7, 'day'],
  [4.35, 'week'],
  [12, 'month'],
  [Infinity, 'year'],
]

/**
 * "3 minutes ago"
 * @param {string} iso
 * @param {number} [now]
 */
export function relative(iso, now = Date.now()) {
  const t = Date.parse(iso)
  if (Number.isNaN(t)) return '—'
  let delta = (t - now) / 1000
  for (const [size, unit] of STEPS) {
    if (Math.abs(delta) < size) return RTF.format(Math.round(delta), unit)
    delta /= size
  }
  return RTF.format(Math.round(delta), 'year')
}

const DTF = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'medium', timeZone: 'UTC' })

/**
 * "28 Nov 2026, 10:00:00 UTC"
 * @param {string | null | undefined} iso
 */
export function absolute(iso) {
  const t = Date.parse(iso ?? '')
  return Number.isNaN(t) ? '—' : `${DTF.format(t)} UTC`
}

/**
 * A <time> showing relative time, with the exact time as its title.
 * @param {string | null | undefined} iso
 * @returns {HTMLElement}
 */
export function timeEl(iso) {
  if (!iso) return h('span', { class: 'muted' }, 'never')
  return h('time', { datetime: iso, title: absolute(iso) }, relative(iso))
}

// The lists of risks, statuses and actions come from the control plane (meta.js); only the words
// shown for a value live here. A value without a label is shown as it is.
/** @type {Record<string, string>} */
const STATUS_LABEL = { open: 'Open', closed: 'Closed', false_positive: 'False positive' }

/** @param {string | undefined} status */
export function statusLabel(status) {
  return status === undefined ? '' : (STATUS_LABEL[status] ?? status)
}

/** @param {string} risk */
export function riskBadge(risk) {
  return h('span', { class: `badge risk risk-${risk}`, 'data-risk': risk }, risk)
}

/** @param {string} status */
export function statusBadge(status) {
  return h('span', { class: `badge status status-${status}` }, statusLabel(status))
}

const ROTATION_LABEL = { requested: 'Rotation requested', rotated: 'Rotated' }

/**
 * The badge of a leak's rotation state, or null when no rotation was asked.
 * @param {string | null | undefined} rotation
 */
export function rotationBadge(rotation) {
  if (!rotation) return null
  return h('span', { class: `badge rotation rotation-${rotation}`, 'data-testid': 'rotation-badge', 'data-rotation': rotation }, ROTATION_LABEL[/** @type {keyof typeof ROTATION_LABEL} */ (rotation)] ?? rotation)
}

/** @param {string} action */
export function actionBadge(action) {
  return h('span', { class: `badge action action-${action}` }, action)
}

/**
 * What an error box shows: an ApiError, or the same fields given by hand.
 * @typedef {{ title?: string, detail?: string, status?: number }} Failure
 */

/**
 * An error box for a failed request, with an optional retry button.
 * @param {unknown} failure an ApiError or a Failure; anything else shows as "Something went wrong"
 * @param {(() => void) | null} [retry]
 * @param {string} [testid]
 */
export function errorBox(failure, retry, testid = 'error') {
  /** @type {Failure} */
  const err = typeof failure === 'object' && failure !== null ? failure : {}
  const status = err.status ? ` (HTTP ${err.status})` : ''
  return h(
    'div',
    { class: 'notice notice-error', role: 'alert', 'data-testid': testid },
    h('strong', {}, `${err.title ?? 'Something went wrong'}${status}`),
    err.detail ? h('p', {}, err.detail) : null,
    retry ? h('button', { type: 'button', class: 'btn', onclick: retry }, 'Retry') : null,
  )
}

/**
 * Only http(s) links are made clickable: a location URL comes from scanned data.
 * @param {string} url
 */
export function safeHref(url) {
  try {
    const u = new URL(url)
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null
  } catch {
    return null
  }
}

const live = () => document.getElementById('live')
let toastTimer = 0

/**
 * Says something to screen readers (and shows it as a toast).
 * @param {string} message
 * @param {'info' | 'success' | 'error'} [kind]
 */
export function announce(message, kind = 'info') {
  const region = live()
  if (!region) return
  region.textContent = ''
  region.className = `toast toast-${kind}`
  // A fresh text node after clearing makes screen readers read repeated messages again.
  requestAnimationFrame(() => {
    region.textContent = message
  })
  clearTimeout(toastTimer)
  toastTimer = window.setTimeout(() => {
    region.textContent = ''
    region.className = 'toast'
  }, 6000)
}

/**
 * The toast region, for a toast with its own content and timing (enforcement.js): any pending hiding
 * of an earlier message is cancelled so it does not clear the new one.
 * @returns {HTMLElement | null}
 */
export function takeToast() {
  clearTimeout(toastTimer)
  return live()
}

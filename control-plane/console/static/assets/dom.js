// A small DOM builder. Every piece of data reaches the page as a text node or an attribute value,
// never through innerHTML, so a leak title or a location cannot inject markup.

/**
 * h('button', { class: 'x', onclick: fn, 'data-testid': 't' }, 'text', child)
 * Attributes whose value is false, null or undefined are left out; `true` sets an empty attribute.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === false || value === null || value === undefined) continue
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value)
    } else if (name === 'dataset') {
      Object.assign(el.dataset, value)
    } else if (name === 'value' && 'value' in el) {
      el.value = value
    } else if (name === 'checked' || name === 'selected' || name === 'disabled') {
      el[name] = Boolean(value)
      if (value) el.setAttribute(name, '')
    } else {
      el.setAttribute(name, value === true ? '' : String(value))
    }
  }
  append(el, children)
  return el
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue
    if (Array.isArray(child)) append(el, child)
    else el.append(child instanceof Node ? child : String(child))
  }
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren()
  append(el, children)
  return el
}

const RTF = new Intl.RelativeTimeFormat('en', { numeric: 'auto' })
const STEPS = [
  [60, 'second'],
  [60, 'minute'],
  [24, 'hour'],
  [7, 'day'],
  [4.35, 'week'],
  [12, 'month'],
  [Infinity, 'year'],
]

/** "3 minutes ago" */
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

/** "28 Nov 2026, 10:00:00 UTC" */
export function absolute(iso) {
  const t = Date.parse(iso)
  return Number.isNaN(t) ? '—' : `${DTF.format(t)} UTC`
}

/** A <time> showing relative time, with the exact time as its title. */
export function timeEl(iso) {
  if (!iso) return h('span', { class: 'muted' }, 'never')
  return h('time', { datetime: iso, title: absolute(iso) }, relative(iso))
}

export const RISKS = ['critical', 'high', 'medium', 'low']
export const STATUSES = ['open', 'closed', 'false_positive']
export const ACTIONS = ['block', 'monitor']

const STATUS_LABEL = { open: 'Open', closed: 'Closed', false_positive: 'False positive' }

export function statusLabel(status) {
  return STATUS_LABEL[status] ?? status
}

export function riskBadge(risk) {
  return h('span', { class: `badge risk risk-${risk}`, 'data-risk': risk }, risk)
}

export function statusBadge(status) {
  return h('span', { class: `badge status status-${status}` }, statusLabel(status))
}

export function actionBadge(action) {
  return h('span', { class: `badge action action-${action}` }, action)
}

/** An error box for a failed request, with an optional retry button. */
export function errorBox(err, retry, testid = 'error') {
  const status = err?.status ? ` (HTTP ${err.status})` : ''
  return h(
    'div',
    { class: 'notice notice-error', role: 'alert', 'data-testid': testid },
    h('strong', {}, `${err?.title ?? 'Something went wrong'}${status}`),
    err?.detail ? h('p', {}, err.detail) : null,
    retry ? h('button', { type: 'button', class: 'btn', onclick: retry }, 'Retry') : null,
  )
}

/** Only http(s) links are made clickable: a location URL comes from scanned data. */
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

/** Says something to screen readers (and shows it as a toast). */
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
  toastTimer = setTimeout(() => {
    region.textContent = ''
    region.className = 'toast'
  }, 6000)
}

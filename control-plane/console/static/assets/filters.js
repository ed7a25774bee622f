// @ts-check
// The leak list's filters, sort order and their place in the URL hash (`#/?risk=high&source=github`),
// so a filtered view can be shared and survives a reload.
import { sorts } from './meta.js'

/** The leak list's query parameters that filter it. */
export const FILTER_KEYS = /** @type {const} */ (['status', 'risk', 'source', 'action', 'kind', 'q'])

/** @typedef {typeof FILTER_KEYS[number]} FilterKey */
/** @typedef {Partial<Record<FilterKey, string>>} Filters */
/**
 * What the overview's URL holds.
 * @typedef {object} ListState
 * @property {Filters} filters
 * @property {string} sort one of the API's sorts
 * @property {'asc' | 'desc'} order
 */

/** @type {Record<FilterKey, string>} */
const FILTER_LABEL = { status: 'Status', risk: 'Risk', source: 'Source', action: 'Action', kind: 'Kind', q: 'Search' }

/** @param {FilterKey} key */
export function filterLabel(key) {
  return FILTER_LABEL[key]
}

/** The sort the list uses when the URL names none: the API's default. */
function defaultSort() {
  return sorts()[0] ?? 'createdAt'
}

/**
 * Reads filters and sort from the hash's query. Unknown keys and empty values are dropped.
 * @param {URLSearchParams} params
 * @returns {ListState}
 */
export function readState(params) {
  /** @type {Filters} */
  const filters = {}
  for (const key of FILTER_KEYS) {
    const v = params.get(key)
    if (v) filters[key] = v
  }
  const asked = params.get('sort')
  const sort = asked !== null && sorts().includes(asked) ? asked : defaultSort()
  const order = params.get('order') === 'asc' ? 'asc' : 'desc'
  return { filters, sort, order }
}

/**
 * The hash for the overview with these filters and sort.
 * @param {ListState} state
 */
export function overviewHash({ filters, sort, order }) {
  const q = new URLSearchParams()
  for (const key of FILTER_KEYS) {
    const value = filters[key]
    if (value) q.set(key, value)
  }
  if (sort && sort !== defaultSort()) q.set('sort', sort)
  if (order && order !== 'desc') q.set('order', order)
  const s = q.toString()
  return s ? `#/?${s}` : '#/'
}

/**
 * Navigates to the overview with changed filters (a history entry, so Back undoes a filter).
 * @param {ListState} state
 */
export function go(state) {
  const hash = overviewHash(state)
  if (location.hash !== hash) location.hash = hash
}

// The last overview URL visited, so "back to the list" returns to the same filters.
let lastOverview = '#/'

/** @param {string} hash */
export function rememberOverview(hash) {
  lastOverview = hash || '#/'
}

export function overviewLink() {
  return lastOverview
}

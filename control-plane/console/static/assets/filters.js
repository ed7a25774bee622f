// The leak list's filters, sort order and their place in the URL hash (`#/?risk=high&source=github`),
// so a filtered view can be shared and survives a reload.

export const FILTER_KEYS = ['status', 'risk', 'source', 'action', 'kind', 'q']
export const SORTS = ['createdAt', 'updatedAt', 'risk', 'hits', 'lastSeenAt', 'title']

const FILTER_LABEL = { status: 'Status', risk: 'Risk', source: 'Source', action: 'Action', kind: 'Kind', q: 'Search' }

export function filterLabel(key) {
  return FILTER_LABEL[key] ?? key
}

/** Reads filters and sort from the hash's query. Unknown keys and empty values are dropped. */
export function readState(params) {
  const filters = {}
  for (const key of FILTER_KEYS) {
    const v = params.get(key)
    if (v) filters[key] = v
  }
  const sort = SORTS.includes(params.get('sort')) ? params.get('sort') : 'createdAt'
  const order = params.get('order') === 'asc' ? 'asc' : 'desc'
  return { filters, sort, order }
}

/** The hash for the overview with these filters and sort. */
export function overviewHash({ filters, sort, order }) {
  const q = new URLSearchParams()
  for (const key of FILTER_KEYS) if (filters[key]) q.set(key, filters[key])
  if (sort && sort !== 'createdAt') q.set('sort', sort)
  if (order && order !== 'desc') q.set('order', order)
  const s = q.toString()
  return s ? `#/?${s}` : '#/'
}

/** Navigates to the overview with changed filters (a history entry, so Back undoes a filter). */
export function go(state) {
  const hash = overviewHash(state)
  if (location.hash !== hash) location.hash = hash
}

// The last overview URL visited, so "back to the list" returns to the same filters.
let lastOverview = '#/'

export function rememberOverview(hash) {
  lastOverview = hash || '#/'
}

export function overviewLink() {
  return lastOverview
}

// @ts-check
// The leak list: filters (kept in the URL by the caller), removable chips, a sortable table and
// cursor paging, with loading, empty and error states.
import { api, withQuery } from './api.js'
import { actionBadge, errorBox, h, replace, riskBadge, rotationBadge, statusBadge, statusLabel, timeEl } from './dom.js'
import { FILTER_KEYS, filterLabel } from './filters.js'
import { actions, risks, sorts, statuses } from './meta.js'
/** @import { Leak, Page } from '../../types/api.js' */
/** @import { Attrs } from './dom.js' */
/** @import { Filters, ListState } from './filters.js' */

const PAGE_SIZE = 25

/**
 * A column of the table; `sort` is the API's sort order it sorts by, when it can.
 * @typedef {{ key: keyof Leak, label: string, sort?: string, numeric?: boolean }} Column
 */

/** @type {Column[]} */
const COLUMNS = [
  { key: 'title', label: 'Title', sort: 'title' },
  { key: 'source', label: 'Source' },
  { key: 'kind', label: 'Kind' },
  { key: 'risk', label: 'Risk', sort: 'risk' },
  { key: 'status', label: 'Status' },
  { key: 'action', label: 'Action' },
  { key: 'tokenCount', label: 'Tokens', numeric: true },
  { key: 'hits', label: 'Hits', sort: 'hits', numeric: true },
  { key: 'lastSeenAt', label: 'Last seen', sort: 'lastSeenAt' },
  { key: 'createdAt', label: 'Found', sort: 'createdAt' },
]

/**
 * @param {string} id
 * @param {string} label
 * @param {[string, string][]} options value and text of each option
 * @param {string | undefined} value
 * @param {string} testid
 */
function select(id, label, options, value, testid) {
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    h(
      'select',
      { id, name: id.replace('f-', ''), 'data-testid': testid },
      h('option', { value: '' }, 'Any'),
      options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)),
    ),
  )
}

/**
 * @param {string} id
 * @param {string} label
 * @param {string | undefined} value
 * @param {string} testid
 * @param {Attrs} [extra]
 */
function text(id, label, value, testid, extra = {}) {
  return h('div', { class: 'field' }, h('label', { for: id }, label), h('input', { id, name: id.replace('f-', ''), value: value ?? '', 'data-testid': testid, autocomplete: 'off', ...extra }))
}

/**
 * @param {Leak} leak
 * @param {Column} col
 */
function cell(leak, col) {
  switch (col.key) {
    case 'title':
      return h('a', { href: `#/leaks/${leak.id}`, class: 'leak-title', 'data-testid': 'leak-link' }, leak.title || `Leak ${leak.id}`)
    case 'risk':
      return riskBadge(leak.risk)
    case 'status':
      // The rotation state rides beside the status: a leak waiting for its issuer is still open.
      return leak.rotation ? h('span', { class: 'badges' }, statusBadge(leak.status), rotationBadge(leak.rotation)) : statusBadge(leak.status)
    case 'action':
      return actionBadge(leak.action)
    case 'lastSeenAt':
      return timeEl(leak.lastSeenAt)
    case 'createdAt':
      return timeEl(leak.createdAt)
    case 'kind':
      return leak.kind ? h('code', {}, leak.kind) : h('span', { class: 'muted' }, '—')
    default:
      return String(leak[col.key] ?? '—')
  }
}

/**
 * The list component. `navigate(state)` is called when the user changes filters, sort or removes a
 * chip; the caller puts the state in the URL and calls `setState` back.
 * @param {ListState} initial
 * @param {(state: ListState) => void} navigate
 */
export function createLeakList(initial, navigate) {
  let state = initial
  /** @type {(string | null | undefined)[]} cursor of each page seen; index 0 is the first page */
  let pages = [null]
  let page = 0
  /** @type {AbortController | null} */
  let controller = null

  const sourceList = h('datalist', { id: 'source-options' })
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter leaks', 'data-testid': 'filters' })
  const chips = h('div', { class: 'chips', 'data-testid': 'filter-chips', 'aria-label': 'Active filters', role: 'group' })
  const body = h('div', { class: 'list-body' })
  const status = h('p', { class: 'list-status muted', role: 'status', 'aria-live': 'polite', 'data-testid': 'list-status' })
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' })
  const element = h('section', { class: 'card list-card', 'aria-labelledby': 'list-title', 'data-testid': 'leak-list', 'aria-busy': 'true' }, h('h2', { id: 'list-title', tabindex: '-1' }, 'Leak list'), form, chips, status, body, pager)

  function renderForm() {
    const f = state.filters
    replace(
      form,
      select('f-status', 'Status', statuses().map((s) => [s, statusLabel(s)]), f.status, 'filter-status'),
      select('f-risk', 'Risk', risks().map((r) => [r, r]), f.risk, 'filter-risk'),
      select('f-action', 'Action', actions().map((a) => [a, a]), f.action, 'filter-action'),
      text('f-source', 'Source', f.source, 'filter-source', { list: 'source-options' }),
      text('f-kind', 'Kind', f.kind, 'filter-kind', { placeholder: 'e.g. github_pat' }),
      text('f-q', 'Search', f.q, 'filter-q', { type: 'search', placeholder: 'title or place', title: 'Searches titles, locations and token previews' }),
      sourceList,
      h('div', { class: 'field field-actions' }, h('button', { type: 'submit', class: 'btn' }, 'Apply')),
    )
  }

  // Values are synced in place (not re-rendered) so focus stays where the keyboard user left it.
  function syncForm() {
    for (const key of FILTER_KEYS) {
      const field = form.elements.namedItem(key)
      if ((field instanceof HTMLInputElement || field instanceof HTMLSelectElement) && field.value !== (state.filters[key] ?? '')) field.value = state.filters[key] ?? ''
    }
  }

  function readForm() {
    const data = new FormData(form)
    /** @type {Filters} */
    const filters = {}
    for (const key of FILTER_KEYS) {
      const v = String(data.get(key) ?? '').trim()
      if (v) filters[key] = v
    }
    return filters
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault()
    navigate({ ...state, filters: readForm() })
  })
  form.addEventListener('change', (e) => {
    // Selects apply at once; text fields apply on Enter or when they lose focus.
    if (e.target instanceof HTMLSelectElement || e.target instanceof HTMLInputElement) navigate({ ...state, filters: readForm() })
  })

  // After a chip is removed, keyboard focus goes to the chip that took its place (or the list title),
  // not to the top of the page.
  let refocusChip = -1

  function restoreFocus() {
    if (refocusChip < 0) return
    const left = chips.querySelectorAll('button.chip')
    const target = left[Math.min(refocusChip, left.length - 1)] ?? element.querySelector('#list-title')
    refocusChip = -1
    if (target instanceof HTMLElement) target.focus()
  }

  function renderChips() {
    const active = FILTER_KEYS.filter((k) => state.filters[k])
    if (active.length === 0) {
      replace(chips, h('span', { class: 'muted small' }, 'No filters: showing every leak.'))
      restoreFocus()
      return
    }
    replace(
      chips,
      active.map((k) => {
        const shown = k === 'status' ? statusLabel(state.filters[k]) : state.filters[k]
        return h(
          'button',
          {
            type: 'button',
            class: 'chip',
            'data-testid': `chip-${k}`,
            'aria-label': `Remove filter ${filterLabel(k)}: ${shown}`,
            onclick: () => {
              const filters = { ...state.filters }
              delete filters[k]
              refocusChip = active.indexOf(k)
              navigate({ ...state, filters })
            },
          },
          h('span', { class: 'chip-key' }, `${filterLabel(k)}:`),
          ` ${shown} `,
          h('span', { class: 'chip-x', 'aria-hidden': 'true' }, '×'),
        )
      }),
      active.length > 1
        ? h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'clear-filters', onclick: () => { refocusChip = 0; navigate({ ...state, filters: {} }) } }, 'Clear all')
        : null,
    )
    restoreFocus()
  }

  /** @param {Column} col */
  function sortHeader(col) {
    // A column sorts only by an order the control plane offers.
    const sort = col.sort !== undefined && sorts().includes(col.sort) ? col.sort : undefined
    if (sort === undefined) return h('th', { scope: 'col', class: col.numeric ? 'num' : '' }, col.label)
    const active = state.sort === sort
    const order = active ? state.order : null
    /** @type {ListState['order']} */
    const nextOrder = active ? (state.order === 'desc' ? 'asc' : 'desc') : sort === 'title' ? 'asc' : 'desc'
    return h(
      'th',
      { scope: 'col', class: col.numeric ? 'num' : '', 'aria-sort': active ? (order === 'asc' ? 'ascending' : 'descending') : 'none' },
      h(
        'button',
        {
          type: 'button',
          class: 'sort',
          'data-testid': `sort-${sort}`,
          onclick: () => navigate({ ...state, sort, order: nextOrder }),
        },
        col.label,
        h('span', { class: 'sort-icon', 'aria-hidden': 'true' }, active ? (order === 'asc' ? '▲' : '▼') : '↕'),
      ),
    )
  }

  /** @param {Leak[]} items */
  function renderTable(items) {
    return h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'leaks', 'data-testid': 'leak-table' },
        h('caption', { class: 'visually-hidden' }, 'Leaks matching the filters'),
        h('thead', {}, h('tr', {}, COLUMNS.map(sortHeader))),
        h(
          'tbody',
          {},
          items.map((leak) =>
            h(
              'tr',
              { 'data-testid': 'leak-row', 'data-leak-id': String(leak.id), 'data-risk': leak.risk, 'data-status': leak.status, 'data-source': leak.source, class: `row-risk-${leak.risk}` },
              COLUMNS.map((col) => h('td', { 'data-label': col.label, class: col.numeric ? 'num' : '' }, cell(leak, col))),
            ),
          ),
        ),
      ),
    )
  }

  /** @param {{ quiet?: boolean }} [how] quiet: a live refresh, with no loading state shown */
  async function load({ quiet = false } = {}) {
    controller?.abort()
    controller = new AbortController()
    const { signal } = controller
    element.setAttribute('aria-busy', 'true')
    if (!quiet) replace(status, h('span', { 'data-testid': 'list-loading', class: 'loading' }, 'Loading leaks…'))
    if (!body.firstChild) body.append(h('div', { class: 'skeleton', 'aria-hidden': 'true' }))
    try {
      const query = { ...state.filters, sort: state.sort, order: state.order, limit: PAGE_SIZE, cursor: pages[page] }
      const res = /** @type {Page<Leak>} */ (await api(withQuery('/v1/leaks', query), { signal }))
      if (signal.aborted) return
      pages[page + 1] = res.nextCursor ?? undefined
      const items = res.items ?? []
      if (items.length === 0) {
        const filtered = Object.keys(state.filters).length > 0
        replace(status)
        replace(
          body,
          h(
            'div',
            { class: 'empty', 'data-testid': 'list-empty' },
            h('p', { class: 'empty-title' }, filtered ? 'No leaks match these filters.' : 'No leaks yet.'),
            filtered
              ? h('button', { type: 'button', class: 'btn', onclick: () => navigate({ ...state, filters: {} }) }, 'Clear filters')
              : h('p', { class: 'muted' }, 'Scan a repository with leakgate scan --push, or ', h('a', { href: '#/new' }, 'add a leak by hand'), '.'),
          ),
        )
      } else {
        const first = page * PAGE_SIZE + 1
        const last = page * PAGE_SIZE + items.length
        replace(status, `Showing ${first}–${last} of ${res.total ?? '?'} leaks`)
        replace(body, renderTable(items))
      }
      replace(
        pager,
        h('button', { type: 'button', class: 'btn', 'data-testid': 'prev-page', disabled: page === 0, onclick: () => { page -= 1; load() } }, '← Previous'),
        h('span', { class: 'muted small' }, `Page ${page + 1}`),
        h('button', { type: 'button', class: 'btn', 'data-testid': 'next-page', disabled: !res.nextCursor, onclick: () => { page += 1; load() } }, 'Next →'),
      )
    } catch (err) {
      if ((err instanceof DOMException && err.name === 'AbortError') || signal.aborted) return
      replace(status)
      replace(body, errorBox(err, () => load(), 'list-error'))
      replace(pager)
    } finally {
      if (!signal.aborted) element.setAttribute('aria-busy', 'false')
    }
  }

  renderForm()
  renderChips()

  return {
    element,
    load,
    /** Reloads the page shown, in place (a live change): no loading state, the same page and filters. */
    refresh() {
      load({ quiet: true })
    },
    /** @param {ListState} next */
    setState(next) {
      state = next
      pages = [null]
      page = 0
      syncForm()
      renderChips()
      load()
    },
    /** @param {string[]} sources */
    setSources(sources) {
      replace(sourceList, sources.map((s) => h('option', { value: s })))
    },
    destroy() {
      controller?.abort()
    },
  }
}

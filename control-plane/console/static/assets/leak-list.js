// @ts-check
// The leak list: filters (kept in the URL by the caller) that apply as they are chosen, removable
// chips, a sortable table with cursor paging and the total, a CSV download of every match, and, for an
// admin, bulk decisions on the rows selected (or on every leak the filters match).
// `refresh()` reloads the current page and the filter choices in place (for live updates from outside).
import { api, ApiError, download, withQuery } from './api.js'
import { actionBadge, announce, errorBox, h, replace, riskBadge, rotationBadge, statusBadge, statusLabel, timeEl } from './dom.js'
import { confirmDialog } from './confirm-dialog.js'
import { showEnforcement } from './enforcement.js'
import { FILTER_KEYS, filterLabel } from './filters.js'
import { actions, risks, sorts, statuses } from './meta.js'
/** @import { Leak, Page } from '../../types/api.js' */
/** @import { Attrs } from './dom.js' */
/** @import { Filters, ListState } from './filters.js' */

const PAGE_SIZE = 25
/** The search box applies this long after the last keystroke. */
const SEARCH_DEBOUNCE_MS = 300

/** @param {number} n */
const count = (n) => n.toLocaleString('en-US')
/** @param {number} n */
const leaks = (n) => `${count(n)} ${n === 1 ? 'leak' : 'leaks'}`

/**
 * `GET /v1/leaks/facets`.
 * @typedef {{ sources?: { value: string, count: number }[], kinds?: { value: string, count: number }[] }} Facets
 */
/**
 * `POST /v1/leaks/bulk-decisions`.
 * @typedef {{ matched: number, changed: number[], skipped: { id: number, reason: string, detail: string }[], revision: number }} BulkResult
 */

/**
 * A bulk decision of the action bar: its body, and the words around it.
 * @typedef {{ id: string, label: string, body: { action?: string, status?: string }, danger?: boolean, effect: string, done: string }} BulkDecision
 */

/** The bulk decisions the control plane accepts (its actions and statuses), in the bar's order. */
function bulkDecisions() {
  /** @type {BulkDecision[]} */
  const all = [
    { id: 'block', label: 'Block', body: { action: 'block' }, danger: true, effect: 'Every node will refuse requests that carry their credentials.', done: 'blocked' },
    { id: 'monitor', label: 'Monitor', body: { action: 'monitor' }, effect: 'Requests that carry their credentials will pass, and be recorded.', done: 'monitored' },
    { id: 'false-positive', label: 'False positive', body: { status: 'false_positive' }, effect: 'They will be marked false positives; their credentials leave the nodes\' index.', done: 'marked false positives' },
    { id: 'close', label: 'Close', body: { status: 'closed' }, effect: 'They will be closed; their credentials leave the nodes\' index.', done: 'closed' },
  ]
  return all.filter((d) => (d.body.action === undefined || actions().includes(d.body.action)) && (d.body.status === undefined || statuses().includes(d.body.status)))
}

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
 * @param {{ canDecide?: boolean }} [options] canDecide: show the selection and the bulk decisions (admin keys)
 */
export function createLeakList(initial, navigate, { canDecide = false } = {}) {
  let state = initial
  /** @type {(string | null | undefined)[]} cursor of each page seen; index 0 is the first page */
  let pages = [null]
  let page = 0
  /** @type {AbortController | null} */
  let controller = null
  /** @type {Leak[]} the rows shown */
  let shown = []
  /** How many leaks the filters match (the last answer's total). */
  let total = 0
  /** True when a search's count stopped at its bound: more than `total` leaks match. */
  let totalCapped = false
  /** @type {Set<number>} the rows selected on this page */
  let selected = new Set()
  /** Every leak the filters match is selected, not only this page's rows. */
  let allMatching = false
  /** @type {Facets} */
  let facets = {}
  let searchTimer = 0

  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter leaks', 'data-testid': 'filters' })
  const chips = h('div', { class: 'chips', 'data-testid': 'filter-chips', 'aria-label': 'Active filters', role: 'group' })
  const body = h('div', { class: 'list-body' })
  const status = h('p', { class: 'list-status muted', role: 'status', 'aria-live': 'polite', 'data-testid': 'list-status' })
  const csvError = h('div', { 'data-testid': 'csv-error' })
  const csvButton = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'download-csv', title: 'Every leak these filters match, as CSV (no tokens: hash prefixes only)', onclick: () => downloadCsv() }, 'Download CSV')
  const toolbar = h('div', { class: 'list-toolbar' }, status, csvButton)
  const bulkBar = h('div', { class: 'bulk-bar', role: 'region', 'aria-label': 'Decide on the selected leaks', 'data-testid': 'bulk-bar', hidden: true })
  const selectBanner = h('div', { class: 'select-banner', 'data-testid': 'select-banner', hidden: true })
  const bulkResult = h('div', { 'data-testid': 'bulk-result', tabindex: '-1' })
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' })
  const element = h('section', { class: 'card list-card', 'aria-labelledby': 'list-title', 'data-testid': 'leak-list', 'aria-busy': 'true' }, h('h2', { id: 'list-title', tabindex: '-1' }, 'Leak list'), form, chips, toolbar, csvError, bulkResult, bulkBar, selectBanner, body, pager)

  /**
   * A select of the facet's values with their counts; a value in the URL the facets do not list (yet)
   * is kept as a choice so the select shows it.
   * @param {'source' | 'kind'} key
   */
  function facetOptions(key) {
    const list = (key === 'source' ? facets.sources : facets.kinds) ?? []
    /** @type {[string, string][]} */
    const options = list.map((f) => [f.value, `${f.value} (${count(f.count)})`])
    const current = state.filters[key]
    if (current && !list.some((f) => f.value === current)) options.unshift([current, current])
    return options
  }

  function renderForm() {
    const f = state.filters
    replace(
      form,
      select('f-status', 'Status', statuses().map((s) => [s, statusLabel(s)]), f.status, 'filter-status'),
      select('f-risk', 'Risk', risks().map((r) => [r, r]), f.risk, 'filter-risk'),
      select('f-action', 'Action', actions().map((a) => [a, a]), f.action, 'filter-action'),
      select('f-source', 'Source', facetOptions('source'), f.source, 'filter-source'),
      select('f-kind', 'Kind', facetOptions('kind'), f.kind, 'filter-kind'),
      text('f-q', 'Search', f.q, 'filter-q', { type: 'search', placeholder: 'Title or place', title: 'Searches titles, locations and token previews' }),
    )
  }

  /** Refills the source and kind choices in place (the rest of the form, and focus, stay). */
  function renderFacets() {
    for (const key of /** @type {const} */ (['source', 'kind'])) {
      const field = form.elements.namedItem(key)
      if (!(field instanceof HTMLSelectElement)) continue
      const value = state.filters[key] ?? ''
      replace(field, h('option', { value: '' }, 'Any'), facetOptions(key).map(([v, label]) => h('option', { value: v, selected: v === value }, label)))
      field.value = value
    }
  }

  // Values are synced in place (not re-rendered) so focus stays where the keyboard user left it; the
  // field being typed in is left alone (its text may already be ahead of the URL).
  function syncForm() {
    renderFacets()
    for (const key of FILTER_KEYS) {
      const field = form.elements.namedItem(key)
      if (field === document.activeElement) continue
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

  function applyForm() {
    clearTimeout(searchTimer)
    const filters = readForm()
    if (FILTER_KEYS.every((k) => (filters[k] ?? '') === (state.filters[k] ?? ''))) return
    navigate({ ...state, filters })
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault()
    applyForm()
  })
  // Choices apply at once; the search box a moment after the last keystroke (or at once on Enter).
  form.addEventListener('change', () => applyForm())
  form.addEventListener('input', (e) => {
    if (!(e.target instanceof HTMLInputElement)) return
    clearTimeout(searchTimer)
    searchTimer = window.setTimeout(applyForm, SEARCH_DEBOUNCE_MS)
  })
  form.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && e.target instanceof HTMLInputElement) {
      e.preventDefault()
      applyForm()
    }
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

  /** How many leaks the selection stands for. */
  function selectionSize() {
    return allMatching ? total : selected.size
  }

  /** Redraws what depends on the selection: the checkboxes, the banner and the action bar. */
  function renderSelection() {
    if (!canDecide) return
    for (const box of body.querySelectorAll('input[data-leak-id]')) {
      if (box instanceof HTMLInputElement) box.checked = allMatching || selected.has(Number(box.dataset.leakId))
    }
    const all = body.querySelector('input[data-testid=select-page]')
    const onPage = shown.length > 0 && shown.every((l) => selected.has(l.id))
    if (all instanceof HTMLInputElement) {
      all.checked = allMatching || onPage
      all.indeterminate = !allMatching && !onPage && selected.size > 0
    }
    const n = selectionSize()
    bulkBar.hidden = n === 0
    // An uncounted match (a search past the count's bound) cannot be selected whole: a bulk decision checks the count.
    selectBanner.hidden = !(allMatching || (onPage && total > shown.length && !totalCapped))
    if (allMatching) {
      replace(selectBanner, `All ${leaks(total)} matching these filters are selected. `, h('button', { type: 'button', class: 'btn btn-quiet btn-small link', 'data-testid': 'clear-selection-banner', onclick: () => clearSelection() }, 'Clear selection'))
    } else if (onPage && total > shown.length && !totalCapped) {
      replace(selectBanner, `All ${count(shown.length)} on this page are selected. `, h('button', { type: 'button', class: 'btn btn-quiet btn-small link', 'data-testid': 'select-all-matching', onclick: () => { allMatching = true; renderSelection() } }, `Select all ${leaks(total)} matching these filters`))
    }
    if (n === 0) return
    replace(
      bulkBar,
      h('span', { class: 'bulk-count', 'data-testid': 'bulk-count' }, `${leaks(n)} selected`),
      h('div', { class: 'bulk-actions', role: 'group', 'aria-label': 'Decisions' },
        bulkDecisions().map((d) => h('button', { type: 'button', class: `btn btn-small ${d.danger ? 'btn-danger' : ''}`, 'data-testid': `bulk-${d.id}`, onclick: () => decideSelected(d) }, d.label)),
        h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'bulk-clear', onclick: () => clearSelection() }, 'Clear selection')),
    )
  }

  function clearSelection() {
    selected = new Set()
    allMatching = false
    renderSelection()
  }

  /**
   * The body of a bulk decision for the current selection: the ids, or the filters with the count
   * the operator saw (the control plane refuses it if the filters now match another number).
   * @param {Record<string, string>} decision
   */
  function bulkBody(decision) {
    if (!allMatching) return { ids: [...selected], ...decision }
    /** @type {Record<string, string>} */
    const filter = {}
    for (const key of FILTER_KEYS) {
      const v = state.filters[key]
      if (v) filter[key] = v
    }
    return { filter, expectedCount: total, ...decision }
  }

  /** @param {BulkDecision} d */
  async function decideSelected(d) {
    const n = selectionSize()
    const ok = await confirmDialog({
      title: `${d.label}: ${leaks(n)}?`,
      message: `${d.effect} This applies to ${leaks(n)}${allMatching ? ' (every leak these filters match)' : ''}. Each is recorded in the audit trail.`,
      confirm: `${d.label} ${leaks(n)}`,
      danger: d.danger === true,
    })
    if (!ok) return
    replace(bulkResult)
    for (const b of bulkBar.querySelectorAll('button')) b.disabled = true
    try {
      const result = /** @type {BulkResult} */ (await api('/v1/leaks/bulk-decisions', { method: 'POST', body: bulkBody(d.body) }))
      clearSelection()
      showBulkResult(d, result)
      if (d.body.action === 'block' && result.changed.length > 0) {
        const changed = result.changed
        // Only leaks that were not blocked were changed; with the two actions there are, they were monitored.
        const previous = actions().find((a) => a !== 'block') ?? 'monitor'
        showEnforcement({
          revision: result.revision, pending: 'Blocking', done: 'Blocked', subject: leaks(changed.length),
          undo: async () => {
            const back = /** @type {BulkResult} */ (await api('/v1/leaks/bulk-decisions', { method: 'POST', body: { ids: changed, action: previous, comment: 'Undo of the block' } }))
            load()
            showEnforcement({ revision: back.revision, pending: 'Undoing', done: 'Block undone', subject: leaks(back.changed.length) })
          },
        })
      } else {
        announce(`${leaks(result.changed.length)} ${d.done}.`, 'success')
      }
    } catch (err) {
      // 409: the filters now match another count than the one confirmed; the list reloads with the new one.
      const changedCount = err instanceof ApiError && err.status === 409
      replace(bulkResult, errorBox(err, null, 'bulk-error'))
      if (changedCount) allMatching = false
      renderSelection()
      bulkResult.focus()
    }
    load()
  }

  /**
   * @param {BulkDecision} d
   * @param {BulkResult} result
   */
  function showBulkResult(d, result) {
    const skipped = result.skipped ?? []
    replace(
      bulkResult,
      h(
        'div',
        { class: `notice ${skipped.length > 0 ? 'notice-info' : 'notice-success'}`, role: 'status' },
        h('strong', {}, `${leaks(result.changed.length)} ${d.done}.`),
        skipped.length > 0 ? ` ${leaks(skipped.length)} left as ${skipped.length === 1 ? 'it was' : 'they were'}:` : null,
        skipped.length > 0
          ? h('ul', { 'data-testid': 'bulk-skipped' }, skipped.slice(0, 20).map((s) => h('li', { 'data-leak-id': String(s.id) }, h('a', { href: `#/leaks/${s.id}` }, `Leak ${s.id}`), `: ${s.detail.replace(/^leak \d+ /, '')}`)))
          : null,
        skipped.length > 20 ? h('p', {}, `and ${count(skipped.length - 20)} more.`) : null,
        h('button', { type: 'button', class: 'btn btn-quiet btn-small', 'data-testid': 'bulk-result-dismiss', onclick: () => replace(bulkResult) }, 'Dismiss'),
      ),
    )
  }

  async function downloadCsv() {
    csvButton.disabled = true
    replace(csvError)
    try {
      /** @type {Record<string, string>} */
      const filter = {}
      for (const key of FILTER_KEYS) {
        const v = state.filters[key]
        if (v) filter[key] = v
      }
      await download(withQuery('/v1/leaks/export.csv', filter), 'leaks.csv')
    } catch (err) {
      replace(csvError, errorBox(err, () => downloadCsv(), 'csv-download-error'))
    } finally {
      csvButton.disabled = false
    }
  }

  /** @param {Leak[]} items */
  function renderTable(items) {
    const selectHead = canDecide
      ? h('th', { scope: 'col', class: 'select-col' }, h('input', {
        type: 'checkbox', 'data-testid': 'select-page', 'aria-label': 'Select every leak on this page',
        onchange: (/** @type {Event} */ e) => {
          const on = e.target instanceof HTMLInputElement && e.target.checked
          allMatching = false
          selected = on ? new Set(items.map((l) => l.id)) : new Set()
          renderSelection()
        },
      }))
      : null
    return h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'leaks', 'data-testid': 'leak-table' },
        h('caption', { class: 'visually-hidden' }, 'Leaks matching the filters'),
        h('thead', {}, h('tr', {}, selectHead, COLUMNS.map(sortHeader))),
        h(
          'tbody',
          {},
          items.map((leak) =>
            h(
              'tr',
              { 'data-testid': 'leak-row', 'data-leak-id': String(leak.id), 'data-risk': leak.risk, 'data-status': leak.status, 'data-source': leak.source, class: `row-risk-${leak.risk}` },
              canDecide
                ? h('td', { class: 'select-col', 'data-label': 'Select' }, h('input', {
                  type: 'checkbox', 'data-testid': 'select-leak', 'data-leak-id': String(leak.id), 'aria-label': `Select ${leak.title || `leak ${leak.id}`}`,
                  onchange: (/** @type {Event} */ e) => {
                    const on = e.target instanceof HTMLInputElement && e.target.checked
                    if (allMatching) {
                      // Unticking one row of "every match" leaves this page's other rows selected.
                      allMatching = false
                      selected = new Set(items.map((l) => l.id))
                    }
                    if (on) selected.add(leak.id)
                    else selected.delete(leak.id)
                    renderSelection()
                  },
                }))
                : null,
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
      shown = items
      total = res.total ?? items.length
      totalCapped = res.totalIsLowerBound === true
      // A refresh keeps the rows still shown selected.
      selected = new Set(items.filter((l) => selected.has(l.id)).map((l) => l.id))
      if (items.length === 0) {
        const filtered = Object.keys(state.filters).length > 0
        allMatching = false
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
        // Past the count's bound ("10,000+"), a page beyond it shows at least as many as it reaches.
        replace(status, `Showing ${count(first)}–${count(last)} of ${totalCapped ? `${count(Math.max(total, last))}+ leaks` : leaks(total)}`)
        replace(body, renderTable(items))
      }
      renderSelection()
      const pageCount = Math.max(1, Math.ceil(total / PAGE_SIZE))
      replace(
        pager,
        h('button', { type: 'button', class: 'btn', 'data-testid': 'prev-page', disabled: page === 0, onclick: () => { page -= 1; clearSelection(); load() } }, '← Previous'),
        // Past the count's bound the pages are not known: the page's number alone.
        h('span', { class: 'muted small', 'data-testid': 'page-number' }, totalCapped ? `Page ${count(page + 1)}` : `Page ${count(page + 1)} of ${count(pageCount)}`),
        h('button', { type: 'button', class: 'btn', 'data-testid': 'next-page', disabled: !res.nextCursor, onclick: () => { page += 1; clearSelection(); load() } }, 'Next →'),
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

  async function loadFacets() {
    try {
      facets = /** @type {Facets} */ (await api('/v1/leaks/facets'))
      renderFacets()
    } catch {
      // Without facets the selects offer only the value in the URL; the list itself says what failed.
    }
  }

  renderForm()
  renderChips()
  loadFacets()

  return {
    element,
    load,
    /** Reloads the current page in place, with no loading state (a live change), keeping the selection of the rows still shown, and the filter choices. */
    refresh() {
      loadFacets()
      load({ quiet: true })
    },
    /** @param {ListState} next */
    setState(next) {
      state = next
      pages = [null]
      page = 0
      selected = new Set()
      allMatching = false
      syncForm()
      renderChips()
      load()
    },
    destroy() {
      clearTimeout(searchTimer)
      controller?.abort()
    },
  }
}

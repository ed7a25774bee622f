// @ts-check
// The overview page: headline numbers, the charts (click to filter) and the leak list.
import { api } from './api.js'
import { errorBox, h, replace } from './dom.js'
import { drawCharts } from './charts.js'
import { go, overviewHash, readState } from './filters.js'
import { createLeakList } from './leak-list.js'
/** @import { Stats } from '../../types/api.js' */
/** @import { Mount } from '../../types/views.js' */
/** @import { Choice } from './charts.js' */

/**
 * A headline number that links to the list of the leaks it counts.
 * @param {string} label
 * @param {number} value
 * @param {string} testid
 * @param {import('./filters.js').Filters} filters what the list shows when the tile is chosen
 * @param {{ tone?: string, sort?: string, title?: string }} [options]
 */
function tile(label, value, testid, filters, { tone = '', sort, title } = {}) {
  const state = readState(new URLSearchParams())
  const href = overviewHash({ ...state, filters, ...(sort ? { sort, order: 'desc' } : {}) })
  return h(
    'a',
    { class: `tile ${tone}`, href, 'data-testid': testid, title: title ?? `List the ${label}` },
    h('span', { class: 'tile-value' }, value.toLocaleString('en-US')),
    h('span', { class: 'tile-label' }, label),
  )
}

/** @type {Mount} */
export function mountOverview(main, ctx) {
  let state = readState(ctx.params)
  /** @type {ReturnType<typeof drawCharts> | null} */
  let charts = null
  let destroyed = false

  const tiles = h('div', { class: 'tiles', 'aria-live': 'polite' })
  const chartBox = h('div', { class: 'charts', 'data-testid': 'charts', 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading charts…'))
  const list = createLeakList(state, (next) => go(next), { canDecide: ctx.session.role === 'admin' })

  replace(
    main,
    // Only admins add leaks: an analyst is not shown a button that leads to a disabled form.
    h('div', { class: 'page-head' }, h('h1', {}, 'Leaks'), ctx.session.role === 'admin' ? h('a', { class: 'btn btn-primary', href: '#/new', 'data-testid': 'add-leak-link' }, 'Add leak') : null),
    tiles,
    h('section', { 'aria-label': 'Open leaks at a glance' }, chartBox),
    list.element,
  )

  /**
   * A chart element or legend entry was chosen: filter by it, or drop the filter when chosen again.
   * @param {Choice} choice
   */
  function pick(choice) {
    const filters = { ...state.filters }
    /** @type {['risk' | 'source', string][]} */
    const chosen = []
    if (choice.risk !== undefined) chosen.push(['risk', choice.risk])
    if (choice.source !== undefined) chosen.push(['source', choice.source])
    const same = chosen.every(([k, v]) => filters[k] === v)
    for (const [k, v] of chosen) {
      if (same) delete filters[k]
      else filters[k] = v
    }
    // The charts count open leaks: show the list that matches what was clicked.
    if (!same && !filters.status) filters.status = 'open'
    go({ ...state, filters })
  }

  async function loadStats() {
    try {
      const stats = /** @type {Stats} */ (await api('/v1/stats?status=open'))
      if (destroyed) return
      const blocked = stats.byAction?.block ?? 0
      const urgent = (stats.byRisk?.critical ?? 0) + (stats.byRisk?.high ?? 0)
      replace(
        tiles,
        tile('open leaks', stats.total ?? 0, 'tile-open', { status: 'open' }),
        // One filter holds one risk: the open leaks, most severe first, put the critical and high ones on top.
        tile('critical or high', urgent, 'tile-urgent', { status: 'open' }, { tone: urgent > 0 ? 'tile-alert' : '', sort: 'risk', title: 'List the open leaks, most severe first' }),
        tile('blocked at the edge', blocked, 'tile-blocked', { status: 'open', action: 'block' }),
        tile('closed', stats.byStatus?.closed ?? 0, 'tile-closed', { status: 'closed' }),
        tile('false positives', stats.byStatus?.false_positive ?? 0, 'tile-fp', { status: 'false_positive' }),
      )
      charts = drawCharts(chartBox, stats, pick)
      charts.setActive(state.filters)
    } catch (err) {
      if (destroyed) return
      replace(chartBox, errorBox(err, () => loadStats(), 'charts-error'))
    } finally {
      chartBox.setAttribute('aria-busy', 'false')
    }
  }

  loadStats()
  list.load()

  // Live changes arrive in bursts (a scan, a bulk decision): reload once they settle a moment.
  /** @type {number | undefined} */
  let settle
  function reloadSoon() {
    window.clearTimeout(settle)
    settle = window.setTimeout(() => {
      if (destroyed) return
      loadStats()
      list.refresh()
    }, 300)
  }

  return {
    live(change) {
      if (change === 'reset' || change.some((e) => e.type.startsWith('leak.') || e.type === 'scan.finished')) reloadSoon()
    },
    update(next) {
      state = readState(next.params)
      charts?.setActive(state.filters)
      list.setState(state)
    },
    destroy() {
      destroyed = true
      window.clearTimeout(settle)
      charts?.destroy()
      list.destroy()
    },
  }
}

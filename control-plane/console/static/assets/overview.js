// @ts-check
// The overview page: headline numbers, the charts (click to filter) and the leak list.
import { api } from './api.js'
import { errorBox, h, replace } from './dom.js'
import { drawCharts } from './charts.js'
import { go, readState } from './filters.js'
import { createLeakList } from './leak-list.js'
/** @import { Stats } from '../../types/api.js' */
/** @import { Mount } from '../../types/views.js' */
/** @import { Choice } from './charts.js' */

/**
 * @param {string} label
 * @param {number} value
 * @param {string} testid
 * @param {string} [tone]
 */
function tile(label, value, testid, tone = '') {
  return h('div', { class: `tile ${tone}`, 'data-testid': testid }, h('span', { class: 'tile-value' }, String(value)), h('span', { class: 'tile-label' }, label))
}

/** @type {Mount} */
export function mountOverview(main, ctx) {
  let state = readState(ctx.params)
  /** @type {ReturnType<typeof drawCharts> | null} */
  let charts = null
  let destroyed = false

  const tiles = h('div', { class: 'tiles', 'aria-live': 'polite' })
  const chartBox = h('div', { class: 'charts', 'data-testid': 'charts', 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading charts…'))
  const list = createLeakList(state, (next) => go(next))

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
        tile('open leaks', stats.total ?? 0, 'tile-open'),
        tile('critical or high', urgent, 'tile-urgent', urgent > 0 ? 'tile-alert' : ''),
        tile('blocked at the edge', blocked, 'tile-blocked'),
        tile('closed', stats.byStatus?.closed ?? 0, 'tile-closed'),
        tile('false positives', stats.byStatus?.false_positive ?? 0, 'tile-fp'),
      )
      charts = drawCharts(chartBox, stats, pick)
      charts.setActive(state.filters)
      list.setSources(Object.keys(stats.bySource ?? {}))
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

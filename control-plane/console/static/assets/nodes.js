// @ts-check
// The node fleet: each node's index revision, lag and last contact. A stale node (no contact for
// 30 s) or one that lags behind the control plane stands out, in words as well as colour.
import { api } from './api.js'
import { absolute, errorBox, h, replace, timeEl } from './dom.js'
/** @import { Fleet, FleetNode } from '../../types/api.js' */
/** @import { Mount } from '../../types/views.js' */

const REFRESH_MS = 10_000

/** @type {Mount} */
export function mountNodes(main) {
  /** @type {number | undefined} */
  let timer
  let destroyed = false
  const summary = h('p', { class: 'muted', 'data-testid': 'nodes-summary', 'aria-live': 'polite' })
  const body = h('div', {}, h('p', { class: 'loading', role: 'status', 'data-testid': 'nodes-loading' }, 'Loading nodes…'))

  replace(
    main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Nodes'), h('button', { type: 'button', class: 'btn', onclick: () => load(), 'data-testid': 'nodes-refresh' }, 'Refresh')),
    summary,
    h('section', { class: 'card', 'aria-label': 'Nodes' }, body),
  )

  /** @param {FleetNode} n */
  function row(n) {
    const behind = (n.lag ?? 0) > 0
    const health = n.stale ? 'stale' : behind ? 'behind' : 'ok'
    return h(
      'tr',
      { 'data-testid': 'node-row', 'data-node-id': n.id, 'data-stale': String(Boolean(n.stale)), class: `node-${health}` },
      h('th', { scope: 'row', 'data-label': 'Node' }, h('code', {}, n.id)),
      h('td', { 'data-label': 'Health' }, h('span', { class: `badge health-${health}` }, n.stale ? 'Stale' : behind ? 'Behind' : 'In sync')),
      h('td', { 'data-label': 'Revision', class: 'num' }, String(n.revision ?? '—')),
      h('td', { 'data-label': 'Lag', class: 'num' }, behind ? `${n.lag} behind` : '0'),
      h('td', { 'data-label': 'Index entries', class: 'num' }, (n.indexEntries ?? 0).toLocaleString('en')),
      h('td', { 'data-label': 'Last contact' }, timeEl(n.lastContactAt), h('span', { class: 'visually-hidden' }, ` (${absolute(n.lastContactAt)})`)),
      h('td', { 'data-label': 'Version' }, n.version ?? '—'),
    )
  }

  /** The whole fleet: every page of it (the control plane bounds it with maxNodes). */
  async function fleet() {
    const first = /** @type {Fleet} */ (await api('/v1/nodes?limit=1000'))
    const items = [...(first.items ?? [])]
    let cursor = first.nextCursor
    while (cursor && !destroyed) {
      const next = /** @type {Fleet} */ (await api(`/v1/nodes?limit=1000&cursor=${encodeURIComponent(cursor)}`))
      items.push(...(next.items ?? []))
      cursor = next.nextCursor
    }
    return { ...first, items }
  }

  async function load() {
    clearTimeout(timer)
    try {
      const res = await fleet()
      if (destroyed) return
      const items = res.items ?? []
      const stale = items.filter((n) => n.stale).length
      replace(summary, `${items.length} node${items.length === 1 ? '' : 's'} · ${stale} stale · control plane revision ${res.revision ?? '—'}`)
      if (items.length === 0) {
        replace(body, h('div', { class: 'empty', 'data-testid': 'nodes-empty' }, h('p', { class: 'empty-title' }, 'No node has reported yet.'), h('p', { class: 'muted' }, 'Start one with ', h('code', {}, 'leakgate node'), ' and LEAKGATE_NODE_KEY set; it appears here after its first heartbeat.')))
      } else {
        // Stale nodes first: they are what needs attention.
        items.sort((a, b) => Number(b.stale) - Number(a.stale) || (b.lag ?? 0) - (a.lag ?? 0) || a.id.localeCompare(b.id))
        replace(
          body,
          h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'nodes', 'data-testid': 'nodes-table' },
              h('caption', { class: 'visually-hidden' }, 'Nodes and their sync state'),
              h('thead', {}, h('tr', {}, ['Node', 'Health', 'Revision', 'Lag', 'Index entries', 'Last contact', 'Version'].map((c) => h('th', { scope: 'col', class: ['Revision', 'Lag', 'Index entries'].includes(c) ? 'num' : false }, c)))),
              h('tbody', {}, items.map(row)),
            ),
          ),
        )
      }
    } catch (err) {
      if (destroyed) return
      replace(body, errorBox(err, () => load(), 'nodes-error'))
    }
    if (!destroyed) timer = window.setTimeout(load, REFRESH_MS)
  }

  load()
  return {
    destroy() {
      destroyed = true
      clearTimeout(timer)
    },
  }
}

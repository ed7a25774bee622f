// @ts-check
// The audit log: every decision on every leak, newest first, paged with the cursor.
import { api, withQuery } from './api.js'
import { absolute, errorBox, h, replace, statusLabel, timeEl } from './dom.js'
/** @import { Decision, LeakState, Page } from '../../types/api.js' */
/** @import { Mount } from '../../types/views.js' */

const PAGE_SIZE = 50

/**
 * "action monitor → block, status Open → Closed" (or "created: …" for a leak's creation).
 * @param {LeakState | null | undefined} from
 * @param {LeakState | null | undefined} to
 */
export function changeText(from, to) {
  /**
   * @param {keyof LeakState} key
   * @param {string | undefined} v
   */
  const show = (key, v) => (key === 'status' ? statusLabel(v) : v)
  if (!from) return `created: risk ${to?.risk}, ${to?.action}, ${statusLabel(to?.status)}`
  const parts = []
  for (const key of /** @type {const} */ (['action', 'status', 'risk'])) {
    if (from[key] !== to?.[key]) parts.push(`${key} ${show(key, from[key])} → ${show(key, to?.[key])}`)
  }
  // Only a rotation's entries carry its state (null: none asked before).
  if ((from.rotation ?? null) !== (to?.rotation ?? null)) parts.push(`rotation ${from.rotation ?? 'none'} → ${to?.rotation ?? 'none'}`)
  return parts.length > 0 ? parts.join(', ') : 'no change'
}

/** @type {Mount} */
export function mountAudit(main) {
  let destroyed = false
  /** @type {(string | null | undefined)[]} */
  const pages = [null]
  let page = 0
  const body = h('div', {}, h('p', { class: 'loading', role: 'status' }, 'Loading the audit log…'))
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' })

  replace(
    main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Audit log')),
    h('p', { class: 'muted' }, 'Every decision taken on a leak: who, when, what changed and why.'),
    h('section', { class: 'card', 'aria-label': 'Decisions', 'data-testid': 'audit-log' }, body, pager),
  )

  async function load() {
    try {
      const res = /** @type {Page<Decision>} */ (await api(withQuery('/v1/audit', { limit: PAGE_SIZE, cursor: pages[page] })))
      if (destroyed) return
      pages[page + 1] = res.nextCursor ?? undefined
      const items = res.items ?? []
      if (items.length === 0) {
        replace(body, h('div', { class: 'empty' }, h('p', { class: 'empty-title' }, 'No decisions yet.')))
      } else {
        replace(
          body,
          h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'audit-table' },
              h('caption', { class: 'visually-hidden' }, 'Decisions, newest first'),
              h('thead', {}, h('tr', {}, ['When', 'Leak', 'Change', 'By', 'Comment'].map((c) => h('th', { scope: 'col' }, c)))),
              h(
                'tbody',
                {},
                items.map((d) =>
                  h(
                    'tr',
                    { 'data-testid': 'audit-row', 'data-leak-id': String(d.leakId) },
                    h('td', { 'data-label': 'When' }, timeEl(d.at), h('span', { class: 'visually-hidden' }, ` (${absolute(d.at)})`)),
                    h('td', { 'data-label': 'Leak' }, h('a', { href: `#/leaks/${d.leakId}` }, `#${d.leakId}`)),
                    h('td', { 'data-label': 'Change' }, changeText(d.from, d.to)),
                    h('td', { 'data-label': 'By' }, h('code', {}, d.actor)),
                    h('td', { 'data-label': 'Comment' }, d.comment ?? h('span', { class: 'muted' }, '—')),
                  ),
                ),
              ),
            ),
          ),
        )
      }
      replace(
        pager,
        h('button', { type: 'button', class: 'btn', disabled: page === 0, onclick: () => { page -= 1; load() } }, '← Newer'),
        h('span', { class: 'muted small' }, `Page ${page + 1}`),
        h('button', { type: 'button', class: 'btn', disabled: !res.nextCursor, onclick: () => { page += 1; load() } }, 'Older →'),
      )
    } catch (err) {
      if (!destroyed) replace(body, errorBox(err, () => load(), 'audit-error'))
    }
  }

  load()
  return {
    live(change) {
      // Newest first: only the first page gains rows.
      if (page === 0 && (change === 'reset' || change.some((e) => e.type === 'leak.created' || e.type === 'leak.decided' || e.type === 'leak.rotated'))) load()
    },
    destroy() {
      destroyed = true
    },
  }
}

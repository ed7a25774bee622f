// @ts-check
// Public sources: each watcher's state (where it stopped, how far behind the stream it is, its
// rate-limit budget, its last error) and the leaks of ours it found. A source run as N shards has a
// row a shard (`github-events#1/4`): they are shown as one source, whose shards open beneath it.
// Locations and errors come from the public internet: they reach the page as text (dom.js), and a
// link only for an http(s) address.
import { api, ApiError } from './api.js'
import { absolute, errorBox, h, replace, riskBadge, safeHref, statusBadge, timeEl } from './dom.js'
/** @import { LeakLocation, PublicFinding, PublicSourceRow } from '../../types/api.js' */
/** @import { Mount, PageContext } from '../../types/views.js' */

/** Source states change without events (a poll, a rate limit): the page reads them again this often. */
const REFRESH_MS = 15_000
const FINDINGS_SHOWN = 20
/** Characters of a cursor shown; the whole of it is in the title. */
const CURSOR_SHOWN = 18
/** A cursor longer than this (code search keeps 2000 keys) is cut in the title too. */
const CURSOR_TITLE_MAX = 2000

const SHARD_ID = /^(.+)#(\d{1,4})\/(\d{1,4})$/

/**
 * A source as the page shows it: its own row, or the rows of its shards.
 * @typedef {{ id: string, own: PublicSourceRow | undefined, shards: { k: number, n: number, row: PublicSourceRow }[] }} SourceGroup
 */

/**
 * The sources of `GET /v1/public-sources`, each shard's row under its source.
 * @param {PublicSourceRow[]} rows
 * @returns {SourceGroup[]}
 */
export function groupSources(rows) {
  /** @type {Map<string, SourceGroup>} */
  const groups = new Map()
  /** @param {string} id */
  const group = (id) => {
    let g = groups.get(id)
    if (!g) {
      g = { id, own: undefined, shards: [] }
      groups.set(id, g)
    }
    return g
  }
  for (const row of rows) {
    const m = SHARD_ID.exec(row.sourceId)
    if (m) group(/** @type {string} */ (m[1])).shards.push({ k: Number(m[2]), n: Number(m[3]), row })
    else group(row.sourceId).own = row
  }
  for (const g of groups.values()) g.shards.sort((a, b) => a.k - b.k)
  return [...groups.values()]
}

/** @param {SourceGroup} g */
const rowsOf = (g) => [...(g.own ? [g.own] : []), ...g.shards.map((s) => s.row)]

/**
 * "4 min behind": how far behind the stream a source is, from its `lagSeconds`.
 * @param {number | undefined} seconds
 */
export function lagText(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return '—'
  if (seconds < 5) return 'Up to date'
  if (seconds < 60) return `${Math.round(seconds)} s behind`
  const minutes = seconds / 60
  if (minutes < 60) return `${Math.round(minutes)} min behind`
  const hours = minutes / 60
  if (hours < 48) return `${Math.round(hours)} h behind`
  return `${Math.round(hours / 24)} days behind`
}

/**
 * "12.4 MiB"
 * @param {number} n
 */
export function bytesText(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = n
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit += 1
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`
}

/**
 * A public place as a link to it (a new tab, no referrer), or as text when its address is not http(s).
 * The label is the repository and the file's line, or the address itself.
 * @param {LeakLocation} location
 * @param {string} testid
 */
export function placeLink(location, testid) {
  const file = location.path ? (location.line ? `${location.path}:${location.line}` : location.path) : ''
  const label = [location.repo, file].filter(Boolean).join(' · ') || location.url || location.repoUrl || '—'
  const href = safeHref(location.url ?? '') ?? safeHref(location.repoUrl ?? '')
  return href
    ? h('a', { href, target: '_blank', rel: 'noopener noreferrer', class: 'wrap-anywhere', 'data-testid': testid }, label)
    : h('span', { class: 'wrap-anywhere', 'data-testid': testid }, label)
}

/** @param {string | null} cursor */
function cursorCell(cursor) {
  if (cursor === null) return h('span', { class: 'muted' }, 'not started')
  const shown = cursor.length > CURSOR_SHOWN ? `${cursor.slice(0, CURSOR_SHOWN)}…` : cursor
  const title = cursor.length > CURSOR_TITLE_MAX ? `${cursor.slice(0, CURSOR_TITLE_MAX)}…` : cursor
  return h('code', { title, 'data-testid': 'source-cursor' }, shown)
}

/**
 * The tightest budget among `rows`: what is left, and when it resets.
 * @param {PublicSourceRow[]} rows
 */
function budgetCell(rows) {
  const known = rows.filter((r) => typeof r.state.rateLimitRemaining === 'number')
  if (known.length === 0) return h('span', { class: 'muted' }, '—')
  const tightest = known.reduce((a, b) => (Number(b.state.rateLimitRemaining) < Number(a.state.rateLimitRemaining) ? b : a))
  const remaining = Number(tightest.state.rateLimitRemaining)
  const reset = tightest.state.rateLimitResetAt
  return h(
    'span',
    { 'data-testid': 'source-budget', class: remaining === 0 ? 'budget-spent' : false },
    `${remaining.toLocaleString('en')} left`,
    reset ? [h('span', { class: 'muted' }, ' · resets '), timeEl(reset)] : null,
  )
}

/**
 * The earliest next poll among `rows`.
 * @param {PublicSourceRow[]} rows
 */
function nextPollCell(rows) {
  const times = rows.map((r) => r.state.nextPollAt).filter((t) => typeof t === 'string' && !Number.isNaN(Date.parse(t)))
  if (times.length === 0) return h('span', { class: 'muted' }, '—')
  const soonest = /** @type {string} */ (times.reduce((a, b) => (Date.parse(String(b)) < Date.parse(String(a)) ? b : a)))
  if (Date.parse(soonest) <= Date.now()) return h('span', { class: 'muted', title: absolute(soonest) }, 'due now')
  return timeEl(soonest)
}

/** @param {PublicSourceRow[]} rows */
function lagCell(rows) {
  const lags = rows.map((r) => r.state.lagSeconds).filter((s) => typeof s === 'number')
  const missed = rows.find((r) => typeof r.state.missedAfter === 'string')
  return [
    h('span', { 'data-testid': 'source-lag', class: 'source-lag' }, lagText(lags.length === 0 ? undefined : Math.max(...lags))),
    missed ? h('div', { class: 'source-warn small', 'data-testid': 'source-missed', title: `Events after ${String(missed.state.missedAfter)} may be missing from the live feed: read them with leakgate watch gharchive` }, 'events missed') : null,
  ]
}

/** @param {PublicSourceRow[]} rows */
function scannedCell(rows) {
  const units = rows.reduce((sum, r) => sum + r.units, 0)
  const bytes = rows.reduce((sum, r) => sum + r.bytes, 0)
  return h('span', { 'data-testid': 'source-scanned' }, `${units.toLocaleString('en')} ${units === 1 ? 'unit' : 'units'}`, h('span', { class: 'muted' }, ` · ${bytesText(bytes)}`))
}

/**
 * @param {{ label: string, error: string }[]} errors
 */
function errorCell(errors) {
  if (errors.length === 0) return h('span', { class: 'muted' }, 'None')
  return h(
    'span',
    { class: 'source-error', 'data-testid': 'source-error' },
    h('strong', {}, 'Failing: '),
    errors.map((e, i) => [i > 0 ? h('br') : null, e.label ? `${e.label}: ` : '', e.error]),
  )
}

/** @param {PublicSourceRow[]} rows */
function updatedAt(rows) {
  return rows.map((r) => r.updatedAt).reduce((a, b) => (Date.parse(b) > Date.parse(a) ? b : a))
}

/** @param {PublicSourceRow} row */
function leaseOf(row) {
  const owner = row.leaseOwner ?? row.state.leaseOwner
  const until = row.leaseUntil ?? row.state.leaseUntil
  return { owner: typeof owner === 'string' && owner ? owner : null, until: typeof until === 'string' && until ? until : null }
}

/** @param {string} id */
const findingsHref = (id) => `#/public-sources?source=${encodeURIComponent(id)}`

/** @type {Mount} */
export function mountPublicSources(main, ctx) {
  /** @type {number | undefined} */
  let timer
  let destroyed = false
  let loading = false
  let again = false
  /** @type {string | null} */
  let selected = ctx.params.get('source')
  /** Sources whose shards are open: kept across reloads. */
  const open = new Set()
  /** The leaks the findings card shows, so a change to one of them reloads it. */
  let shownLeaks = new Set()

  const summary = h('p', { class: 'muted', 'data-testid': 'sources-summary', 'aria-live': 'polite' })
  const notices = h('div', {})
  const body = h('div', {}, h('p', { class: 'loading', role: 'status', 'data-testid': 'sources-loading' }, 'Loading public sources…'))
  const findings = h('div', { 'data-testid': 'source-findings-box' })

  replace(
    main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Public sources'), h('button', { type: 'button', class: 'btn', onclick: () => load(), 'data-testid': 'sources-refresh' }, 'Refresh')),
    summary,
    notices,
    h('section', { class: 'card', 'aria-label': 'Public sources' }, body),
    findings,
  )

  /**
   * A source's row, and when it runs as shards, the toggle that opens one row a shard beneath.
   * @param {SourceGroup} g
   * @returns {HTMLElement[]}
   */
  function rows(g) {
    const all = rowsOf(g)
    const sharded = g.shards.length > 0
    const errors = [
      ...(g.own?.lastError ? [{ label: '', error: g.own.lastError }] : []),
      ...g.shards.filter((s) => s.row.lastError).map((s) => ({ label: `shard ${s.k}/${s.n}`, error: String(s.row.lastError) })),
    ]
    const shardsId = `shards-${g.id.replace(/[^A-Za-z0-9_-]/g, '_')}`
    const toggle = sharded
      ? h('button', {
          type: 'button', class: 'btn btn-small', 'aria-expanded': String(open.has(g.id)), 'aria-controls': shardsId, 'data-testid': 'source-shards-toggle',
          onclick: () => {
            if (open.has(g.id)) open.delete(g.id)
            else open.add(g.id)
            const shown = open.has(g.id)
            toggle?.setAttribute('aria-expanded', String(shown))
            for (const tr of main.querySelectorAll(`[data-shard-of="${CSS.escape(g.id)}"]`)) tr.toggleAttribute('hidden', !shown)
          },
        }, `${g.shards.length} shards`)
      : null
    const head = h(
      'tr',
      { 'data-testid': 'source-row', 'data-source-id': g.id, 'data-failing': String(errors.length > 0), class: `${errors.length > 0 ? 'source-failing' : ''} ${selected === g.id ? 'source-selected' : ''}`.trim() || false },
      h('th', { scope: 'row', 'data-label': 'Source' }, h('span', { class: 'source-name' }, h('code', {}, g.id), toggle ? [' ', toggle] : null)),
      h('td', { 'data-label': 'Cursor' }, sharded && !g.own ? h('span', { class: 'muted' }, 'a cursor a shard') : cursorCell(g.own?.cursor ?? null)),
      h('td', { 'data-label': 'Lag' }, lagCell(all)),
      h('td', { 'data-label': 'Rate-limit budget' }, budgetCell(all)),
      h('td', { 'data-label': 'Next poll' }, nextPollCell(all)),
      h('td', { 'data-label': 'Scanned' }, scannedCell(all)),
      h('td', { 'data-label': 'Last error', class: 'source-error-cell' }, errorCell(errors)),
      h('td', { 'data-label': 'Updated' }, timeEl(updatedAt(all))),
      h('td', { 'data-label': '' }, h('a', { class: 'btn btn-small', href: findingsHref(g.id), 'data-testid': 'source-findings-link', 'aria-current': selected === g.id ? 'true' : false }, 'Findings')),
    )
    const shardRows = g.shards.map((s) => {
      const lease = leaseOf(s.row)
      return h(
        'tr',
        { class: 'shard-row', id: s.k === g.shards[0]?.k ? shardsId : false, hidden: !open.has(g.id), 'data-shard-of': g.id, 'data-testid': 'shard-row', 'data-source-id': s.row.sourceId },
        h('th', { scope: 'row', 'data-label': 'Shard' }, h('span', { class: 'shard-name' }, `shard ${s.k}/${s.n}`), lease.owner ? h('div', { class: 'muted small wrap-anywhere', 'data-testid': 'shard-lease' }, `held by ${lease.owner}`, lease.until ? [' until ', timeEl(lease.until)] : null) : h('div', { class: 'muted small' }, 'not held')),
        h('td', { 'data-label': 'Cursor' }, cursorCell(s.row.cursor)),
        h('td', { 'data-label': 'Lag' }, lagCell([s.row])),
        h('td', { 'data-label': 'Rate-limit budget' }, budgetCell([s.row])),
        h('td', { 'data-label': 'Next poll' }, nextPollCell([s.row])),
        h('td', { 'data-label': 'Scanned' }, scannedCell([s.row])),
        h('td', { 'data-label': 'Last error', class: 'source-error-cell' }, errorCell(s.row.lastError ? [{ label: '', error: s.row.lastError }] : [])),
        h('td', { 'data-label': 'Updated' }, timeEl(s.row.updatedAt)),
        h('td', { 'data-label': '' }),
      )
    })
    return [head, ...shardRows]
  }

  /**
   * What to do when no source has run, or no hash is registered.
   * @param {number | null} issued the issued-token hashes registered; null when this key may not read it
   */
  function howToStart(issued) {
    return h(
      'div',
      { class: 'empty', 'data-testid': 'sources-empty' },
      h('p', { class: 'empty-title' }, 'No public source has run yet.'),
      h('p', { class: 'muted' }, 'Start a watcher on the control plane\'s store, such as ', h('code', {}, 'leakgate watch github-events'), ' (or gharchive, github-gists, github-code-search, gitlab-events, paste-feed, npm, pypi). Its state shows here after its first batch; see docs/public-sources.md.'),
      h('p', { class: 'muted' }, 'Watchers keep only your own tokens: those whose SHA-256 is registered (', h('code', {}, 'POST /v1/issued-hashes'), ' with an admin key, one hash a line) and those matching your rules (', h('code', {}, '--rules FILE'), ').'),
      issued === null ? null : h('p', { 'data-testid': 'issued-hashes-count' }, `${issued.toLocaleString('en')} issued-token ${issued === 1 ? 'hash' : 'hashes'} registered.`),
    )
  }

  /** The issued-token hashes registered, for an admin key (the only one that may read the count). */
  async function issuedCount() {
    if (ctx.session.role !== 'admin') return null
    try {
      return /** @type {{ total: number }} */ (await api('/v1/issued-hashes')).total
    } catch (err) {
      if (err instanceof ApiError && err.status === 403) return null
      throw err
    }
  }

  async function load() {
    if (loading) {
      again = true
      return
    }
    loading = true
    clearTimeout(timer)
    try {
      const [list, issued] = await Promise.all([api('/v1/public-sources'), issuedCount()])
      if (destroyed) return
      const groups = groupSources(/** @type {{ items: PublicSourceRow[] }} */ (list).items ?? [])
      const failing = groups.filter((g) => rowsOf(g).some((r) => r.lastError)).length
      replace(
        summary,
        `${groups.length} source${groups.length === 1 ? '' : 's'} · ${failing} failing`,
        issued === null ? '' : ` · ${issued.toLocaleString('en')} issued-token ${issued === 1 ? 'hash' : 'hashes'} registered`,
      )
      replace(notices, issued === 0 && groups.length > 0
        ? h('p', { class: 'notice notice-info', 'data-testid': 'issued-hashes-none' }, 'No issued-token hash is registered: the watchers find only the formats of your own rules. Register the SHA-256 of each live token you issued with ', h('code', {}, 'POST /v1/issued-hashes'), ' (docs/public-sources.md).')
        : null)
      if (groups.length === 0) {
        replace(body, howToStart(issued))
      } else {
        // Failing sources first: they are what needs attention.
        groups.sort((a, b) => Number(rowsOf(b).some((r) => r.lastError)) - Number(rowsOf(a).some((r) => r.lastError)) || a.id.localeCompare(b.id))
        replace(
          body,
          h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'nodes sources', 'data-testid': 'sources-table' },
              h('caption', { class: 'visually-hidden' }, 'Public sources and their state'),
              h('thead', {}, h('tr', {}, ['Source', 'Cursor', 'Lag', 'Rate-limit budget', 'Next poll', 'Scanned', 'Last error', 'Updated', ''].map((c) => h('th', { scope: 'col' }, c)))),
              h('tbody', {}, groups.map(rows)),
            ),
          ),
        )
      }
    } catch (err) {
      if (!destroyed) replace(body, errorBox(err, () => load(), 'sources-error'))
    } finally {
      loading = false
    }
    if (destroyed) return
    await loadFindings()
    if (again) {
      again = false
      load()
      return
    }
    timer = window.setTimeout(load, REFRESH_MS)
  }

  /** The card of the selected source's findings (none when no source is selected). */
  async function loadFindings() {
    const id = selected
    if (id === null) {
      shownLeaks = new Set()
      replace(findings)
      return
    }
    try {
      const res = /** @type {{ items: PublicFinding[] }} */ (await api(`/v1/public-sources/${encodeURIComponent(id)}/findings?limit=${FINDINGS_SHOWN}`))
      if (destroyed || selected !== id) return
      shownLeaks = new Set(res.items.map((f) => f.leakId))
      replace(findings, h(
        'section',
        { class: 'card', 'aria-labelledby': 'findings-title', 'data-testid': 'source-findings', 'data-source-id': id },
        h('div', { class: 'page-head' }, h('h2', { id: 'findings-title' }, 'Leaks found by ', h('code', {}, id)), h('a', { href: '#/public-sources', class: 'btn btn-small' }, 'Close')),
        res.items.length === 0
          ? h('p', { class: 'muted', 'data-testid': 'source-findings-empty' }, 'No leak of ours found by this source yet.')
          : h('div', { class: 'table-wrap' }, h(
              'table',
              { class: 'nodes findings', 'data-testid': 'source-findings-table' },
              h('thead', {}, h('tr', {}, ['Leak', 'Risk', 'Status', 'Public place', 'Places', 'Seen'].map((c) => h('th', { scope: 'col', class: c === 'Places' ? 'num' : false }, c)))),
              h('tbody', {}, res.items.map((f) => h(
                'tr',
                { 'data-testid': 'finding-row', 'data-leak-id': String(f.leakId) },
                h('th', { scope: 'row', 'data-label': 'Leak' }, h('a', { href: `#/leaks/${f.leakId}`, class: 'leak-title wrap-anywhere', 'data-testid': 'finding-link' }, f.title || `Leak ${f.leakId}`)),
                h('td', { 'data-label': 'Risk' }, riskBadge(f.risk)),
                h('td', { 'data-label': 'Status' }, statusBadge(f.status)),
                h('td', { 'data-label': 'Public place' }, placeLink(f.location, 'finding-place')),
                h('td', { 'data-label': 'Places', class: 'num' }, String(f.places)),
                h('td', { 'data-label': 'Seen' }, timeEl(f.seenAt)),
              ))),
            )),
        res.items.length === FINDINGS_SHOWN ? h('p', { class: 'muted small' }, `The ${FINDINGS_SHOWN} seen last. The leak list shows them all by their source.`) : null,
      ))
    } catch (err) {
      if (destroyed || selected !== id) return
      if (err instanceof ApiError && err.status === 404) replace(findings, h('p', { class: 'notice notice-info', 'data-testid': 'source-findings-missing' }, `There is no public source ${id}.`))
      else replace(findings, errorBox(err, () => loadFindings(), 'source-findings-error'))
    }
  }

  /** Marks the selected source's row. */
  function markSelected() {
    for (const tr of main.querySelectorAll('[data-testid=source-row]')) {
      const mine = tr.getAttribute('data-source-id') === selected
      tr.classList.toggle('source-selected', mine)
      const link = tr.querySelector('[data-testid=source-findings-link]')
      if (mine) link?.setAttribute('aria-current', 'true')
      else link?.removeAttribute('aria-current')
    }
  }

  load()
  return {
    /** @param {PageContext} next */
    update(next) {
      selected = next.params.get('source')
      markSelected()
      loadFindings()
    },
    live(change) {
      // A new leak may be a source's find; a change to a leak shown changes its row.
      if (change === 'reset' || change.some((e) => e.type === 'leak.created' || (e.leakId !== null && shownLeaks.has(e.leakId)))) load()
    },
    destroy() {
      destroyed = true
      clearTimeout(timer)
    },
  }
}

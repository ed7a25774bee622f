// @ts-check
// One leak: its tokens, where it was found, its risk and why, the decisions an admin can take, the
// audit trail and the sightings timeline.
import { api, ApiError } from './api.js'
import { absolute, actionBadge, announce, errorBox, h, replace, riskBadge, rotationBadge, safeHref, statusBadge, statusLabel, timeEl } from './dom.js'
import { changeText } from './audit.js'
import { confirmDialog } from './confirm-dialog.js'
import { showEnforcement } from './enforcement.js'
import { overviewLink } from './filters.js'
import { actions, risks, statuses } from './meta.js'
import { placeLink } from './public-sources.js'
/** @import { Decision, FoundWith, LeakDetail, LeakLocation, LeakToken, PublicPlace, Sighting } from '../../types/api.js' */
/** @import { Child } from './dom.js' */
/** @import { PageContext, View } from '../../types/views.js' */

/**
 * A change an admin can make: its PATCH body, and what the announcement says once it is made.
 * @typedef {{ body: { action?: string, status?: string, risk?: string }, done: string }} Change
 */
/**
 * A decision button; `applies` says when it would change something.
 * @typedef {Change & { id: string, label: string, applies: (leak: LeakDetail) => boolean, tone?: string }} DecisionButton
 */

// The actions and statuses come from the control plane; these are only the words for the known ones.
// A value without words still gets a button, named by its value.
/** @type {Record<string, { label: string, done: string, tone?: string }>} */
const ACTION_WORDS = {
  block: { label: 'Block', done: 'is blocked', tone: 'danger' },
  monitor: { label: 'Monitor', done: 'is now monitored (requests pass, sightings recorded)' },
}
/** @type {Record<string, { id: string, label: string, done: string }>} */
const STATUS_WORDS = {
  false_positive: { id: 'false-positive', label: 'False positive', done: 'is marked a false positive' },
  closed: { id: 'close', label: 'Close', done: 'is closed' },
  open: { id: 'reopen', label: 'Reopen', done: 'is open again' },
}

/**
 * One button per action, then one per status, in the control plane's order.
 * @returns {DecisionButton[]}
 */
function decisionButtons() {
  /** @type {DecisionButton[]} */
  const byAction = actions().map((action) => {
    const words = ACTION_WORDS[action]
    /** @type {DecisionButton} */
    const d = { id: action, label: words?.label ?? action, body: { action }, applies: (l) => l.action !== action, done: words?.done ?? `now has action ${action}` }
    if (words?.tone) d.tone = words.tone
    return d
  })
  /** @type {DecisionButton[]} */
  const byStatus = statuses().map((status) => {
    const words = STATUS_WORDS[status]
    return { id: words?.id ?? status, label: words?.label ?? statusLabel(status), body: { status }, applies: (l) => l.status !== status, done: words?.done ?? `now has status ${statusLabel(status)}` }
  })
  return [...byAction, ...byStatus]
}

/**
 * @param {string} label
 * @param {Child} value
 */
function field(label, value) {
  return [h('dt', {}, label), h('dd', {}, value ?? h('span', { class: 'muted' }, '—'))]
}

/**
 * A link opening in a new tab, for an http(s) address only; any other address is shown as text.
 * @param {string} url
 * @param {string} testid
 */
function outLink(url, testid) {
  const href = safeHref(url)
  return href ? h('a', { href, target: '_blank', rel: 'noopener noreferrer', 'data-testid': testid }, url) : url
}

/**
 * Where a leak was found (repository, its address, file and line, branch, commit, the link to the
 * line), and the other leaks a scan found in the same file at the same commit.
 * @param {LeakLocation | undefined} location
 * @param {FoundWith[]} [foundWith]
 */
function whereFound(location, foundWith = []) {
  /** @type {LeakLocation} */
  const loc = Object.fromEntries(Object.entries(location ?? {}).filter(([, v]) => v !== null && v !== undefined && v !== ''))
  return h(
    'dl',
    { class: 'facts', 'data-testid': 'location' },
    loc.repo ? field('Repository', loc.repo) : null,
    loc.repoUrl ? field(loc.repo ? 'Address' : 'Repository', outLink(loc.repoUrl, 'location-repo-url')) : null,
    loc.path ? field('File', h('code', {}, loc.line ? `${loc.path}:${loc.line}` : loc.path)) : null,
    loc.branch ? field('Branch', loc.branch) : null,
    loc.commit ? field('Commit', h('code', {}, loc.commit)) : null,
    loc.url ? field('Link', outLink(loc.url, 'location-link')) : null,
    Object.keys(loc).length === 0 ? h('p', { class: 'muted' }, 'No location recorded.') : null,
    foundWith.length === 0 ? null : field('Found with', h(
      'ul',
      { class: 'found-with', 'data-testid': 'found-with' },
      foundWith.map((f) => h('li', {}, h('a', { href: `#/leaks/${f.id}`, 'data-testid': 'found-with-link' }, f.title || `Leak ${f.id}`), f.status === 'open' ? null : h('span', { class: 'muted small' }, ` (${statusLabel(f.status)})`))),
    )),
  )
}

/**
 * An ordered list of `items`, or a muted line saying there are none.
 * @template T
 * @param {T[]} items
 * @param {{ class: string, testid: string, empty: string, emptyTestid: string }} o
 * @param {(item: T) => HTMLElement} item
 */
function listOrNone(items, o, item) {
  if (items.length === 0) return h('p', { class: 'muted', 'data-testid': o.emptyTestid }, o.empty)
  return h('ol', { class: o.class, 'data-testid': o.testid }, items.map(item))
}

/** @param {Decision[]} [decisions] */
function auditTrail(decisions = []) {
  return listOrNone(decisions, { class: 'audit', testid: 'audit-trail', empty: 'No decisions yet.', emptyTestid: 'audit-empty' }, (d) =>
    h(
      'li',
      { 'data-testid': 'audit-entry' },
      h('div', { class: 'audit-change' }, changeText(d.from, d.to)),
      h('div', { class: 'audit-meta muted small' }, h('code', {}, d.actor), ' · ', timeEl(d.at)),
      d.comment ? h('blockquote', { class: 'audit-comment' }, d.comment) : null,
    ),
  )
}

/** @param {Sighting[]} [sightings] */
function timeline(sightings = []) {
  return listOrNone(sightings, { class: 'timeline', testid: 'sightings', empty: 'No node has seen these tokens in a request.', emptyTestid: 'sightings-empty' }, (s) =>
    h(
      'li',
      { class: `timeline-item timeline-${s.verdict}`, 'data-testid': 'sighting', 'data-verdict': s.verdict },
      h('span', { class: 'timeline-dot', 'aria-hidden': 'true' }),
      h(
        'div',
        {},
        h('div', {}, h('span', { class: `badge verdict verdict-${s.verdict}` }, s.verdict), ' ', h('code', {}, `${s.method ?? ''} ${s.route ?? ''}`.trim() || '—'), s.host ? h('span', { class: 'muted' }, ` on ${s.host}`) : null),
        h('div', { class: 'muted small' }, 'node ', h('code', {}, s.nodeId ?? s.node ?? '—'), s.client ? ` · client ${s.client}` : '', ' · ', h('time', { datetime: s.at, title: absolute(s.at) }, absolute(s.at))),
      ),
    ),
  )
}

/** The public places the API gives at most. */
const PUBLIC_PLACES_SHOWN = 100

/**
 * Where the public sources saw the leak's token (GitHub's pushes, gists, pastes, packages...), first
 * seen first; null when they saw it nowhere, so a leak added by hand has no empty section.
 * @param {PublicPlace[]} places
 */
function publicPlaces(places) {
  if (places.length === 0) return null
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'public-places-title', 'data-testid': 'public-places' },
    h('h2', { id: 'public-places-title' }, `Public places (${places.length}${places.length >= PUBLIC_PLACES_SHOWN ? '+' : ''})`),
    h('ol', { class: 'public-places' }, places.map((p) => h(
      'li',
      { 'data-testid': 'public-place', 'data-source-id': p.sourceId },
      placeLink(p.location, 'public-place-link'),
      h('div', { class: 'muted small' }, h('a', { href: `#/public-sources?source=${encodeURIComponent(p.sourceId.replace(/#\d+\/\d+$/, ''))}` }, p.sourceId), p.location.commit ? [' · commit ', h('code', {}, p.location.commit.slice(0, 12))] : null, ' · seen ', timeEl(p.seenAt)),
    ))),
  )
}

/** @param {LeakToken[]} [tokens] */
function tokensTable(tokens = []) {
  if (tokens.length === 0) return h('p', { class: 'muted' }, 'No tokens.')
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'tokens', 'data-testid': 'tokens' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Preview'), h('th', { scope: 'col' }, 'SHA-256'), h('th', { scope: 'col' }, 'Kind'))),
      h(
        'tbody',
        {},
        tokens.map((t) =>
          h(
            'tr',
            { 'data-testid': 'token-row' },
            h('td', { 'data-label': 'Preview' }, h('code', {}, t.preview || '…')),
            h('td', { 'data-label': 'SHA-256' }, h('code', { class: 'hash', 'data-testid': 'token-sha256' }, t.sha256)),
            h('td', { 'data-label': 'Kind' }, t.kind ? h('code', {}, t.kind) : '—'),
          ),
        ),
      ),
    ),
  )
}

/**
 * One leak's page (`#/leaks/12`).
 * @param {HTMLElement} main
 * @param {PageContext & { id: number }} ctx
 * @returns {View}
 */
export function mountDetail(main, ctx) {
  const { id, session } = ctx
  let destroyed = false
  const isAdmin = session.role === 'admin'
  // Asking the issuer for a rotation is an analyst's call as much as an admin's.
  const canRequestRotation = session.role === 'admin' || session.role === 'analyst'

  /** @type {LeakDetail | null} */
  let current = null
  /** @type {PublicPlace[]} */
  let places = []

  /**
   * @param {LeakDetail} leak
   * @param {unknown} failure the last decision's error, shown in the panel
   * @param {string} commentText
   */
  function decisionPanel(leak, failure, commentText) {
    const reasonId = 'decision-reason'
    const comment = h('textarea', { id: 'decision-comment', name: 'comment', rows: '2', maxlength: '1000', disabled: !isAdmin, 'data-testid': 'decision-comment', placeholder: 'Why (kept in the audit trail)', value: commentText })
    const error = h('div', { id: 'decision-error', tabindex: '-1', 'data-testid': 'decision-error' }, failure ? errorBox(failure) : null)
    const riskSelect = h('select', { id: 'decision-risk', disabled: !isAdmin, 'data-testid': 'decision-risk' }, risks().map((r) => h('option', { value: r, selected: r === leak.risk }, r)))
    const buttons = decisionButtons().map((d) =>
      h(
        'button',
        {
          type: 'button',
          class: `btn ${d.tone === 'danger' ? 'btn-danger' : ''}`,
          'data-testid': `decision-${d.id}`,
          disabled: !isAdmin || !d.applies(leak),
          'aria-describedby': isAdmin ? false : reasonId,
          title: !isAdmin ? 'Needs an admin key' : d.applies(leak) ? false : 'Already so',
          onclick: () => decide(d, comment, error, buttons),
        },
        d.label,
      ),
    )
    return h(
      'section',
      { class: 'card decisions', 'aria-labelledby': 'decisions-title', 'data-testid': 'decisions' },
      h('h2', { id: 'decisions-title' }, 'Decision'),
      isAdmin
        ? null
        : h('p', { id: reasonId, class: 'notice notice-info', 'data-testid': 'decision-disabled-reason' }, `You are signed in with an ${session.role} key, which can read but not decide. Sign in with an admin key to block, monitor, close or reopen a leak.`),
      h('label', { for: 'decision-comment' }, 'Comment'),
      comment,
      h('div', { class: 'button-row', role: 'group', 'aria-label': 'Decisions' }, buttons),
      h(
        'div',
        { class: 'risk-override' },
        h('label', { for: 'decision-risk' }, 'Risk'),
        h(
          'div',
          { class: 'inline' },
          riskSelect,
          h('button', { type: 'button', class: 'btn', 'data-testid': 'decision-set-risk', disabled: !isAdmin, 'aria-describedby': isAdmin ? false : reasonId, onclick: () => decide({ body: { risk: riskSelect.value }, done: `now has risk ${riskSelect.value}` }, comment, error, [...buttons, riskSelect]) }, 'Set risk'),
        ),
      ),
      error,
    )
  }

  /**
   * The leak's rotation: its state, and the request to the credential's issuer.
   * @param {LeakDetail} leak
   * @param {unknown} failure the last request's error
   * @param {string} commentText
   */
  function rotationPanel(leak, failure, commentText) {
    const requestable = leak.status === 'open' && leak.rotation !== 'requested'
    const why = !canRequestRotation
      ? `Needs an analyst or admin key`
      : leak.rotation === 'requested' ? 'Already requested' : leak.status !== 'open' ? 'Only an open leak\'s rotation can be requested' : false
    const comment = h('textarea', { id: 'rotation-comment', name: 'comment', rows: '2', maxlength: '1000', disabled: !canRequestRotation || !requestable, 'data-testid': 'rotation-comment', placeholder: 'For the issuer (kept in the audit trail)', value: commentText })
    const error = h('div', { id: 'rotation-error', tabindex: '-1', 'data-testid': 'rotation-error' }, failure ? errorBox(failure) : null)
    const button = h('button', { type: 'button', class: 'btn btn-danger', 'data-testid': 'request-rotation', disabled: !canRequestRotation || !requestable, title: why, onclick: () => requestRotation(comment, error, button) }, 'Request rotation')
    /** @type {Record<string, string>} */
    const stateText = {
      requested: 'The credential\'s issuer was asked to rotate it. The leak stays open and enforced until the issuer confirms.',
      rotated: 'The issuer confirmed the credential was rotated; the leak was closed.',
    }
    return h(
      'section',
      { class: 'card rotation', 'aria-labelledby': 'rotation-title', 'data-testid': 'rotation' },
      h('h2', { id: 'rotation-title' }, 'Rotation ', rotationBadge(leak.rotation)),
      h('p', { class: 'muted', 'data-testid': 'rotation-state', 'data-rotation': leak.rotation ?? 'none' }, leak.rotation ? (stateText[leak.rotation] ?? leak.rotation) : 'No rotation requested.'),
      h(
        'dl',
        { class: 'facts' },
        leak.rotationRequestedAt ? field('Requested', timeEl(leak.rotationRequestedAt)) : null,
        leak.rotatedAt ? field('Rotated', timeEl(leak.rotatedAt)) : null,
      ),
      h('label', { for: 'rotation-comment' }, 'Comment'),
      comment,
      h('div', { class: 'button-row' }, button),
      error,
    )
  }

  /**
   * @param {HTMLTextAreaElement} comment
   * @param {HTMLElement} error
   * @param {HTMLButtonElement} button
   */
  async function requestRotation(comment, error, button) {
    button.disabled = true
    replace(error)
    const text = comment.value.trim()
    try {
      const leak = /** @type {LeakDetail} */ (await api(`/v1/leaks/${id}/request-rotation`, { method: 'POST', body: text ? { comment: text } : {} }))
      if (destroyed) return
      render(leak)
      announce(`Rotation of leak ${id} requested from its issuer.`, 'success')
    } catch (err) {
      if (destroyed) return
      if (current) render(current, undefined, '', err, text)
      document.getElementById('rotation-error')?.focus()
    }
  }

  /**
   * @param {Change} d
   * @param {HTMLTextAreaElement} comment
   * @param {HTMLElement} error
   * @param {(HTMLButtonElement | HTMLSelectElement)[]} buttons
   */
  async function decide(d, comment, error, buttons) {
    const blocking = d.body.action === 'block'
    const before = current
    // Blocking refuses the credential's requests at every node: it is confirmed first, and undoable.
    if (blocking && !(await confirmDialog({
      title: `Block leak ${id}?`,
      message: 'Every node will refuse requests that carry this leak\'s credentials. You can undo it for a few seconds after.',
      confirm: 'Block',
      danger: true,
    }))) return
    if (destroyed) return
    for (const b of buttons) b.disabled = true
    replace(error)
    /** @type {Change['body'] & { comment?: string }} */
    const body = { ...d.body }
    const text = comment.value.trim()
    if (text) body.comment = text
    try {
      const leak = /** @type {LeakDetail & { revision?: number }} */ (await api(`/v1/leaks/${id}`, { method: 'PATCH', body }))
      if (destroyed) return
      render(leak)
      if (blocking && typeof leak.revision === 'number') {
        const previous = before?.action ?? 'monitor'
        showEnforcement({
          revision: leak.revision, pending: 'Blocking', done: 'Blocked', subject: `Leak ${id}`,
          undo: async () => {
            const back = /** @type {LeakDetail & { revision?: number }} */ (await api(`/v1/leaks/${id}`, { method: 'PATCH', body: { action: previous, comment: 'Undo of the block' } }))
            if (!destroyed) render(back)
            showEnforcement({ revision: back.revision ?? 0, pending: 'Undoing', done: 'Block undone', subject: `Leak ${id}` })
          },
        })
      } else {
        announce(`Leak ${id} ${d.done}.`, 'success')
      }
    } catch (err) {
      if (destroyed) return
      // Redraw from the last known state (buttons enabled as they were), with the error and the comment kept.
      if (current) render(current, err, text)
      document.getElementById('decision-error')?.focus()
    }
  }

  /**
   * @param {LeakDetail} leak
   * @param {unknown} [failure]
   * @param {string} [commentText]
   * @param {unknown} [rotationFailure]
   * @param {string} [rotationComment]
   */
  function render(leak, failure, commentText = '', rotationFailure = undefined, rotationComment = '') {
    current = leak
    const factors = leak.riskFactors ?? []
    replace(
      main,
      h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: overviewLink(), 'data-testid': 'back-to-list' }, '← Leaks')),
      h(
        'div',
        { class: 'page-head', 'data-testid': 'leak-detail', 'data-leak-id': String(leak.id) },
        h('h1', {}, leak.title || `Leak ${leak.id}`),
        h('div', { class: 'badges' }, riskBadge(leak.risk), statusBadge(leak.status), actionBadge(leak.action), rotationBadge(leak.rotation)),
      ),
      h(
        'p',
        { class: 'muted' },
        `#${leak.id} · ${leak.source}`,
        leak.kind ? ' · ' : '',
        leak.kind ? h('code', {}, leak.kind) : null,
        ` · ${leak.hits ?? 0} ${(leak.hits ?? 0) === 1 ? 'hit' : 'hits'} · last seen `,
        timeEl(leak.lastSeenAt),
        ' · found ',
        timeEl(leak.createdAt),
      ),
      h(
        'div',
        { class: 'detail-grid' },
        h(
          'div',
          { class: 'detail-main' },
          h('section', { class: 'card', 'aria-labelledby': 'tokens-title' }, h('h2', { id: 'tokens-title' }, `Tokens (${(leak.tokens ?? []).length})`), tokensTable(leak.tokens)),
          h('section', { class: 'card', 'aria-labelledby': 'where-title' }, h('h2', { id: 'where-title' }, 'Where it was found'), whereFound(leak.location, leak.foundWith)),
          publicPlaces(places),
          h(
            'section',
            { class: 'card', 'aria-labelledby': 'risk-title', 'data-testid': 'risk' },
            h('h2', { id: 'risk-title' }, 'Risk ', riskBadge(leak.risk), leak.riskOverridden ? h('span', { class: 'muted small' }, ' (set by an operator)') : null),
            factors.length === 0
              ? h('p', { class: 'muted' }, 'No factors recorded.')
              : h('div', { class: 'table-wrap' }, h(
                  'table',
                  { class: 'factors', 'data-testid': 'risk-factors' },
                  h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Factor'), h('th', { scope: 'col', class: 'num' }, 'Points'), h('th', { scope: 'col' }, 'Why'))),
                  h('tbody', {}, factors.map((f) => h('tr', {}, h('td', {}, h('code', {}, f.factor)), h('td', { class: 'num' }, (f.points > 0 ? '+' : '') + f.points), h('td', {}, f.detail ?? '')))),
                )),
          ),
          h('section', { class: 'card', 'aria-labelledby': 'sightings-title' }, h('h2', { id: 'sightings-title' }, 'Sightings'), timeline(leak.sightings)),
        ),
        h(
          'div',
          { class: 'detail-side' },
          decisionPanel(leak, failure, commentText),
          rotationPanel(leak, rotationFailure, rotationComment),
          h('section', { class: 'card', 'aria-labelledby': 'audit-title' }, h('h2', { id: 'audit-title' }, 'Audit trail'), auditTrail(leak.decisions)),
        ),
      ),
    )
  }

  /**
   * The leak's public places; none when they cannot be read (the page shows the leak without them).
   * @returns {Promise<PublicPlace[]>}
   */
  async function loadPlaces() {
    try {
      return /** @type {{ items: PublicPlace[] }} */ (await api(`/v1/leaks/${id}/public-places`)).items ?? []
    } catch {
      return []
    }
  }

  async function load() {
    replace(main, h('p', { class: 'loading', role: 'status', 'data-testid': 'detail-loading' }, `Loading leak ${id}…`))
    try {
      const [leak, seen] = await Promise.all([/** @type {Promise<LeakDetail>} */ (api(`/v1/leaks/${id}`)), loadPlaces()])
      places = seen
      if (!destroyed) render(leak)
    } catch (err) {
      if (destroyed) return
      if (err instanceof ApiError && err.status === 404) {
        replace(main, h('h1', {}, 'Leak not found'), h('p', { 'data-testid': 'detail-missing' }, `There is no leak ${id}. `, h('a', { href: '#/' }, 'Back to the list')))
      } else {
        replace(main, h('h1', {}, `Leak ${id}`), errorBox(err, () => load(), 'detail-error'))
      }
    }
  }

  /** Reloads the leak in place after a change made elsewhere, keeping comments being typed. */
  async function refresh() {
    try {
      const [leak, seen] = await Promise.all([/** @type {Promise<LeakDetail>} */ (api(`/v1/leaks/${id}`)), loadPlaces()])
      if (destroyed || !current) return
      places = seen
      const typed = (/** @type {string} */ name) => {
        const el = main.querySelector(`[data-testid="${name}"]`)
        return el instanceof HTMLTextAreaElement ? el.value : ''
      }
      const focused = document.activeElement?.getAttribute('data-testid')
      render(leak, undefined, typed('decision-comment'), undefined, typed('rotation-comment'))
      const again = focused ? main.querySelector(`[data-testid="${focused}"]`) : null
      if (again instanceof HTMLElement) again.focus()
    } catch {
      // The next change (or a manual reload) tries again; what is shown stays.
    }
  }

  load()
  return {
    live(change) {
      if (change === 'reset' || change.some((e) => e.leakId === id)) refresh()
    },
    destroy() {
      destroyed = true
    },
  }
}

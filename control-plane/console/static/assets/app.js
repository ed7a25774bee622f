// @ts-check
// The console's entry point: sign-in, the page shell and a hash router.
//   #/            overview: charts and the leak list (filters in the query: #/?risk=high)
//   #/leaks/12    one leak
//   #/new         add a leak by hand
//   #/nodes       the node fleet
//   #/public-sources  the public-source watchers' state, and a source's findings (?source=github-events)
//   #/audit       every decision, newest first
//   #/check       check a token: is it leaked? (hashed here; only 5 characters of its hash are sent)
//   #/webhooks    webhook endpoints and their deliveries (admins)
//   #/keys        API keys: list, create, revoke, rotate (admins)
//   #/signed-in   where the OpenID Connect callback sends the browser: the session is taken, then #/
import { api, ApiError, clearKey, completeSignIn, endSession, getKey, keyFromOtherTabs, onSignedOutElsewhere, onUnauthorized, setKey, signInProvider } from './api.js'
import { errorBox, h, replace } from './dom.js'
import { clearMeta, setMeta } from './meta.js'
import { mountOverview } from './overview.js'
import { mountDetail } from './leak-detail.js'
import { mountAddLeak } from './add-leak.js'
import { mountNodes } from './nodes.js'
import { mountPublicSources } from './public-sources.js'
import { mountAudit } from './audit.js'
import { mountCheck } from './check.js'
import { mountWebhooks } from './webhooks.js'
import { mountKeys } from './keys.js'
import { rememberOverview } from './filters.js'
import { followChanges } from './live.js'
/** @import { Meta, Session } from '../../types/api.js' */
/** @import { Mount, PageContext, View } from '../../types/views.js' */

const root = getRoot()
/** @type {Session | null} */
let session = null
/** @type {{ name: string, view: View | null } | null} */
let current = null
let signinMessage = ''
/** @type {(() => void) | null} stops following live changes */
let stopFollowing = null
let liveConnected = false

/** Follows the control plane's live changes while signed in, and hands them to the page on screen. */
function startFollowing() {
  if (stopFollowing) return
  stopFollowing = followChanges(
    (change) => current?.view?.live?.(change),
    (connected) => {
      liveConnected = connected
      showLive()
    },
  )
}

function stopFollowingChanges() {
  stopFollowing?.()
  stopFollowing = null
  liveConnected = false
}

/** The header's mark of whether pages update by themselves. */
function showLive() {
  const mark = document.querySelector('[data-testid="live-status"]')
  if (!mark) return
  mark.textContent = liveConnected ? 'Live' : 'Not live'
  mark.className = liveConnected ? 'live live-on' : 'live live-off'
  mark.setAttribute('title', liveConnected
    ? 'Pages update by themselves as leaks, decisions and sightings change'
    : 'Live updates are reconnecting; pages show what they loaded')
}

/** @returns {HTMLElement} */
function getRoot() {
  const el = document.getElementById('app')
  if (!el) throw new Error('index.html has no #app element')
  return el
}

/**
 * Who the key is, and the lists of values the API accepts (kept for the session).
 * @param {string} [key] the key to try; the stored one when not given
 * @returns {Promise<Session>}
 */
async function loadSession(key) {
  const options = key === undefined ? {} : { key }
  // One after the other, so a refused key is seen (and signed out) once.
  const me = /** @type {Session} */ (await api('/v1/me', options))
  setMeta(/** @type {Meta} */ (await api('/v1/meta', options)))
  return me
}

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/'
  const at = raw.indexOf('?')
  const path = at === -1 ? raw : raw.slice(0, at)
  const params = new URLSearchParams(at === -1 ? '' : raw.slice(at + 1))
  return { path: path || '/', params }
}

/**
 * @param {string} path
 * @returns {{ name: string, mount: Mount } | null}
 */
function route(path) {
  if (path === '/' || path === '/leaks') return { name: 'overview', mount: mountOverview }
  const m = /^\/leaks\/(\d{1,10})$/.exec(path)
  if (m) {
    const id = Number(m[1])
    return { name: `leak-${id}`, mount: (main, ctx) => mountDetail(main, { ...ctx, id }) }
  }
  if (path === '/new') return { name: 'new', mount: mountAddLeak }
  if (path === '/nodes') return { name: 'nodes', mount: mountNodes }
  if (path === '/public-sources') return { name: 'public-sources', mount: mountPublicSources }
  if (path === '/audit') return { name: 'audit', mount: mountAudit }
  if (path === '/check') return { name: 'check', mount: mountCheck }
  if (path === '/webhooks') return { name: 'webhooks', mount: mountWebhooks }
  if (path === '/keys') return { name: 'keys', mount: mountKeys }
  return null
}

/** Whether the control plane offers OpenID Connect sign-in (asked once a page load). */
const provider = signInProvider()

/** Signs out when the person asks: their session (if they hold one) ends on the control plane too. */
async function signOutByHand() {
  await endSession()
  signOut()
}

function signOut(message = '') {
  stopFollowingChanges()
  clearKey()
  clearMeta()
  session = null
  signinMessage = message
  current?.view?.destroy?.()
  current = null
  render()
}

onUnauthorized(() => signOut(getKey()?.startsWith('lgs_')
  ? 'Your session has ended (it expired, or was signed out elsewhere). Sign in again.'
  : 'The control plane no longer accepts this key. Sign in again.'))
onSignedOutElsewhere(() => {
  stopFollowingChanges()
  clearMeta()
  session = null
  signinMessage = 'Signed out in another tab.'
  current?.view?.destroy?.()
  current = null
  render()
})

/** A new tab asks the open ones for their key once, at its start; after a sign-out it does not. */
let askOtherTabs = true

function renderSignIn() {
  current?.view?.destroy?.()
  current = null
  const error = h('div', { 'data-testid': 'signin-error', role: 'alert', class: 'signin-error' })
  if (signinMessage) error.append(errorBox({ title: signinMessage }))
  const input = h('input', {
    id: 'signin-key',
    name: 'key',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    'aria-describedby': 'signin-help',
    'data-testid': 'signin-key',
  })
  const button = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'signin-submit' }, 'Sign in')
  const form = h(
    'form',
    { class: 'signin card', 'data-testid': 'signin-form', 'aria-labelledby': 'signin-title' },
    h('div', { class: 'brand brand-large' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }), 'Leakgate'),
    h('h1', { id: 'signin-title' }, 'Sign in to the console'),
    h('label', { for: 'signin-key' }, 'API key'),
    input,
    h(
      'p',
      { id: 'signin-help', class: 'muted small' },
      'An admin or analyst key (lgk_…), made with ',
      h('code', {}, 'leakgate keys create'),
      '. It is kept for this browser tab only and sent only to this control plane.',
    ),
    error,
    button,
  )
  // Beside the key form, when the control plane has an OpenID Connect provider: a plain link, so the
  // browser goes to the provider and back as a navigation (no script needed by the CSP).
  const other = h('div', { class: 'signin-other', 'data-testid': 'signin-other' })
  form.append(other)
  provider.then((p) => {
    if (!p.enabled) return
    replace(other,
      h('p', { class: 'signin-or muted small' }, 'or'),
      h('a', { class: 'btn', href: '/auth/oidc/start', 'data-testid': 'signin-oidc' }, `Sign in with ${p.name}`),
    )
  })
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    const key = input.value.trim()
    if (!key) return
    button.disabled = true
    button.textContent = 'Signing in…'
    replace(error)
    try {
      const me = await loadSession(key)
      if (me.role !== 'admin' && me.role !== 'analyst') {
        replace(error, errorBox({ title: 'This key cannot use the console', detail: `Its role is "${me.role}"; the console needs an admin or analyst key.` }))
        return
      }
      setKey(key)
      session = me
      signinMessage = ''
      render()
    } catch (err) {
      const refused = err instanceof ApiError && (err.status === 401 || err.status === 403)
      // A known key whose role may not sign in (a checker key, which only checks tokens) is told so.
      const detail = err instanceof ApiError && err.status === 403
        ? 'This key\'s role cannot use the console (a checker key only checks tokens: use leakgate check). Sign in with an admin or analyst key.'
        : 'The control plane does not know this key. Check it and try again.'
      replace(error, errorBox(refused ? { title: 'Key refused', detail, status: err.status } : err))
    } finally {
      button.disabled = false
      button.textContent = 'Sign in'
    }
  })
  replace(root, h('main', { class: 'signin-page', id: 'main' }, form))
  input.focus()
}

/**
 * @param {string} href
 * @param {string} label
 * @param {boolean} active
 */
function navLink(href, label, active) {
  return h('a', { href, class: active ? 'nav-link active' : 'nav-link', 'aria-current': active ? 'page' : false }, label)
}

/**
 * @param {Session} session
 * @param {string} routeName
 */
function shell(session, routeName) {
  const main = h('main', { id: 'main', class: 'content', tabindex: '-1' })
  const header = h(
    'header',
    { class: 'topbar' },
    h('a', { class: 'skip-link', href: '#main', onclick: (e) => { e.preventDefault(); main.focus() } }, 'Skip to content'),
    h('a', { class: 'brand', href: '#/' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }), 'Leakgate'),
    h(
      'nav',
      { 'aria-label': 'Main' },
      navLink('#/', 'Leaks', routeName === 'overview' || routeName.startsWith('leak-')),
      session.role === 'admin' ? navLink('#/new', 'Add leak', routeName === 'new') : null,
      navLink('#/nodes', 'Nodes', routeName === 'nodes'),
      navLink('#/public-sources', 'Public sources', routeName === 'public-sources'),
      navLink('#/audit', 'Audit', routeName === 'audit'),
      navLink('#/check', 'Check a token', routeName === 'check'),
      session.role === 'admin' ? navLink('#/webhooks', 'Webhooks', routeName === 'webhooks') : null,
      session.role === 'admin' ? navLink('#/keys', 'Keys', routeName === 'keys') : null,
    ),
    h(
      'div',
      { class: 'who' },
      h('span', { 'data-testid': 'live-status', class: 'live live-off', role: 'status' }, 'Not live'),
      h(
        'span',
        {
          'data-testid': 'whoami',
          class: 'who-id',
          title: session.person ? `Signed in as ${session.person} (${session.keyId})` : `Signed in with key ${session.keyId}`,
        },
        h('span', { class: `role role-${session.role}`, 'data-testid': 'role' }, session.role),
        ' ',
        session.person ? h('span', { class: 'who-person', 'data-testid': 'person' }, session.person) : h('code', {}, session.keyId),
      ),
      h('button', { type: 'button', class: 'btn btn-quiet', 'data-testid': 'signout', onclick: () => signOutByHand() }, 'Sign out'),
    ),
  )
  replace(root, header, main)
  showLive()
  return main
}

async function render() {
  if (parseHash().path === '/signed-in') {
    replace(root, h('p', { class: 'loading', role: 'status' }, 'Signing in…'))
    askOtherTabs = false
    try {
      await completeSignIn()
      signinMessage = ''
    } catch (err) {
      // A session already kept here (a reload of this page) is used; otherwise the form says why.
      if (!getKey()) signinMessage = err instanceof ApiError && err.status === 401 ? 'The sign-in could not be completed: it was used already or took too long. Sign in again.' : (err instanceof ApiError ? err.title : 'The sign-in could not be completed.')
    }
    session = null
    // Leaves #/signed-in out of the history, so Back does not try to complete the sign-in again.
    history.replaceState(null, '', '#/')
  }
  if (!getKey() && askOtherTabs) {
    askOtherTabs = false
    replace(root, h('p', { class: 'loading', role: 'status' }, 'Signing in…'))
    await keyFromOtherTabs()
  }
  askOtherTabs = false
  if (!getKey()) return renderSignIn()
  if (!session) {
    replace(root, h('p', { class: 'loading', role: 'status' }, 'Signing in…'))
    try {
      session = await loadSession()
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return // onUnauthorized has shown the sign-in form
      replace(root, h('main', { class: 'content' }, errorBox(err, () => render())))
      return
    }
  }
  startFollowing()
  const { path, params } = parseHash()
  const r = route(path)
  if (!r) {
    location.replace('#/')
    return
  }
  if (r.name === 'overview') rememberOverview(location.hash)
  /** @type {PageContext} */
  const ctx = { params, session, navigate: (hash) => { location.hash = hash } }
  if (current?.name === r.name && current.view?.update) {
    current.view.update(ctx)
    return
  }
  current?.view?.destroy?.()
  const main = shell(session, r.name)
  current = { name: r.name, view: null }
  current.view = r.mount(main, ctx) ?? null
  // Move focus to the new page so keyboard and screen-reader users start at its heading.
  main.focus({ preventScroll: true })
  window.scrollTo(0, 0)
}

window.addEventListener('hashchange', () => render())
document.addEventListener('keydown', (e) => {
  const focused = document.activeElement
  if (e.key === 'Escape' && focused instanceof HTMLInputElement && focused.matches('input[type=search]')) focused.blur()
})

render()

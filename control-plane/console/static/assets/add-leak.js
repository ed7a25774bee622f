// @ts-check
// Add a leak by hand. Raw token values are hashed here, in the browser, with Web Crypto: only
// `{ sha256, preview }` is sent, so a raw secret never leaves the operator's machine.
import { api } from './api.js'
import { announce, errorBox, h, replace } from './dom.js'
import { actions, risks } from './meta.js'
import { canHash, hashToken, SHA256_HEX } from './token-hash.js'
/** @import { Leak, LeakLocation } from '../../types/api.js' */
/** @import { Mount } from '../../types/views.js' */

// The API takes any source name of its pattern: these are the usual ones, not a closed list.
const SOURCES = ['manual', 'github', 'gitlab', 'git', 'postman', 'paste', 'other']

/** What each action does, said in its menu entry; an action without one shows its name alone. */
/** @type {Record<string, string>} */
// Short enough to fit the menu's width (the option shows as the closed menu's text).
const ACTION_HELP = { monitor: 'pass, record', block: 'refuse at nodes' }
/** The action a hand-added leak starts with, when the control plane offers it: the cautious one. */
const DEFAULT_ACTION = 'monitor'

/**
 * The body of POST /v1/leaks, by hash only.
 * @typedef {object} NewLeak
 * @property {string} source
 * @property {{ sha256: string, preview?: string }[]} tokens
 * @property {string} action
 * @property {string} [title]
 * @property {string} [risk]
 * @property {string} [kind]
 * @property {LeakLocation} [location]
 * @property {string} [comment]
 */

/** @type {Mount} */
export function mountAddLeak(main, ctx) {
  const isAdmin = ctx.session.role === 'admin'
  let destroyed = false

  const error = h('div', { 'data-testid': 'add-error' })
  const tokens = h('textarea', {
    id: 'add-tokens',
    name: 'tokens',
    rows: '4',
    required: true,
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-describedby': 'add-tokens-help',
    'data-testid': 'add-tokens',
    class: 'mono',
  })
  const rawRadio = h('input', { type: 'radio', id: 'add-mode-raw', name: 'mode', value: 'raw', checked: true, 'data-testid': 'add-mode-raw' })
  const hashRadio = h('input', { type: 'radio', id: 'add-mode-sha256', name: 'mode', value: 'sha256', 'data-testid': 'add-mode-sha256' })
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'add-submit' }, 'Add leak')

  const form = h(
    'form',
    { class: 'card form', 'data-testid': 'add-leak-form', 'aria-labelledby': 'add-title', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'add-title-input' }, 'Title'), h('input', { id: 'add-title-input', name: 'title', maxlength: '200', 'data-testid': 'add-title', placeholder: 'e.g. Stripe key pasted in #support' })),
    h(
      'div',
      { class: 'form-row' },
      h('div', { class: 'field' }, h('label', { for: 'add-source' }, 'Source'), h('select', { id: 'add-source', name: 'source', 'data-testid': 'add-source' }, SOURCES.map((s) => h('option', { value: s }, s)))),
      h('div', { class: 'field' }, h('label', { for: 'add-risk' }, 'Risk'), h('select', { id: 'add-risk', name: 'risk', 'data-testid': 'add-risk' }, h('option', { value: '' }, 'Score it for me'), risks().map((r) => h('option', { value: r }, r)))),
      h('div', { class: 'field' }, h('label', { for: 'add-action' }, 'Action'), h('select', { id: 'add-action', name: 'action', 'data-testid': 'add-action' }, actionOptions())),
    ),
    h('div', { class: 'field' }, h('label', { for: 'add-kind' }, 'Kind (optional)'), h('input', { id: 'add-kind', name: 'kind', maxlength: '64', autocomplete: 'off', 'data-testid': 'add-kind', placeholder: 'e.g. github_pat, stripe_secret_key' })),
    h('div', { class: 'field' }, h('label', { for: 'add-url' }, 'Where it was found (URL, optional)'), h('input', { id: 'add-url', name: 'url', type: 'url', maxlength: '2000', 'data-testid': 'add-url', placeholder: 'https://…' })),
    h(
      'fieldset',
      { class: 'field' },
      h('legend', {}, 'Tokens are given as'),
      h('div', { class: 'radio-row' }, rawRadio, h('label', { for: 'add-mode-raw' }, 'Raw values (hashed in this browser)')),
      h('div', { class: 'radio-row' }, hashRadio, h('label', { for: 'add-mode-sha256' }, 'SHA-256 hashes (hex)')),
    ),
    h('div', { class: 'field' }, h('label', { for: 'add-tokens' }, 'Tokens, one a line'), tokens, h('p', { id: 'add-tokens-help', class: 'muted small' }, 'Raw values are hashed with SHA-256 here, before anything is sent; the control plane receives only the hash and a short preview (at most the first and last 4 characters). Up to 100 tokens.')),
    h('div', { class: 'field' }, h('label', { for: 'add-comment' }, 'Comment (optional)'), h('input', { id: 'add-comment', name: 'comment', maxlength: '1000', 'data-testid': 'add-comment' })),
    error,
    h('div', { class: 'button-row' }, submit),
  )

  if (!isAdmin) {
    for (const el of form.querySelectorAll('input, select, textarea, button')) {
      if (el instanceof HTMLInputElement || el instanceof HTMLSelectElement || el instanceof HTMLTextAreaElement || el instanceof HTMLButtonElement) el.disabled = true
    }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    replace(error)
    const data = new FormData(form)
    const mode = data.get('mode')
    const lines = String(data.get('tokens') ?? '')
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l.length > 0)
    const problems = []
    if (lines.length === 0) problems.push('Give at least one token.')
    if (lines.length > 100) problems.push(`At most 100 tokens at once (${lines.length} given).`)
    if (mode === 'sha256') {
      const bad = lines.filter((l) => !SHA256_HEX.test(l.toLowerCase()))
      if (bad.length > 0) problems.push(`${bad.length} line(s) are not a SHA-256 hash (64 hexadecimal characters). Choose "Raw values" to hash tokens here.`)
    } else if (!canHash()) {
      problems.push('This browser cannot hash here (Web Crypto needs https or localhost). Open the console over https or localhost, or paste SHA-256 hashes instead.')
    }
    const kind = String(data.get('kind') ?? '').trim()
    if (kind && !/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/.test(kind)) problems.push('The kind is a detector name of up to 64 letters, digits and _ . : - (e.g. github_pat).')
    const url = String(data.get('url') ?? '').trim()
    if (url && !/^https?:\/\/\S+$/i.test(url)) problems.push('The URL must start with http:// or https://.')
    // Only hashes leave this browser, so the server cannot see a raw token pasted into another field:
    // this check is the only one there is.
    if (mode !== 'sha256') {
      const texts = { title: String(data.get('title') ?? ''), kind, URL: url, source: String(data.get('source') ?? ''), comment: String(data.get('comment') ?? '') }
      for (const [field, text] of Object.entries(texts)) {
        if (lines.some((l) => l.length >= 6 && text.includes(l))) problems.push(`The ${field} contains one of the raw tokens; remove it (only hashes and previews are sent).`)
      }
    }
    if (problems.length > 0) {
      replace(error, h('div', { class: 'notice notice-error', role: 'alert', 'data-testid': 'add-invalid' }, h('strong', {}, 'Check the form'), h('ul', {}, problems.map((p) => h('li', {}, p)))))
      tokens.focus()
      return
    }

    submit.disabled = true
    submit.textContent = 'Adding…'
    try {
      const hashed = mode === 'sha256' ? lines.map((l) => ({ sha256: l.toLowerCase() })) : await Promise.all(lines.map(hashToken))
      /** @type {NewLeak} */
      const body = { source: String(data.get('source') || 'manual'), tokens: hashed, action: String(data.get('action') || DEFAULT_ACTION) }
      const title = String(data.get('title') ?? '').trim()
      if (title) body.title = title
      const risk = String(data.get('risk') ?? '')
      if (risk) body.risk = risk
      if (kind) body.kind = kind
      if (url) body.location = { url }
      const comment = String(data.get('comment') ?? '').trim()
      if (comment) body.comment = comment
      const leak = /** @type {Leak} */ (await api('/v1/leaks', { method: 'POST', body }))
      // Do not leave raw secrets sitting in the page.
      tokens.value = ''
      if (destroyed) return
      announce(`Leak ${leak.id} added.`, 'success')
      ctx.navigate(`#/leaks/${leak.id}`)
    } catch (err) {
      if (!destroyed) replace(error, errorBox(err, null, 'add-error-box'))
    } finally {
      submit.disabled = !isAdmin
      submit.textContent = 'Add leak'
    }
  })

  replace(
    main,
    h('div', { class: 'page-head' }, h('h1', { id: 'add-title' }, 'Add a leak')),
    isAdmin ? null : h('p', { class: 'notice notice-info', 'data-testid': 'add-disabled-reason' }, `You are signed in with an ${ctx.session.role} key, which can read but not add leaks. Sign in with an admin key to add one.`),
    form,
  )

  return {
    destroy() {
      destroyed = true
    },
  }
}

/** The action menu: the control plane's actions, the default one first and chosen. */
function actionOptions() {
  const list = actions()
  const ordered = list.includes(DEFAULT_ACTION) ? [DEFAULT_ACTION, ...list.filter((a) => a !== DEFAULT_ACTION)] : list
  return ordered.map((a) => {
    const help = ACTION_HELP[a]
    return h('option', { value: a }, help ? `${a} (${help})` : a)
  })
}

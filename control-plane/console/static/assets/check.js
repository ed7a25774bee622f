// @ts-check
// Check a token: is it in this control plane's leaks? The token is hashed here with Web Crypto and
// only the first 5 characters of its SHA-256 are sent (GET /v1/range/PREFIX); the answer holds every
// leaked hash with that prefix among decoys, and the whole hash is looked for here. The token never
// leaves the browser, and the field is emptied once the check is done.
import { api } from './api.js'
import { errorBox, h, replace } from './dom.js'
import { canHash, sha256Hex } from './token-hash.js'
/** @import { RangeAnswer, RangeInfo } from '../../types/api.js' */
/** @import { Mount } from '../../types/views.js' */

/** @type {Mount} */
export function mountCheck(main, _ctx) {
  let destroyed = false
  const notices = h('div', { 'data-testid': 'check-notices' })
  const result = h('div', { 'data-testid': 'check-result', role: 'status', 'aria-live': 'polite' })
  const input = h('input', {
    id: 'check-token',
    name: 'token',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    class: 'mono',
    'aria-describedby': 'check-help',
    'data-testid': 'check-token',
  })
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'check-submit' }, 'Check')
  const form = h(
    'form',
    { class: 'card form', 'data-testid': 'check-form', 'aria-labelledby': 'check-title' },
    h('div', { class: 'field' }, h('label', { for: 'check-token' }, 'Token'), input),
    h(
      'p',
      { id: 'check-help', class: 'muted small' },
      'The token is hashed (SHA-256) in this browser. Only the first 5 characters of the hash are sent; the control plane answers every leaked hash that starts with them, among decoys, and the comparison is made here. The token is never sent, stored or logged.',
    ),
    result,
    h('div', { class: 'button-row' }, submit),
  )

  /** @param {boolean} on */
  const disable = (on) => {
    input.disabled = on
    submit.disabled = on
  }

  if (!canHash()) {
    disable(true)
    notices.append(h('p', { class: 'notice notice-error', 'data-testid': 'check-cannot-hash' }, 'This browser cannot hash here (Web Crypto needs https or localhost). Open the console over https or localhost, or use leakgate check.'))
  }

  api('/v1/range').then((data) => {
    if (destroyed) return
    const info = /** @type {RangeInfo} */ (data)
    if (info.anonymous) {
      notices.append(h('p', { class: 'notice notice-info', 'data-testid': 'check-anonymous' }, 'Anonymous checks are on: anyone who can reach this control plane may check tokens this way without a key (leakgate check, or GET /v1/range/PREFIX).'))
    }
    if (info.hashKeyId !== null) {
      disable(true)
      notices.append(h('p', { class: 'notice notice-error', 'data-testid': 'check-keyed' }, `This control plane keeps keyed hashes (hash key ${info.hashKeyId}), which a browser without the key cannot compute. Check with leakgate check --hash-key-env LEAKGATE_HASH_KEY where the key is.`))
    }
  }, (err) => {
    if (!destroyed) notices.append(errorBox(err, null, 'check-info-error'))
  })

  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    const token = input.value
    if (!token) return
    replace(result)
    disable(true)
    submit.textContent = 'Checking…'
    try {
      const hash = await sha256Hex(token)
      const prefix = hash.slice(0, 5)
      const answer = /** @type {RangeAnswer} */ (await api(`/v1/range/${prefix}`))
      if (destroyed) return
      const leaked = answer.hashes.includes(hash)
      replace(
        result,
        leaked
          ? h('div', { class: 'notice notice-error', 'data-testid': 'check-leaked' }, h('strong', {}, 'Leaked'), h('p', {}, `This token (SHA-256 ${prefix}…) is in this control plane's leaks. Rotate it.`))
          : h('div', { class: 'notice notice-info', 'data-testid': 'check-clean' }, h('strong', {}, 'Not found'), h('p', {}, `This token (SHA-256 ${prefix}…) is in none of this control plane's leaks.`)),
      )
    } catch (err) {
      if (!destroyed) replace(result, errorBox(err, null, 'check-error'))
    } finally {
      // Do not leave the token sitting in the page.
      input.value = ''
      if (!destroyed) {
        disable(false)
        submit.textContent = 'Check'
        input.focus()
      }
    }
  })

  replace(main, h('div', { class: 'page-head' }, h('h1', { id: 'check-title' }, 'Check a token')), notices, form)
  return {
    destroy() {
      destroyed = true
    },
  }
}

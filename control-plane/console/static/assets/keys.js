// @ts-check
// API keys (admins only): list every key (revoked and expired ones stay listed: the audit names their
// ids), make one (shown once, with a copy button), revoke one (after a confirmation in its row), rotate
// one (the new key shown once). An analyst is told why there is nothing.
import { api } from './api.js'
import { announce, errorBox, h, replace, timeEl } from './dom.js'
import { createForm, notAdmin, showOnce, shownOnceBox } from './shown-once.js'
/** @import { ApiKey, NewApiKey } from '../../types/api.js' */
/** @import { Mount } from '../../types/views.js' */

const ROLES = ['analyst', 'admin', 'node', 'issuer', 'checker']
/** Expiry choices: days from now, or never. */
const EXPIRIES = [['', 'Never'], ['30', 'In 30 days'], ['90', 'In 90 days'], ['365', 'In a year']]

/** @type {Mount} */
export function mountKeys(main, ctx) {
  let destroyed = false
  if (notAdmin(main, ctx, 'API keys', 'keys-admin-only')) return null
  const keyBox = shownOnceBox('key-secret-box')
  const list = h('div', {}, h('p', { class: 'loading', role: 'status' }, 'Loading keys…'))

  const role = h('select', { id: 'key-role', name: 'role', 'data-testid': 'key-role' }, ROLES.map((r) => h('option', { value: r }, r)))
  const name = h('input', { id: 'key-name', name: 'name', maxlength: '100', placeholder: 'edge-eu-1', 'data-testid': 'key-name' })
  const owner = h('input', { id: 'key-owner', name: 'owner', maxlength: '254', placeholder: 'alice@example.com', 'data-testid': 'key-owner' })
  const expiry = h('select', { id: 'key-expiry', name: 'expiry', 'data-testid': 'key-expiry' }, EXPIRIES.map(([value, label]) => h('option', { value }, label)))
  const form = createForm({
    prefix: 'key',
    title: 'Create a key',
    submit: 'Create key',
    fields: [h('div', { class: 'form-row' },
      h('div', { class: 'field' }, h('label', { for: 'key-role' }, 'Role'), role),
      h('div', { class: 'field' }, h('label', { for: 'key-name' }, 'Name'), name),
      h('div', { class: 'field' }, h('label', { for: 'key-owner' }, 'Owner'), owner),
      h('div', { class: 'field' }, h('label', { for: 'key-expiry' }, 'Expires'), expiry),
    )],
    async send() {
      const days = Number(expiry.value)
      const body = {
        role: role.value,
        ...(name.value.trim() ? { name: name.value.trim() } : {}),
        ...(owner.value.trim() ? { owner: owner.value.trim() } : {}),
        ...(days > 0 ? { expiresAt: new Date(Date.now() + days * 86_400_000).toISOString() } : {}),
      }
      showKey(/** @type {NewApiKey} */ (await api('/v1/keys', { method: 'POST', body })), 'Key created.')
      name.value = ''
      owner.value = ''
      await load()
    },
  })

  replace(
    main,
    h('div', { class: 'page-head' }, h('h1', {}, 'API keys')),
    h('p', { class: 'muted' }, 'Keys of people and systems. A key is shown once, when made; only its hash is kept. Revoked keys stay listed so the audit\'s key ids keep meaning.'),
    keyBox,
    form,
    h('section', { class: 'card', 'aria-label': 'Keys' }, list),
  )

  /**
   * Shows a new key this once, with a button that copies it.
   * @param {NewApiKey} made
   * @param {string} what
   */
  function showKey(made, what) {
    showOnce(keyBox, { what, label: `${made.role} key ${made.keyId}`, noun: 'key', secret: made.key, testid: 'key-secret', copyTestid: 'key-copy' })
  }

  /** @param {ApiKey} key */
  function row(key) {
    const actions = h('td', { 'data-label': '' })
    const usable = key.state === 'active' || key.state === 'retiring'
    const rotate = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'key-rotate' }, 'Rotate')
    rotate.addEventListener('click', async () => {
      rotate.disabled = true
      try {
        showKey(/** @type {NewApiKey} */ (await api(`/v1/keys/${key.keyId}/rotate`, { method: 'POST', body: {} })), `Key ${key.keyId} rotated and revoked.`)
        await load()
      } catch (err) {
        replace(keyBox, errorBox(err, null, 'key-error'))
        rotate.disabled = false
      }
    })
    const revoke = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'key-revoke' }, 'Revoke')
    revoke.addEventListener('click', () => {
      // A revocation cannot be undone: the row asks first.
      const yes = h('button', { type: 'button', class: 'btn btn-small btn-danger', 'data-testid': 'key-revoke-confirm' }, 'Revoke')
      const no = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'key-revoke-cancel' }, 'Cancel')
      no.addEventListener('click', () => replace(actions, rotate, ' ', revoke))
      yes.addEventListener('click', async () => {
        yes.disabled = true
        try {
          await api(`/v1/keys/${key.keyId}/revoke`, { method: 'POST' })
          announce(`Key ${key.keyId} revoked.`, 'success')
          await load()
        } catch (err) {
          replace(keyBox, errorBox(err, null, 'key-error'))
          replace(actions, rotate, ' ', revoke)
        }
      })
      replace(actions, h('span', { class: 'confirm' }, 'Revoke it? It stops working at once. '), yes, ' ', no)
      no.focus()
    })
    if (usable) replace(actions, rotate, ' ', revoke)
    const state = key.state === 'retiring' && key.revokedAt
      ? h('span', {}, h('span', { class: 'badge key-retiring' }, 'retiring'), h('div', { class: 'muted small' }, 'until ', timeEl(key.revokedAt)))
      : h('span', { class: `badge key-${key.state}` }, key.state)
    return h(
      'tr',
      { 'data-testid': 'key-row', 'data-key-id': key.keyId, 'data-state': key.state },
      h('th', { scope: 'row', 'data-label': 'Key' }, h('code', {}, key.keyId), key.name ? h('div', { class: 'muted small wrap-anywhere' }, key.name) : null),
      h('td', { 'data-label': 'Owner' }, h('span', { class: 'wrap-anywhere' }, key.owner ?? '—')),
      h('td', { 'data-label': 'Role' }, h('span', { class: `role role-${key.role}` }, key.role)),
      h('td', { 'data-label': 'Created' }, timeEl(key.createdAt)),
      h('td', { 'data-label': 'Expires' }, key.expiresAt ? timeEl(key.expiresAt) : 'Never'),
      h('td', { 'data-label': 'Last used' }, key.lastUsedAt ? timeEl(key.lastUsedAt) : 'Never'),
      h('td', { 'data-label': 'State' }, state),
      actions,
    )
  }

  async function load() {
    try {
      const res = /** @type {{ items: ApiKey[] }} */ (await api('/v1/keys'))
      if (destroyed) return
      replace(list, h('div', { class: 'table-wrap' }, h('table', { class: 'nodes', 'data-testid': 'keys-table' },
        h('caption', { class: 'visually-hidden' }, 'API keys'),
        h('thead', {}, h('tr', {}, ['Key', 'Owner', 'Role', 'Created', 'Expires', 'Last used', 'State', ''].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, res.items.map(row)))))
    } catch (err) {
      if (!destroyed) replace(list, errorBox(err, () => load(), 'keys-error'))
    }
  }

  load()
  return {
    destroy() {
      destroyed = true
    },
  }
}

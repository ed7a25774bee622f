// @ts-check
// Webhooks (admins only): add an endpoint (its secret is shown once, right after), list them, rotate
// a secret, see an endpoint's deliveries and send one again. An analyst is told why there is nothing.
import { api } from './api.js'
import { announce, errorBox, h, replace, timeEl } from './dom.js'
import { createForm, notAdmin, showOnce, shownOnceBox } from './shown-once.js'
/** @import { Webhook, WebhookDelivery, WebhookWithSecret } from '../../types/api.js' */
/** @import { Mount } from '../../types/views.js' */

/** The events an endpoint may subscribe to, as the API names them. */
const EVENTS = ['leak.created', 'leak.decided', 'leak.sighted', 'leak.risk_changed', 'leak.rotation_requested', 'leak.rotated', 'scan.finished', 'node.stale']

/** @type {Mount} */
export function mountWebhooks(main, ctx) {
  let destroyed = false
  if (notAdmin(main, ctx, 'Webhooks', 'webhooks-admin-only')) return null
  const secretBox = shownOnceBox('webhook-secret-box')
  const list = h('div', {}, h('p', { class: 'loading', role: 'status' }, 'Loading webhooks…'))
  const deliveriesBox = h('div', { 'data-testid': 'webhook-deliveries' })

  const url = h('input', { id: 'webhook-url', name: 'url', type: 'url', required: true, maxlength: '2048', placeholder: 'https://…', 'data-testid': 'webhook-url' })
  const description = h('input', { id: 'webhook-description', name: 'description', maxlength: '500', 'data-testid': 'webhook-description' })
  const format = h('select', { id: 'webhook-format', name: 'format', 'data-testid': 'webhook-format' }, h('option', { value: 'json' }, 'JSON (signed)'), h('option', { value: 'slack' }, 'Slack message'))
  const boxes = EVENTS.map((type) => h('input', { type: 'checkbox', id: `webhook-event-${type}`, value: type, checked: type.startsWith('leak.created') || type === 'leak.decided', 'data-testid': `webhook-event-${type}` }))
  const form = createForm({
    prefix: 'webhook',
    title: 'Add an endpoint',
    submit: 'Add endpoint',
    fields: [
      h('div', { class: 'form-row' },
        h('div', { class: 'field' }, h('label', { for: 'webhook-url' }, 'URL'), url),
        h('div', { class: 'field' }, h('label', { for: 'webhook-description' }, 'Description'), description),
        h('div', { class: 'field' }, h('label', { for: 'webhook-format' }, 'Format'), format),
      ),
      h('fieldset', { class: 'field' }, h('legend', {}, 'Events'), h('div', { class: 'radio-row' }, boxes.map((box) => h('label', {}, box, ` ${box.value}`)))),
    ],
    async send() {
      const events = boxes.filter((b) => b.checked).map((b) => b.value)
      const made = /** @type {WebhookWithSecret} */ (await api('/v1/webhooks', { method: 'POST', body: { url: url.value.trim(), events, format: format.value, ...(description.value.trim() ? { description: description.value.trim() } : {}) } }))
      showSecret(made, 'Endpoint added.')
      url.value = ''
      description.value = ''
      await load()
    },
  })

  replace(
    main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Webhooks')),
    h('p', { class: 'muted' }, 'Endpoints receive events as signed JSON (header Leakgate-Signature; see docs/webhooks.md for how to verify it).'),
    secretBox,
    form,
    h('section', { class: 'card', 'aria-label': 'Endpoints' }, list),
    deliveriesBox,
  )

  /**
   * Shows a secret this once, with what to do with it.
   * @param {WebhookWithSecret} hook
   * @param {string} what
   */
  function showSecret(hook, what) {
    showOnce(secretBox, {
      what,
      label: `the signing secret of endpoint ${hook.id}`,
      noun: 'secret',
      secret: hook.secret,
      testid: 'webhook-secret',
      after: hook.previousSecretExpiresAt ? h('p', {}, 'The previous secret keeps signing until ', timeEl(hook.previousSecretExpiresAt), '.') : null,
    })
  }

  /** @param {Webhook} hook */
  function row(hook) {
    const rotate = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'webhook-rotate' }, 'Rotate secret')
    rotate.addEventListener('click', async () => {
      rotate.disabled = true
      try {
        showSecret(/** @type {WebhookWithSecret} */ (await api(`/v1/webhooks/${hook.id}/rotate-secret`, { method: 'POST', body: {} })), 'Secret rotated.')
        await load()
      } catch (err) {
        replace(secretBox, errorBox(err))
      } finally {
        rotate.disabled = false
      }
    })
    const show = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'webhook-show-deliveries' }, 'Deliveries')
    show.addEventListener('click', () => deliveries(hook))
    return h(
      'tr',
      { 'data-testid': 'webhook-row', 'data-webhook-id': String(hook.id) },
      h('th', { scope: 'row', 'data-label': 'URL' }, h('code', {}, hook.url), hook.description ? h('div', { class: 'muted small' }, hook.description) : null),
      h('td', { 'data-label': 'Events' }, hook.events.join(', ')),
      h('td', { 'data-label': 'Format' }, hook.format),
      h('td', { 'data-label': 'State' }, hook.enabled ? 'Enabled' : 'Disabled'),
      h('td', { 'data-label': '' }, rotate, ' ', show),
    )
  }

  /** @param {Webhook} hook */
  async function deliveries(hook) {
    replace(deliveriesBox, h('p', { class: 'loading', role: 'status' }, 'Loading deliveries…'))
    try {
      const page = /** @type {{ items: WebhookDelivery[] }} */ (await api(`/v1/webhooks/${hook.id}/deliveries?limit=100`))
      if (destroyed) return
      /** @param {WebhookDelivery} d */
      const drow = (d) => {
        const again = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'delivery-redeliver' }, 'Redeliver')
        again.addEventListener('click', async () => {
          again.disabled = true
          try {
            await api(`/v1/webhooks/deliveries/${d.id}/redeliver`, { method: 'POST' })
            announce(`Delivery ${d.id} queued again.`)
            await deliveries(hook)
          } catch (err) {
            replace(deliveriesBox, errorBox(err))
          }
        })
        return h(
          'tr',
          { 'data-testid': 'delivery-row', 'data-status': d.status },
          h('td', { 'data-label': 'Event' }, `${d.eventType} #${d.eventId}`),
          h('td', { 'data-label': 'Status' }, h('span', { class: `badge delivery-${d.status}` }, d.status)),
          h('td', { 'data-label': 'Attempts', class: 'num' }, String(d.attempts)),
          h('td', { 'data-label': 'Response', class: 'num' }, d.responseCode === null ? '—' : String(d.responseCode)),
          h('td', { 'data-label': 'Duration', class: 'num' }, d.durationMs === null ? '—' : `${d.durationMs} ms`),
          h('td', { 'data-label': 'Last error' }, d.lastError ?? ''),
          h('td', { 'data-label': 'Created' }, timeEl(d.createdAt)),
          h('td', { 'data-label': '' }, again),
        )
      }
      replace(deliveriesBox, h('section', { class: 'card', 'aria-label': `Deliveries of endpoint ${hook.id}` },
        h('h2', {}, `Deliveries to ${hook.url}`),
        page.items.length === 0
          ? h('p', { class: 'muted', 'data-testid': 'deliveries-empty' }, 'No delivery yet.')
          : h('div', { class: 'table-wrap' }, h('table', { class: 'nodes', 'data-testid': 'deliveries-table' },
            h('thead', {}, h('tr', {}, ['Event', 'Status', 'Attempts', 'Response', 'Duration', 'Last error', 'Created', ''].map((c) => h('th', { scope: 'col' }, c)))),
            h('tbody', {}, page.items.map(drow)))),
      ))
    } catch (err) {
      if (!destroyed) replace(deliveriesBox, errorBox(err, () => deliveries(hook)))
    }
  }

  async function load() {
    try {
      const res = /** @type {{ items: Webhook[] }} */ (await api('/v1/webhooks'))
      if (destroyed) return
      if (res.items.length === 0) {
        replace(list, h('p', { class: 'muted', 'data-testid': 'webhooks-empty' }, 'No endpoint yet.'))
        return
      }
      replace(list, h('div', { class: 'table-wrap' }, h('table', { class: 'nodes', 'data-testid': 'webhooks-table' },
        h('caption', { class: 'visually-hidden' }, 'Webhook endpoints'),
        h('thead', {}, h('tr', {}, ['URL', 'Events', 'Format', 'State', ''].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, res.items.map(row)))))
    } catch (err) {
      if (!destroyed) replace(list, errorBox(err, () => load(), 'webhooks-error'))
    }
  }

  load()
  return {
    destroy() {
      destroyed = true
    },
  }
}

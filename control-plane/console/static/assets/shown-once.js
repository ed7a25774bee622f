// @ts-check
// What the admin pages that make secrets (API keys, webhooks) share: the note an analyst gets instead of
// the page, the create form, and the box where a new secret is shown once, right after it is made. The
// control plane keeps only a secret's hash, so that box is the one chance to copy it.
import { announce, errorBox, h, replace } from './dom.js'
/** @import { Child, ChildList } from './dom.js' */
/** @import { PageContext } from '../../types/views.js' */

/**
 * When the signed-in key is not an admin's, draws the page's title and why it is empty, and answers true.
 * @param {HTMLElement} main
 * @param {PageContext} ctx
 * @param {string} title the page's title, which also names what an admin key manages ("API keys")
 * @param {string} testid
 */
export function notAdmin(main, ctx, title, testid) {
  if (ctx.session.role === 'admin') return false
  replace(main, h('div', { class: 'page-head' }, h('h1', {}, title)), h('p', { class: 'notice notice-info', 'data-testid': testid }, `You are signed in with an ${ctx.session.role} key. ${title} are managed with an admin key.`))
  return true
}

/**
 * @typedef {object} CreateForm
 * @property {string} prefix names the ids and test ids: `key` gives key-form, key-form-title, key-form-error, key-submit
 * @property {string} title
 * @property {string} submit the button's label
 * @property {ChildList} fields
 * @property {() => Promise<void>} send makes the thing; what it throws is shown in the form
 */

/**
 * A create form as a card: its title, the fields, an error line and a submit button, which is off
 * while `send` runs so that one click makes one thing.
 * @param {CreateForm} spec
 */
export function createForm({ prefix, title, submit: label, fields, send }) {
  const formError = h('div', { 'data-testid': `${prefix}-form-error` })
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': `${prefix}-submit` }, label)
  const form = h(
    'form',
    { class: 'card form', 'data-testid': `${prefix}-form`, 'aria-labelledby': `${prefix}-form-title`, novalidate: true },
    h('h2', { id: `${prefix}-form-title` }, title),
    fields,
    formError,
    h('div', { class: 'field-actions' }, submit),
  )
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    replace(formError)
    submit.disabled = true
    try {
      await send()
    } catch (err) {
      replace(formError, errorBox(err))
    } finally {
      submit.disabled = false
    }
  })
  return form
}

/**
 * The (empty) box a new secret is shown in; also where the page puts errors of the actions that make one.
 * @param {string} testid
 */
export function shownOnceBox(testid) {
  return h('div', { 'data-testid': testid, 'aria-live': 'polite' })
}

/**
 * @typedef {object} ShownOnce
 * @property {string} what what was just done ("Key created.")
 * @property {string} label what to copy ("analyst key key_…", "the signing secret of endpoint 3")
 * @property {string} noun what the secret is called when announced ("key", "secret")
 * @property {string} secret
 * @property {string} testid the test id of the element holding the secret
 * @property {string} [copyTestid] adds a Copy button, with this test id, and lets the secret wrap beside it
 * @property {Child} [after] a line under the secret
 */

/**
 * Shows a new secret in `box` this once, with what to do with it.
 * @param {HTMLElement} box
 * @param {ShownOnce} shown
 */
export function showOnce(box, { what, label, noun, secret, testid, copyTestid, after }) {
  const code = h('code', { 'data-testid': testid, class: copyTestid === undefined ? 'mono' : 'mono secret wrap-anywhere' }, secret)
  replace(box, h('div', { class: 'notice notice-info', role: 'status' },
    h('strong', {}, `${what} Copy ${label} now: it is not shown again.`),
    copyTestid === undefined ? h('p', {}, code) : h('p', { class: 'secret-line' }, code, ' ', copyButton(code, secret, noun, copyTestid)),
    after,
  ))
  announce(`${what} The ${noun} is shown once.`)
}

/**
 * A button that copies the secret to the clipboard, or else selects it in `code` to copy by hand.
 * @param {HTMLElement} code
 * @param {string} secret
 * @param {string} noun
 * @param {string} testid
 */
function copyButton(code, secret, noun, testid) {
  const copy = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': testid }, 'Copy')
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(secret)
      announce(`${noun.charAt(0).toUpperCase()}${noun.slice(1)} copied.`, 'success')
    } catch {
      // No clipboard (a page not served over https, or a browser that refuses): select it to copy by hand.
      const range = document.createRange()
      range.selectNodeContents(code)
      window.getSelection()?.removeAllRanges()
      window.getSelection()?.addRange(range)
      announce(`Select and copy the ${noun} by hand.`)
    }
  })
  return copy
}

// @ts-check
// A modal confirmation for decisions that change what the nodes do (Block, and any bulk decision):
// it states what will happen and to how many leaks, and nothing happens until the operator confirms.
import { h } from './dom.js'

/**
 * @typedef {object} ConfirmOptions
 * @property {string} title the question, e.g. "Block 3 leaks?"
 * @property {string} message what confirming does
 * @property {string} confirm the confirming button's label
 * @property {boolean} [danger] a red confirming button
 */

/**
 * Shows the dialog; resolves true when confirmed, false when cancelled (button, Escape).
 * Focus starts on Cancel, so a stray Enter does not confirm.
 * @param {ConfirmOptions} options
 * @returns {Promise<boolean>}
 */
export function confirmDialog({ title, message, confirm, danger = false }) {
  return new Promise((resolve) => {
    const cancelButton = h('button', { type: 'button', class: 'btn', 'data-testid': 'confirm-cancel' }, 'Cancel')
    const okButton = h('button', { type: 'button', class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`, 'data-testid': 'confirm-ok' }, confirm)
    const dialog = h(
      'dialog',
      { class: 'confirm', 'aria-labelledby': 'confirm-title', 'aria-describedby': 'confirm-message', 'data-testid': 'confirm-dialog' },
      h('h2', { id: 'confirm-title' }, title),
      h('p', { id: 'confirm-message', 'data-testid': 'confirm-message' }, message),
      h('div', { class: 'button-row' }, cancelButton, okButton),
    )
    /** @param {boolean} answer */
    const done = (answer) => {
      dialog.close()
      dialog.remove()
      resolve(answer)
    }
    cancelButton.addEventListener('click', () => done(false))
    okButton.addEventListener('click', () => done(true))
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault()
      done(false)
    })
    document.body.append(dialog)
    dialog.showModal()
    cancelButton.focus()
  })
}

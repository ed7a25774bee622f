// @ts-check
// After a decision that changes what the nodes enforce: a toast that says it is done only once the
// nodes say so. The decision's answer carries the index revision it committed; the fleet view
// (GET /v1/nodes) has each node's revision, and a node at or past it enforces the decision. Until every
// live node is there the toast says "Blocking… 1 of 3 nodes". It offers Undo for a few seconds.
import { api } from './api.js'
import { h, replace, takeToast } from './dom.js'
/** @import { Fleet } from '../../types/api.js' */

/** How long Undo is offered. */
const UNDO_MS = 8000
const POLL_MS = 500
/** After this long the toast stops watching and says how far the nodes got. */
const WATCH_MS = 120_000
/** How long the final message stays once Undo is gone. */
const LINGER_MS = 6000

/**
 * @typedef {object} EnforcementOptions
 * @property {number} revision the index revision the decision committed
 * @property {string} pending what is under way, e.g. "Blocking"
 * @property {string} done what it is once every node has it, e.g. "Blocked"
 * @property {string} subject what was decided, e.g. "Leak 12" or "3 leaks"
 * @property {(() => Promise<void>) | null} [undo] the reverse decision, offered for a few seconds
 */

/** @type {(() => void) | null} */
let stopCurrent = null

/** @param {number} n */
function nodes(n) {
  return `${n} ${n === 1 ? 'node' : 'nodes'}`
}

/**
 * Shows the toast and watches the fleet until every live node has `revision`.
 * @param {EnforcementOptions} options
 */
export function showEnforcement({ revision, pending, done, subject, undo = null }) {
  stopCurrent?.()
  const found = takeToast()
  if (!found) return
  const region = found
  let stopped = false
  let finished = false
  /** @type {number[]} */
  const timers = []
  const started = Date.now()
  const text = h('span', { 'data-testid': 'toast-text' }, `${subject}: ${pending.toLowerCase()}…`)
  const undoButton = undo
    ? h('button', { type: 'button', class: 'btn btn-small toast-undo', 'data-testid': 'toast-undo', onclick: () => runUndo() }, 'Undo')
    : null
  region.className = 'toast toast-success toast-action'
  region.dataset.state = 'pending'
  replace(region, text, undoButton)

  const stop = () => {
    stopped = true
    for (const t of timers) clearTimeout(t)
  }
  stopCurrent = stop

  /** @param {string} message */
  const say = (message) => {
    if (!stopped) text.textContent = message
  }

  const hideLater = () => {
    timers.push(window.setTimeout(() => {
      // Another message took the toast meanwhile: leave it.
      if (stopped || undoButton?.isConnected || !text.isConnected) return
      stop()
      replace(region)
      region.className = 'toast'
      delete region.dataset.state
    }, LINGER_MS))
  }

  if (undoButton) {
    timers.push(window.setTimeout(() => {
      undoButton.remove()
      if (finished) hideLater()
    }, UNDO_MS))
  }

  async function runUndo() {
    if (!undo) return
    stop()
    undoButton?.setAttribute('disabled', '')
    text.textContent = `${subject}: undoing…`
    try {
      await undo()
    } catch (err) {
      region.className = 'toast toast-error'
      replace(region, h('span', { 'data-testid': 'toast-text' }, `Undo failed: ${err instanceof Error ? err.message : String(err)}`))
    }
  }

  async function poll() {
    if (stopped) return
    try {
      const fleet = /** @type {Fleet} */ (await api('/v1/nodes?limit=1000'))
      if (stopped) return
      const live = (fleet.items ?? []).filter((n) => !n.stale)
      const there = live.filter((n) => (n.revision ?? -1) >= revision).length
      if (live.length === 0) {
        finish(`${subject}: ${done.toLowerCase()}, but no node is connected to enforce it`, 'no-nodes')
        return
      }
      if (there >= live.length) {
        finish(live.length === 1 ? `${done} at the 1 node` : `${done} at all ${live.length} nodes`, 'done')
        return
      }
      say(`${pending}… ${there} of ${nodes(live.length)}`)
    } catch {
      say(`${pending}… (cannot read the nodes right now)`)
    }
    if (Date.now() - started > WATCH_MS) {
      finish(`${subject}: not yet at every node after ${WATCH_MS / 60_000} minutes; see the Nodes page`, 'late')
      return
    }
    timers.push(window.setTimeout(poll, POLL_MS))
  }

  /**
   * @param {string} message
   * @param {string} state
   */
  function finish(message, state) {
    say(message)
    finished = true
    region.dataset.state = state
    if (!undoButton?.isConnected) hideLater()
  }

  poll()
}

// @ts-check
// The values the control plane accepts for a leak's risk, status and action, and the list's sort
// orders: loaded from GET /v1/meta once at sign-in, so the console never keeps its own copies.
/** @import { Meta } from '../../types/api.js' */

/** @type {Meta | null} */
let loaded = null

/**
 * Keeps the lists the control plane sent (at sign-in).
 * @param {Meta} meta
 */
export function setMeta(meta) {
  loaded = meta
}

/** Forgets them (at sign-out). */
export function clearMeta() {
  loaded = null
}

/** @returns {Meta} */
function current() {
  if (loaded === null) throw new Error('The console used the API lists before signing in loaded them.')
  return loaded
}

/** Risks, most severe first (the API lists them lowest first): the order of charts and menus. */
export function risks() {
  return [...current().risks].reverse()
}

/** Leak statuses, in the API's order. */
export function statuses() {
  return current().statuses
}

/** What a node may do with a leaked token, in the API's order. */
export function actions() {
  return current().actions
}

/** The leak list's sort orders; the first is the default. */
export function sorts() {
  return current().sorts
}

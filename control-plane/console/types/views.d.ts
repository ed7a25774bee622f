/** How the console's router talks to its pages (static/assets/app.js and the mount functions). */
import type { Session } from './api.js'

/** What a page is given when it is mounted or its URL changes. */
export interface PageContext {
  /** The query of the hash (`#/?risk=high` → risk=high). */
  params: URLSearchParams
  session: Session
  /** Goes to another console URL (`#/leaks/12`). */
  navigate(hash: string): void
}

/** A change the control plane streams live (GET /v1/events/stream). */
export interface LiveEvent {
  id: number
  /** leak.created, leak.decided, leak.sighted, leak.risk_changed, leak.rotation_requested, leak.rotated, scan.finished, node.stale */
  type: string
  leakId: number | null
  at: string
}

/** Events as they came, or 'reset': more happened than was replayed, reload everything. */
export type LiveChange = LiveEvent[] | 'reset'

/**
 * A mounted page: `update` takes a new URL of the same page in place; `live` is told of changes made
 * anywhere (by other people, nodes, scans) so the page can reload what they touch; `destroy` stops its work.
 */
export interface View {
  update?(ctx: PageContext): void
  live?(change: LiveChange): void
  destroy?(): void
}

/** Draws a page into `main`. */
export type Mount = (main: HTMLElement, ctx: PageContext) => View | null | undefined

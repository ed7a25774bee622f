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

/** A mounted page: `update` takes a new URL of the same page in place; `destroy` stops its work. */
export interface View {
  update?(ctx: PageContext): void
  destroy?(): void
}

/** Draws a page into `main`. */
export type Mount = (main: HTMLElement, ctx: PageContext) => View | null | undefined

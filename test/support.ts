/**
 * What every part's tests share, whatever they start: a temporary folder removed at teardown, and a
 * wait on a condition. Each part's own helpers (`node/test/helpers.ts`, `control-plane/test/harness.ts`,
 * `control-plane/detect/test/helpers.ts`) build on these; this module imports no part of the product,
 * so the scanner's tests can use it without reaching the control plane.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** The bit of tap's `t` (or of anything that undoes steps at the end) these helpers need. */
export interface Teardown {
  teardown(fn: () => unknown): void
}

/**
 * Makes a folder under the system's temp dir (never inside the repository, so no test writes a tracked
 * file) and removes it, with everything in it, at `t`'s teardown.
 */
export function tempDir(t: Teardown, prefix = 'leakgate-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/**
 * Polls `check` until it returns a truthy value and answers that value; fails after `timeoutMs` naming
 * `what` (and the last error `check` threw, if any). A check that throws is tried again: servers and
 * pages being waited on often refuse a connection or miss an element before they are ready.
 */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await check()
      if (value) return value as NonNullable<T>
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

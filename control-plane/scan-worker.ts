/**
 * A scan's own process: the control plane forks one per scan (control-plane/scan-process.ts), so a
 * scan's reads, regular expressions and git processes never hold the API's event loop, its memory is
 * capped by the child's heap limit, and ending the scan (timeout, shutdown) is killing a process
 * group. It gets its one request over IPC (the GitHub and GitLab tokens come that way, never through
 * the environment), answers progress, git diagnostics and the result, and exits.
 */
import { scanSource, type Progress, type ScanOptions, type ScanResult, type ScanSourceSpec } from './detect/index.js'

/** What the control plane asks of a scan process. */
export interface ScanRequest {
  source: ScanSourceSpec
  options: Pick<ScanOptions, 'cacheDir' | 'github' | 'gitlab' | 'since' | 'reach' | 'maxFindings' | 'maxBytes'>
}

/** What a scan process tells the control plane. */
export type ScanMessage =
  | { type: 'progress'; progress: Progress }
  | { type: 'diagnostic'; text: string }
  | { type: 'done'; result: ScanResult }
  | { type: 'failed'; code: string | undefined; message: string }

const send = (message: ScanMessage): Promise<void> =>
  new Promise((resolve) => {
    if (process.send === undefined || !process.connected) return resolve()
    process.send(message, undefined, {}, () => resolve())
  })

/** Ends this process and every git it started (they share its process group). */
function endGroup(): never {
  try {
    process.kill(-process.pid, 'SIGKILL')
  } catch {
    // Not a group leader (started without `detached`): this process alone.
  }
  process.exit(1)
}

if (process.send !== undefined) {
  // The control plane gone (killed, crashed): nobody wants this scan any more.
  process.on('disconnect', endGroup)
  process.once('message', (request: ScanRequest) => {
    let lastSent = 0
    scanSource(request.source, {
      ...request.options,
      onProgress: (p) => {
        // Progress is for people watching: a message a second is plenty.
        if (Date.now() - lastSent < 1000) return
        lastSent = Date.now()
        void send({ type: 'progress', progress: { ...p } })
      },
      onDiagnostic: (text) => void send({ type: 'diagnostic', text }),
    }).then(
      (result) => send({ type: 'done', result }),
      (err: unknown) => send({ type: 'failed', code: (err as { code?: string }).code, message: (err as Error).message ?? String(err) }),
    ).finally(() => {
      process.off('disconnect', endGroup)
      process.disconnect()
    })
  })
}

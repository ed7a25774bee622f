/**
 * `leakgate scan --push`: sends findings to the control plane (`POST /v1/scans` with
 * `findings`), which groups them into leaks. The raw secret is stripped whatever the flags.
 */
import type { Finding } from './findings.js'
import type { ScanSourceSpec } from './index.js'
import { SourceError } from '../../lib/errors.js'
import { escapeText } from '../../lib/text.js'
import { redactUrl } from './sources/reach.js'

/** The control plane's answer (docs/api.md "Scans"), as far as the CLI reports it. */
export interface PushResult {
  id: number
  status: string
  leaksCreated: number
  leaksUpdated: number
}

/**
 * A finding with its names (file, branch, location) escaped as the control plane shows scanned text:
 * it refuses control, bidi and invisible characters in them, and a file can be named with any.
 */
function shown(f: Omit<Finding, 'secret'>): Omit<Finding, 'secret'> {
  const location = Object.fromEntries(Object.entries(f.location ?? {}).map(([k, v]) => [k, typeof v === 'string' ? escapeText(v) : v])) as Finding['location']
  return {
    ...f,
    file: escapeText(f.file),
    ...(f.branch === undefined ? {} : { branch: escapeText(f.branch) }),
    ...((f.location as Finding['location'] | undefined) === undefined ? {} : { location }),
  }
}

/**
 * Posts findings, and how many matches the scan dropped for a bad checksum (a count, for the scan's
 * record); rejects with a message naming the status and the control plane's `detail`.
 */
export async function pushFindings(controlPlane: string, apiKey: string, source: ScanSourceSpec, findings: readonly Finding[], checksumDropped = 0): Promise<PushResult> {
  const clean = findings.map(({ secret: _secret, ...rest }) => shown(rest))
  const url = `${controlPlane.replace(/\/+$/, '')}/v1/scans`
  let res: Response
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
      body: JSON.stringify({ source, findings: clean, ...(checksumDropped > 0 ? { checksumDropped } : {}) }),
    })
  } catch (cause) {
    throw new SourceError(`cannot reach the control plane at ${redactUrl(controlPlane)}: ${(cause as Error).message}`, { cause })
  }
  const body = (await res.json().catch(() => ({}))) as Partial<PushResult> & { detail?: string }
  if (!res.ok) throw new Error(`push to ${redactUrl(url)} failed: ${res.status}${body.detail === undefined ? '' : ` ${body.detail}`}`)
  return { id: body.id ?? 0, status: body.status ?? 'unknown', leaksCreated: body.leaksCreated ?? 0, leaksUpdated: body.leaksUpdated ?? 0 }
}

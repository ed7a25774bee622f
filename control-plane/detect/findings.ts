/**
 * Findings as the rest of Leakgate sees them: no raw secret, only its sha256 and a preview,
 * with a fingerprint that stays the same from one scan to the next (rule, file, token), so
 * that findings de-duplicate across commits and a `.leakgateignore` entry keeps working.
 */
import { readFileSync } from 'node:fs'
import { makePreview, sha256Hex } from '../../protocol/token-hash.js'
import type { TextFinding } from './scanner.js'
import { hideSecret } from '../../lib/echo.js'

export { makePreview, sha256Hex }

/**
 * Where a secret was found. The engine's own type: the control plane copies it into the `location`
 * of the leak it makes (docs/api.md), which has the same fields.
 */
export interface FindingLocation {
  /** The file, relative to the scanned directory or repository. */
  path?: string
  line?: number
  /** Repository name, for GitHub and GitLab repositories (`acme/api`). */
  repo?: string
  /** The repository's address (its web page, or the URL it was cloned from), never with a credential. */
  repoUrl?: string
  commit?: string
  branch?: string
  /** A browsable link to the line, when the source has one. */
  url?: string
}

/** One secret found, as in docs/api.md "Scans". */
export interface Finding {
  ruleId: string
  kind: string
  file: string
  line: number
  column: number
  commit?: string
  branch?: string
  sha256: string
  preview: string
  fingerprint: string
  inHistoryOnly: boolean
  source: string
  location: FindingLocation
  /** The raw token: present only when the caller asked for it (`--show-secrets`). */
  secret?: string
}

/** Where a text came from, to turn its text findings into findings. */
export interface TextOrigin {
  /** Source type: dir, git, github. */
  source: string
  file: string
  commit?: string
  branch?: string
  repo?: string
  /** The repository's address (FindingLocation.repoUrl). */
  repoUrl?: string
  /** Builds a browsable URL for a line, when the source has one. */
  url?: (line: number) => string
  inHistoryOnly?: boolean
}

/**
 * What a scan says of the matches it dropped for a checksum that did not verify: how many, never
 * which (`3 candidates dropped: checksum did not match`); undefined when none were.
 */
export function checksumDroppedText(count: number | undefined): string | undefined {
  if (count === undefined || count <= 0) return undefined
  return `${count} candidate${count === 1 ? '' : 's'} dropped: checksum did not match`
}

/** Stable id of a finding: the same secret, rule and file give the same fingerprint in every commit and every scan. */
export function fingerprintOf(ruleId: string, file: string, sha256: string): string {
  return sha256Hex(`${ruleId}\0${file}\0${sha256}`).slice(0, 32)
}

/** What stands for a file name that gives its secret away in a form that cannot be cut out (base64…). */
const NAME_HIDDEN = '[a name that holds the secret]'

/** Turns text findings into findings; the raw value is kept only when `showSecrets`. */
export function toFindings(found: readonly TextFinding[], origin: TextOrigin, showSecrets: boolean): Finding[] {
  return found.map((f) => {
    const sha256 = sha256Hex(f.value)
    // A file named after its secret (`keys/<token>.txt`) would put the secret into every location.
    const file = hideSecret(origin.file, f.value, NAME_HIDDEN)
    const location: FindingLocation = { path: file, line: f.line }
    if (origin.repo !== undefined) location.repo = origin.repo
    if (origin.repoUrl !== undefined) location.repoUrl = origin.repoUrl
    if (origin.commit !== undefined) location.commit = origin.commit
    if (origin.branch !== undefined) location.branch = origin.branch
    if (origin.url !== undefined) location.url = hideSecret(origin.url(f.line), f.value, NAME_HIDDEN)
    const finding: Finding = {
      ruleId: f.rule.id,
      kind: f.rule.kind,
      file,
      line: f.line,
      column: f.column,
      sha256,
      preview: makePreview(f.value),
      fingerprint: fingerprintOf(f.rule.id, origin.file, sha256),
      inHistoryOnly: origin.inHistoryOnly ?? false,
      source: origin.source,
      location,
    }
    if (origin.commit !== undefined) finding.commit = origin.commit
    if (origin.branch !== undefined) finding.branch = origin.branch
    if (showSecrets) finding.secret = f.value
    return finding
  })
}

/**
 * Merges findings with the same fingerprint (one secret seen in many commits): the first seen
 * stays, and it is history-only only if every sighting was.
 */
export function dedupeFindings(findings: readonly Finding[]): Finding[] {
  const byFingerprint = new Map<string, Finding>()
  for (const f of findings) {
    const seen = byFingerprint.get(f.fingerprint)
    if (seen === undefined) byFingerprint.set(f.fingerprint, { ...f })
    else if (!f.inHistoryOnly && seen.inHistoryOnly) byFingerprint.set(f.fingerprint, { ...f })
  }
  return [...byFingerprint.values()]
}

/** How many leading characters of a fingerprint the scan's table shows; an ignore entry may be that short. */
export const SHOWN_FINGERPRINT_LENGTH = 12
const FINGERPRINT_LENGTH = 32

/**
 * Reads a `.leakgateignore`: one fingerprint a line; `#` starts a comment; blank lines are
 * skipped. A missing file is an empty list. `onProblem` hears of each entry that can ignore nothing.
 */
export function readIgnoreFile(path: string, onProblem?: (problem: string) => void): Set<string> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Set()
    throw err
  }
  return parseIgnore(text, onProblem === undefined ? undefined : (p) => onProblem(`${path}: ${p}`))
}

/**
 * Parses `.leakgateignore` text: one fingerprint a line (whole, or its first 12 characters as the
 * scan's table shows it; any case), `#` comments, blank lines skipped. An entry that is not that
 * leaves nothing out: `onProblem` hears of it, so it does not fail silently.
 */
export function parseIgnore(text: string, onProblem?: (problem: string) => void): Set<string> {
  const out = new Set<string>()
  text.split('\n').forEach((line, i) => {
    const entry = line.replace(/#.*$/, '').trim().split(/\s+/)[0]!.toLowerCase()
    if (entry === '') return
    out.add(entry)
    if (!isFingerprintStart(entry)) {
      onProblem?.(`line ${i + 1}: "${entry.slice(0, 40)}" is not a fingerprint (${SHOWN_FINGERPRINT_LENGTH} to ${FINGERPRINT_LENGTH} hex characters, as a scan prints them): it leaves nothing out`)
    }
  })
  return out
}

function isFingerprintStart(entry: string): boolean {
  return entry.length >= SHOWN_FINGERPRINT_LENGTH && entry.length <= FINGERPRINT_LENGTH && /^[0-9a-f]+$/.test(entry)
}

/**
 * Whether `ignore` leaves out the finding of `fingerprint`: an entry equal to it, or to its first
 * characters (at least the 12 the table shows: shorter ones would leave out unrelated findings).
 */
export function isIgnored(ignore: ReadonlySet<string>, fingerprint: string): boolean {
  if (ignore.size === 0) return false
  for (let n = SHOWN_FINGERPRINT_LENGTH; n <= FINGERPRINT_LENGTH; n++) {
    if (ignore.has(fingerprint.slice(0, n))) return true
  }
  return false
}

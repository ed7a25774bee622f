/**
 * The shapes of leaks as the API shows them and as callers hand them to the store: a leak, its
 * tokens and location, a decision on it, the list's filters. No SQL here; the leak operations
 * (`leak-records.ts`, `leak-decisions.ts`, `leak-findings.ts`, `leak-list.ts`) map rows to these.
 */
import type { LeakAction } from '../../protocol/leak.js'
import type { RiskLevel } from '../config.js'
import type { RiskFactor } from '../risk.js'
import type { VerifiedFormat } from '../detect/rule.js'

/** Where a leak was found; every field optional. */
export interface LeakLocation {
  /** A link to the line (GitHub, GitLab), or where a reported leak is. */
  url?: string
  /** Repository name (`acme/api`). */
  repo?: string
  /** The repository's address (its web page, or the URL it was cloned from), never with a credential. */
  repoUrl?: string
  path?: string
  line?: number
  commit?: string
  branch?: string
}

/** A leak's statuses (the leaks table's CHECK constraint holds the same three). */
export const LEAK_STATUSES = ['open', 'closed', 'false_positive'] as const
/** A leak's status. */
export type LeakStatus = (typeof LEAK_STATUSES)[number]
/**
 * Where a leak's credential is in its rotation: `requested` (an operator asked the issuer to rotate it;
 * the leak stays open and enforced meanwhile), `rotated` (the issuer confirmed; the leak was closed).
 * null: no rotation asked. A state beside the status, not a status of its own.
 */
export const ROTATION_STATES = ['requested', 'rotated'] as const
/** A leak's rotation state (null: none asked). */
export type RotationState = (typeof ROTATION_STATES)[number]
/** What nodes do with a leak's tokens (what nodes and control plane agree on). */
export type { LeakAction }

/** A leak as listed (docs/api.md). */
export interface Leak {
  id: number
  title: string
  source: string
  kind: string | null
  location: LeakLocation
  risk: RiskLevel
  riskFactors: RiskFactor[]
  riskOverridden: boolean
  status: LeakStatus
  action: LeakAction
  /** The rotation asked of the credential's issuer, if any. */
  rotation: RotationState | null
  rotationRequestedAt: string | null
  rotatedAt: string | null
  tokenCount: number
  hits: number
  lastSeenAt: string | null
  createdAt: string
  updatedAt: string
}

/** The state a decision moves a leak between. */
export interface DecisionState {
  action: LeakAction
  status: LeakStatus
  risk: RiskLevel
  /** Present on the entries of a rotation (requested, confirmed). */
  rotation?: RotationState | null
}

/** An audit entry. */
export interface Decision {
  id: number
  leakId: number
  actor: string
  at: string
  from: DecisionState | null
  to: DecisionState
  comment: string | null
}

/** A sighting as shown with a leak. */
export interface Sighting {
  id: number
  leakId: number
  nodeId: string
  sha256: string | null
  at: string
  host: string | null
  method: string | null
  route: string | null
  client: string | null
  verdict: string | null
}

/** A token of a leak, as shown with it: its hash and preview only. */
export interface LeakToken {
  sha256: string
  preview: string
  kind: string | null
}

/** Another leak a scan found at the same repository, commit and file. */
export interface FoundWith {
  id: number
  title: string
  kind: string | null
  status: LeakStatus
}

/** A leak with its tokens, decisions and recent sightings. */
export interface LeakDetail extends Leak {
  /** The other leaks found at the same repository, commit and file (a scan's leaks only). */
  foundWith: FoundWith[]
  tokens: LeakToken[]
  decisions: Decision[]
  sightings: Sighting[]
}

/** A token as the store takes it: its hash and preview only. */
export interface TokenInput {
  sha256: string
  preview: string
  kind?: string | undefined
}

/** A new leak. */
export interface NewLeak {
  title?: string | undefined
  source: string
  kind?: string | undefined
  location?: LeakLocation | undefined
  tokens: TokenInput[]
  /** An operator's risk: kept as an override. */
  risk?: RiskLevel | undefined
  action?: LeakAction | undefined
  comment?: string | undefined
  inHistoryOnly?: boolean | undefined
  /** When the exposure began (a commit date), for the age factor. */
  exposedAt?: string | undefined
  dedupeKey?: string | undefined
  /** The repository, commit and file a scan found it at, as a key the leaks found there share. */
  placeKey?: string | undefined
  /** What vouches for the token's format (the scanner's rule's), for the risk. */
  verifiedFormat?: VerifiedFormat | undefined
}

/** A decision's body. */
export interface DecisionInput {
  action?: LeakAction | undefined
  status?: LeakStatus | undefined
  risk?: RiskLevel | undefined
  comment?: string | undefined
}

/** The leak list's filters (what the list, the bulk decisions and the export share). */
export interface LeakFilter {
  status?: LeakStatus | undefined
  risk?: RiskLevel | undefined
  source?: string | undefined
  action?: LeakAction | undefined
  kind?: string | undefined
  /** Leaks in this rotation state. */
  rotation?: RotationState | undefined
  q?: string | undefined
}

/** Filters and paging of the leak list. */
/** One page of the leak list. */
export interface LeakPage {
  items: Leak[]
  nextCursor: string | null
  /** How many leaks match the filters; with a search, at most the count's bound (`totalIsLowerBound`). */
  total: number
  /** True when a search's count stopped at its bound: more than `total` leaks match. */
  totalIsLowerBound: boolean
}

export interface LeakQuery extends LeakFilter {
  sort?: LeakSort | undefined
  order?: 'asc' | 'desc' | undefined
  limit?: number | undefined
  cursor?: string | undefined
}

/** Why a bulk decision left a leak as it was. */
export type BulkSkipReason = 'not_found' | 'unchanged' | 'not_open'

/** What a bulk decision did: the leaks it moved, those it left (each with why), the index revision after. */
export interface BulkDecisionResult {
  /** How many leaks were asked for (ids given, or the filter's matches). */
  matched: number
  changed: number[]
  skipped: Array<{ id: number; reason: BulkSkipReason; detail: string }>
  /** The index revision once the decisions committed: nodes at or past it enforce them. */
  revision: number
}

/** The distinct sources and kinds of the leaks, with how many leaks each. */
export interface LeakFacets {
  sources: Array<{ value: string; count: number }>
  kinds: Array<{ value: string; count: number }>
}

/** A leak as the CSV export writes it: no token, only the first hex digits of each stored token hash. */
export interface LeakExportRow {
  id: number
  title: string
  kind: string | null
  source: string
  risk: RiskLevel
  status: LeakStatus
  action: LeakAction
  rotation: RotationState | null
  hits: number
  createdAt: string
  lastSeenAt: string | null
  /** The leak's dedupe fingerprint (a scan's finding fingerprint), when it has one. */
  fingerprint: string | null
  hashPrefixes: string[]
}

/** Columns the list sorts by. */
export type LeakSort = 'createdAt' | 'updatedAt' | 'risk' | 'hits' | 'lastSeenAt' | 'title'

/** How new leaks get their action. */
export interface LeakPolicy {
  defaultAction: LeakAction
  autoBlockRisk: 'off' | RiskLevel
  sightingsKeptPerLeak: number
}

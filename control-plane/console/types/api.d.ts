/**
 * The JSON the console reads from the control plane's API (docs/api.md), as the browser sees it.
 * Written here rather than imported from the server so the console depends on the wire shapes only,
 * never on server code. Types only: nothing here reaches the browser.
 */

/** `GET /v1/me`. */
export interface Session {
  keyId: string
  role: string
  /** The person signed in through OpenID Connect (or a key's owner); absent for a key nobody owns. */
  person?: string
}

/** `GET /v1/meta`: the values the API accepts. Risks run from lowest to highest. */
export interface Meta {
  risks: string[]
  statuses: string[]
  actions: string[]
  sorts: string[]
}

/** `GET /v1/range`: how range checks work on this control plane. */
export interface RangeInfo {
  prefixLength: number
  bucket: number
  anonymous: boolean
  /** The hash key prefixes must be of keyed hashes under; null: plain SHA-256. */
  hashKeyId: string | null
}

/** `GET /v1/range/{prefix}`: the leaked hashes with the prefix, among decoys, sorted. */
export interface RangeAnswer {
  prefix: string
  hashes: string[]
}

/** Where a leak was found; every field optional. */
export interface LeakLocation {
  url?: string
  repo?: string
  repoUrl?: string
  path?: string
  line?: number
  commit?: string
  branch?: string
}

export interface RiskFactor {
  factor: string
  points: number
  detail?: string
}

/** A leak as listed. */
export interface Leak {
  id: number
  title: string
  source: string
  kind: string | null
  location?: LeakLocation
  risk: string
  riskFactors?: RiskFactor[]
  riskOverridden?: boolean
  status: string
  action: string
  /** `requested`, `rotated`, or null when no rotation was asked. */
  rotation?: string | null
  rotationRequestedAt?: string | null
  rotatedAt?: string | null
  tokenCount: number
  hits: number
  lastSeenAt: string | null
  createdAt: string
  updatedAt: string
}

export interface LeakToken {
  sha256: string
  preview?: string
  kind?: string | null
}

/** The action, status and risk a decision moved a leak between. */
export interface LeakState {
  action: string
  status: string
  risk: string
  /** On a rotation's entries only. */
  rotation?: string | null
}

/** An audit entry; `from` is null for a leak's creation. */
export interface Decision {
  id: number
  leakId: number
  actor: string
  at: string
  from: LeakState | null
  to: LeakState
  comment?: string | null
}

export interface Sighting {
  at: string
  verdict: string
  host?: string
  method?: string
  route?: string
  client?: string
  nodeId?: string
  node?: string
}

/** `GET /v1/leaks/:id`. */
/** Another leak a scan found in the same file at the same commit. */
export interface FoundWith {
  id: number
  title: string
  kind: string | null
  status: string
}

export interface LeakDetail extends Leak {
  foundWith?: FoundWith[]
  tokens?: LeakToken[]
  decisions?: Decision[]
  sightings?: Sighting[]
}

/** A page of a cursor-paged list. */
export interface Page<T> {
  items?: T[]
  nextCursor?: string | null
  total?: number
  /** The leak list: true when a search's count stopped at its bound (more than `total` match). */
  totalIsLowerBound?: boolean
}

/** `GET /v1/stats`. */
export interface Stats {
  total?: number
  byRisk?: Record<string, number>
  bySource?: Record<string, number>
  byStatus?: Record<string, number>
  byAction?: Record<string, number>
  riskBySource?: Record<string, Record<string, number>>
}

/** One node of `GET /v1/nodes`. */
export interface FleetNode {
  id: string
  version?: string
  revision?: number
  lag?: number
  indexEntries?: number
  syncAgeSeconds?: number
  lastContactAt?: string | null
  stale?: boolean
}

/** `GET /v1/nodes`. */
export interface Fleet extends Page<FleetNode> {
  revision?: number
}

/** A problem+json body. */
export interface Problem {
  title?: string
  detail?: string
  code?: string
}

/** A webhook endpoint (`GET /v1/webhooks`). */
export interface Webhook {
  id: number
  url: string
  description: string | null
  events: string[]
  format: string
  enabled: boolean
  previousSecretExpiresAt: string | null
  createdAt: string
  updatedAt: string
}

/** The answer that makes an endpoint or rotates its secret: the one time the secret is shown. */
export interface WebhookWithSecret extends Webhook {
  secret: string
}

/** One delivery (`GET /v1/webhooks/:id/deliveries`). */
export interface WebhookDelivery {
  id: number
  webhookId: number
  eventId: number
  eventType: string
  status: string
  attempts: number
  responseCode: number | null
  durationMs: number | null
  lastError: string | null
  nextAttemptAt: string | null
  createdAt: string
  deliveredAt: string | null
}

/** An API key as listed (`GET /v1/keys`): never the key or its hash. */
export interface ApiKey {
  keyId: string
  name: string | null
  owner: string | null
  role: string
  createdAt: string
  expiresAt: string | null
  lastUsedAt: string | null
  revokedAt: string | null
  revokedBy: string | null
  state: 'active' | 'retiring' | 'revoked' | 'expired'
}

/** The answer that makes or rotates a key: the one time the key is shown. */
export interface NewApiKey extends ApiKey {
  key: string
}

/** What a public source says of itself (`state` of `GET /v1/public-sources`); more fields may come. */
export interface PublicSourceState {
  rateLimitRemaining?: number
  rateLimitResetAt?: string
  pollIntervalSeconds?: number
  nextPollAt?: string
  /** How old the newest content handled was when handled (seconds). */
  lagSeconds?: number
  /** GitHub's events: events may have been missed after this one (the feed moved on). */
  missedAfter?: string
  leaseOwner?: string
  leaseUntil?: string
  [key: string]: unknown
}

/**
 * One row of `GET /v1/public-sources`: a source's, or one shard's (`{id}#{k}/{n}`) when a source runs
 * as N shards, with the lease of the worker running it.
 */
export interface PublicSourceRow {
  sourceId: string
  cursor: string | null
  version: number
  state: PublicSourceState
  lastError: string | null
  units: number
  bytes: number
  updatedAt: string
  leaseOwner?: string | null
  leaseUntil?: string | null
}

/** `GET /v1/leaks/:id/public-places`: one public place a leak's token was seen at. */
export interface PublicPlace {
  sourceId: string
  location: LeakLocation
  seenAt: string
}

/** `GET /v1/public-sources/:id/findings`: a leak a source found, with the newest place it saw. */
export interface PublicFinding extends PublicPlace {
  leakId: number
  title: string
  risk: string
  status: string
  places: number
}

/**
 * The control plane's configuration: one JSON schema, every option with its default, env variable
 * and flag. `config/control-plane.yaml` documents each one; keep the two in step.
 */
import { loadConfig, optionName, type ConfigSchema, type ConfigSources } from '../lib/config.js'
import { ConfigError } from '../lib/errors.js'
import { parseHashKey } from '../protocol/token-hash.js'
import { DEFAULT_LEASE_SECONDS, MAX_SHARDS } from './public-sources/shard.js'
import { PUBLIC_SOURCE_NAMES } from './public-sources/source.js'
import type { PublicSourceSpec } from './public-sources/source-factory.js'

/** Risk levels, lowest first. */
export const RISK_LEVELS = ['low', 'medium', 'high', 'critical'] as const
/** A leak's risk level. */
export type RiskLevel = (typeof RISK_LEVELS)[number]

/** A source the scheduled scanner visits (used by control-plane/detect). */
export interface ScanSourceConfig {
  type: 'dir' | 'git' | 'github' | 'gitlab'
  url?: string
  path?: string
  org?: string
  user?: string
  /** github: the user whose gists are scanned. */
  gists?: string
  /** gitlab: a group's full path (its subgroups are scanned too), or one project's. */
  group?: string
  project?: string
  history?: boolean
  intervalSeconds?: number
}

/** The control plane's limits on what one request may carry. */
export interface LimitsConfig {
  tokensPerLeak: number
  sightingsPerBatch: number
  changesPerResponse: number
  sightingsKeptPerLeak: number
}

/** What the control plane's scans may reach, and how long and large one may grow. */
export interface ScanConfig {
  allowedPaths: string[]
  allowedHosts: string[]
  timeoutSeconds: number
  memoryMb: number
  maxFindings: number
  maxBytes: number
}

/** How scan jobs are retried and watched on PostgreSQL (`leakgate scan-worker`). */
export interface ScanJobsConfig {
  retryLimit: number
  retryDelaySeconds: number
  heartbeatSeconds: number
}

/** How webhook deliveries are sent, retried and bounded. */
export interface WebhooksConfig {
  /** Whether endpoints may be loopback, private, link-local or other non-public addresses. */
  allowPrivateTargets: boolean
  timeoutSeconds: number
  concurrency: number
  retryBaseSeconds: number
  giveUpSeconds: number
  sightedIntervalSeconds: number
  pollMilliseconds: number
  /** Days events and finished deliveries are kept (then deleted). */
  retentionDays: number
}

/** How people map to console roles on OpenID Connect sign-in: by a claim's values, by lists, or both. */
export interface OidcRolesConfig {
  /** The claim whose value (text or list of texts) is looked up in `values` (`groups`, `roles`...). */
  claim?: string
  /** Claim value → the Leakgate role it gives (`admin` or `analyst`). */
  values?: Record<string, 'admin' | 'analyst'>
  /** People (values of the person claim, compared without case) who are admins. */
  admins?: string[]
  /** People who are analysts. */
  analysts?: string[]
}

/** Sign-in to the console through an OpenID Connect provider; off while `issuer` is empty. */
export interface OidcConfig {
  issuer: string
  clientId: string
  /** Absent: a public client (PKCE alone); usually set through LEAKGATE_OIDC_CLIENT_SECRET. */
  clientSecret?: string
  /** The provider's name on the sign-in button ("Sign in with <name>"). */
  name: string
  scopes: string[]
  /** The claim naming the person in the audit trail. */
  personClaim: string
  roles: OidcRolesConfig
  /** How long a console session lasts. */
  sessionHours: number
}

/** How long and large a scan may grow unless configured: the schema's defaults, and the scan service's. */
export const DEFAULT_SCAN_LIMITS = { timeoutSeconds: 3600, memoryMb: 512, maxFindings: 10_000, maxBytes: 4 * 1024 ** 3 } as const

/** The loaded configuration (deep-frozen). */
export interface ControlPlaneConfig {
  port: number
  host: string
  dataDir: string
  /** PostgreSQL for the store instead of the SQLite file in `dataDir`. */
  databaseUrl?: string
  adminKey?: string
  nodeKey?: string
  defaultAction: 'block' | 'monitor'
  autoBlockRisk: 'off' | RiskLevel
  changesRetention: number
  longPollMaxWaitSeconds: number
  nodeStaleSeconds: number
  bodyLimit: number
  maxNodes: number
  nodePruneSeconds: number
  authFailuresPerMinute: number
  rangeAnonymous: boolean
  rangeQueriesPerMinute: number
  requestTimeoutSeconds: number
  headersTimeoutSeconds: number
  maxConnections: number
  metricsKey?: string
  hashKey?: string
  limits: LimitsConfig
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  scanSources: ScanSourceConfig[]
  scan: ScanConfig
  scanJobs: ScanJobsConfig
  scanWorkerConcurrency: number
  riskRecomputeSeconds: number
  /** The console's public address, for links in webhook deliveries ('' for none). */
  publicUrl: string
  webhooks: WebhooksConfig
  oidc: OidcConfig
  scanWorkerMetricsPort: number
  scanJobsInProcess: number
  publicSources: PublicSourceConfig[]
  publicSourceSlots: number
  publicSourceLeaseSeconds: number
  publicSourceRules: string
}

/** A public source the scan workers follow: its name, its shard count and its options (`leakgate watch`'s, in camelCase). */
export interface PublicSourceConfig extends PublicSourceSpec {
  shards: number
}

const KEY_PATTERN = '^[\\x21-\\x7e]{24,256}$'
const KEY_EXPECT = '24 to 256 printable ASCII characters, without spaces'

/** The schema (`lib/config.ts` format). */
export const controlPlaneSchema: ConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    port: { type: 'integer', minimum: 0, maximum: 65535, default: 8080, description: 'TCP port of the API, console and sync (0 picks a free port)', 'x-env': 'LEAKGATE_CP_PORT', 'x-flag': 'port' },
    host: { type: 'string', minLength: 1, default: '0.0.0.0', description: 'address to listen on', 'x-env': 'LEAKGATE_CP_HOST', 'x-flag': 'host' },
    dataDir: { type: 'string', minLength: 1, default: './data', description: 'folder of the SQLite store (leakgate.db)', 'x-env': 'LEAKGATE_DATA_DIR', 'x-flag': 'data-dir' },
    databaseUrl: { type: 'string', pattern: '^postgres(ql)?://', 'x-expect': 'a postgres:// or postgresql:// URL', maxLength: 4096, description: 'the store on PostgreSQL: postgres://user:password@host:5432/database (libpq options such as sslmode in the query string); several control planes may share one database; unset: the SQLite file in dataDir', 'x-env': 'LEAKGATE_DATABASE_URL', 'x-flag': 'database-url', 'x-secret': true },
    adminKey: { type: 'string', pattern: KEY_PATTERN, 'x-expect': KEY_EXPECT, description: 'an admin API key seeded at start (24 to 256 printable characters; stored hashed)', 'x-env': 'LEAKGATE_ADMIN_KEY', 'x-secret': true },
    nodeKey: { type: 'string', pattern: KEY_PATTERN, 'x-expect': KEY_EXPECT, description: 'a node API key seeded at start (24 to 256 printable characters; stored hashed)', 'x-env': 'LEAKGATE_NODE_KEY', 'x-secret': true },
    defaultAction: { type: 'string', enum: ['monitor', 'block'], default: 'monitor', description: 'action of a new leak when neither the request nor autoBlockRisk sets one', 'x-env': 'LEAKGATE_DEFAULT_ACTION', 'x-flag': 'default-action' },
    autoBlockRisk: { type: 'string', enum: ['off', ...RISK_LEVELS], default: 'off', description: 'new leaks at or above this risk are blocked at once; off leaves them at defaultAction', 'x-env': 'LEAKGATE_AUTO_BLOCK_RISK', 'x-flag': 'auto-block-risk' },
    changesRetention: { type: 'integer', minimum: 100, maximum: 100_000_000, default: 1_000_000, description: 'how many index changes are kept for nodes to catch up; an older `since` gets 410', 'x-env': 'LEAKGATE_CHANGES_RETENTION', 'x-flag': 'changes-retention' },
    longPollMaxWaitSeconds: { type: 'integer', minimum: 0, maximum: 30, default: 30, description: 'the longest a changes request is held open (a larger `wait` is cut to this)', 'x-env': 'LEAKGATE_LONG_POLL_MAX_WAIT', 'x-flag': 'long-poll-max-wait' },
    nodeStaleSeconds: { type: 'integer', minimum: 1, maximum: 86_400, default: 30, description: 'a node whose last contact is older than this is shown as stale', 'x-env': 'LEAKGATE_NODE_STALE_SECONDS', 'x-flag': 'node-stale-seconds' },
    bodyLimit: { type: 'integer', minimum: 1024, maximum: 64 * 1024 * 1024, default: 1024 * 1024, description: 'largest request body in bytes; larger ones get 413', 'x-env': 'LEAKGATE_BODY_LIMIT', 'x-flag': 'body-limit' },
    maxNodes: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 1000, description: 'most nodes the fleet may hold; a new node past it is refused (403) and no row is made', 'x-env': 'LEAKGATE_MAX_NODES', 'x-flag': 'max-nodes' },
    nodePruneSeconds: { type: 'integer', minimum: 1, maximum: 31_536_000, default: 604_800, description: 'a node not heard from for this long is removed from the fleet (its key may register again)', 'x-env': 'LEAKGATE_NODE_PRUNE_SECONDS', 'x-flag': 'node-prune-seconds' },
    authFailuresPerMinute: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 30, description: 'failed authentications a client address (or a key id) may make in a minute; past it, its failures get 429 (right keys are never limited)', 'x-env': 'LEAKGATE_AUTH_FAILURES_PER_MINUTE', 'x-flag': 'auth-failures-per-minute' },
    rangeAnonymous: { type: 'boolean', default: false, description: 'answer range checks (GET /v1/range/{prefix}: is a token leaked, asked by a 5-character hash prefix) without an API key; off: a checker, analyst or admin key is needed', 'x-env': 'LEAKGATE_RANGE_ANONYMOUS', 'x-flag': 'range-anonymous' },
    rangeQueriesPerMinute: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 120, description: 'range checks one key (or, without a key, one client address) may make in a minute; past it, 429 with Retry-After', 'x-env': 'LEAKGATE_RANGE_QUERIES_PER_MINUTE', 'x-flag': 'range-queries-per-minute' },
    requestTimeoutSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 30, description: 'longest time to receive a whole request (headers and body); a slower one is cut off (a long-poll\'s wait is not part of it)', 'x-env': 'LEAKGATE_REQUEST_TIMEOUT', 'x-flag': 'request-timeout' },
    headersTimeoutSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 10, description: 'longest time to receive a request\'s headers (at most requestTimeoutSeconds); a silent or trickling client is cut off', 'x-env': 'LEAKGATE_HEADERS_TIMEOUT', 'x-flag': 'headers-timeout' },
    maxConnections: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 5000, description: 'most open connections on the API port; further ones are closed at once (keep it under the process\'s file limit; a node holds two to three: its long-poll, its heartbeats and its sighting reports)', 'x-env': 'LEAKGATE_MAX_CONNECTIONS', 'x-flag': 'max-connections' },
    metricsKey: { type: 'string', pattern: KEY_PATTERN, 'x-expect': KEY_EXPECT, description: 'when set, /metrics needs Authorization: Bearer <this key> (24 to 256 printable characters)', 'x-env': 'LEAKGATE_METRICS_KEY', 'x-secret': true },
    hashKey: { type: 'string', minLength: 1, maxLength: 1024, description: 'the deployment\'s hash key: tokens are stored and synced as HMAC-SHA256(key, SHA-256), so a weak password cannot be found again from its hash; 64 to 256 hex characters (`openssl rand -hex 32`); every node needs the same key; once set, it cannot change', 'x-env': 'LEAKGATE_HASH_KEY', 'x-secret': true },
    limits: {
      type: 'object', additionalProperties: false,
      default: { tokensPerLeak: 100, sightingsPerBatch: 1000, changesPerResponse: 10_000, sightingsKeptPerLeak: 1000 },
      description: 'limits on what one request carries and what is kept',
      properties: {
        tokensPerLeak: { type: 'integer', minimum: 1, maximum: 10_000, default: 100 },
        sightingsPerBatch: { type: 'integer', minimum: 1, maximum: 100_000, default: 1000 },
        changesPerResponse: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 10_000 },
        sightingsKeptPerLeak: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 1000 },
      },
      'x-env': 'LEAKGATE_LIMITS',
    },
    logLevel: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info', description: 'pino log level', 'x-env': 'LEAKGATE_LOG_LEVEL', 'x-flag': 'log-level' },
    scanSources: {
      type: 'array', default: [], maxItems: 1000,
      description: 'sources the scanner visits on a schedule',
      items: {
        type: 'object', additionalProperties: false, required: ['type'],
        properties: {
          type: { type: 'string', enum: ['dir', 'git', 'github', 'gitlab'] },
          url: { type: 'string', minLength: 1, maxLength: 2048 },
          path: { type: 'string', minLength: 1, maxLength: 4096 },
          org: { type: 'string', minLength: 1, maxLength: 200 },
          user: { type: 'string', minLength: 1, maxLength: 200 },
          gists: { type: 'string', minLength: 1, maxLength: 200 },
          group: { type: 'string', minLength: 1, maxLength: 1024 },
          project: { type: 'string', minLength: 1, maxLength: 1024 },
          history: { type: 'boolean', default: false },
          intervalSeconds: { type: 'integer', minimum: 60, maximum: 31_536_000, default: 3600 },
        },
      },
      'x-env': 'LEAKGATE_SCAN_SOURCES',
    },
    scan: {
      type: 'object', additionalProperties: false,
      default: { allowedPaths: [], allowedHosts: ['*'], ...DEFAULT_SCAN_LIMITS },
      description: 'what scans may reach and how far they may go (each scan runs in a child process)',
      properties: {
        allowedPaths: { type: 'array', maxItems: 100, default: [], items: { type: 'string', minLength: 1, maxLength: 4096 } },
        allowedHosts: { type: 'array', maxItems: 1000, default: ['*'], items: { type: 'string', minLength: 1, maxLength: 253, pattern: '^[^\\s/@]+(?:/\\d{1,3})?$', 'x-expect': 'a host name, an IP address or a CIDR range such as 10.0.0.0/8 (no scheme, path or user)' } },
        timeoutSeconds: { type: 'integer', minimum: 1, maximum: 604_800, default: DEFAULT_SCAN_LIMITS.timeoutSeconds },
        memoryMb: { type: 'integer', minimum: 64, maximum: 65_536, default: DEFAULT_SCAN_LIMITS.memoryMb },
        maxFindings: { type: 'integer', minimum: 1, maximum: 10_000_000, default: DEFAULT_SCAN_LIMITS.maxFindings },
        maxBytes: { type: 'integer', minimum: 1024, maximum: 1024 ** 4, default: DEFAULT_SCAN_LIMITS.maxBytes },
      },
      'x-env': 'LEAKGATE_SCAN',
    },
    scanJobs: {
      type: 'object', additionalProperties: false,
      default: { retryLimit: 3, retryDelaySeconds: 30, heartbeatSeconds: 5 },
      description: 'on PostgreSQL, scans are jobs for `leakgate scan-worker` processes: retries after a failed attempt (then the dead-letter queue), their base delay (doubled each time), and how often a worker heartbeats (three missed: the job is retried elsewhere)',
      properties: {
        retryLimit: { type: 'integer', minimum: 0, maximum: 100, default: 3 },
        retryDelaySeconds: { type: 'integer', minimum: 0, maximum: 86_400, default: 30 },
        heartbeatSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 5 },
      },
      'x-env': 'LEAKGATE_SCAN_JOBS',
    },
    riskRecomputeSeconds: { type: 'integer', minimum: 0, maximum: 604_800, default: 3600, description: 'how often open leaks are scored again so factors that age (the exposure\'s age) stay current; replicas on one database run it once per interval between them; 0: never (risk then moves only on sightings, rescans and decisions)', 'x-env': 'LEAKGATE_RISK_RECOMPUTE_SECONDS', 'x-flag': 'risk-recompute-seconds' },
    scanWorkerConcurrency: { type: 'integer', minimum: 1, maximum: 64, default: 2, description: '`leakgate scan-worker`: how many scans it runs at once (each in a child process of scan.memoryMb)', 'x-env': 'LEAKGATE_SCAN_WORKER_CONCURRENCY', 'x-flag': 'concurrency' },
    publicUrl: { type: 'string', pattern: '^(https?://[^\\s]+)?$', maxLength: 2048, default: '', description: 'the address users open the console at (https://leakgate.example.com), for links in webhook deliveries; empty: deliveries carry no link', 'x-env': 'LEAKGATE_PUBLIC_URL', 'x-flag': 'public-url' },
    webhooks: {
      type: 'object', additionalProperties: false,
      default: { allowPrivateTargets: false, timeoutSeconds: 10, concurrency: 8, retryBaseSeconds: 30, giveUpSeconds: 86_400, sightedIntervalSeconds: 3600, pollMilliseconds: 1000, retentionDays: 30 },
      description: 'webhook deliveries: whether endpoints may be loopback or private addresses (off: only public ones, checked at every connection), the timeout of one attempt, how many are sent at once, the first retry\'s delay (doubled each time, with jitter), how long a delivery is retried, the interval between two leak.sighted events of a leak, how often the queue is looked at, and how many days events and finished deliveries are kept',
      properties: {
        allowPrivateTargets: { type: 'boolean', default: false },
        timeoutSeconds: { type: 'number', minimum: 0.1, maximum: 60, default: 10 },
        concurrency: { type: 'integer', minimum: 1, maximum: 256, default: 8 },
        retryBaseSeconds: { type: 'number', minimum: 0.01, maximum: 3600, default: 30 },
        giveUpSeconds: { type: 'integer', minimum: 1, maximum: 604_800, default: 86_400 },
        sightedIntervalSeconds: { type: 'integer', minimum: 1, maximum: 604_800, default: 3600 },
        pollMilliseconds: { type: 'integer', minimum: 50, maximum: 60_000, default: 1000 },
        retentionDays: { type: 'integer', minimum: 1, maximum: 3650, default: 30 },
      },
      'x-env': 'LEAKGATE_WEBHOOKS',
    },
    oidc: {
      type: 'object', additionalProperties: false,
      default: { issuer: '', clientId: '', name: 'OpenID Connect', scopes: ['openid', 'email', 'profile'], personClaim: 'email', roles: {}, sessionHours: 12 },
      description: 'console sign-in through an OpenID Connect provider (docs/oidc.md): its issuer URL, this client\'s id and secret, the name on the sign-in button, the scopes asked for, the claim naming the person, how people map to roles (a claim\'s values, lists of people, or both), and how many hours a console session lasts; off while issuer is empty',
      properties: {
        issuer: { type: 'string', maxLength: 2048, pattern: '^(https?://[^\\s]+)?$', 'x-expect': 'an http:// or https:// URL (the provider\'s issuer, as its /.well-known/openid-configuration names it)', default: '', 'x-env': 'LEAKGATE_OIDC_ISSUER' },
        clientId: { type: 'string', maxLength: 512, default: '', 'x-env': 'LEAKGATE_OIDC_CLIENT_ID' },
        clientSecret: { type: 'string', minLength: 1, maxLength: 4096, 'x-env': 'LEAKGATE_OIDC_CLIENT_SECRET', 'x-secret': true },
        name: { type: 'string', minLength: 1, maxLength: 40, default: 'OpenID Connect', 'x-env': 'LEAKGATE_OIDC_NAME' },
        scopes: { type: 'array', maxItems: 50, default: ['openid', 'email', 'profile'], items: { type: 'string', pattern: '^[\\x21\\x23-\\x5b\\x5d-\\x7e]{1,200}$', 'x-expect': 'a scope name (printable, no space, quote or backslash)' }, 'x-env': 'LEAKGATE_OIDC_SCOPES' },
        personClaim: { type: 'string', minLength: 1, maxLength: 200, default: 'email', 'x-env': 'LEAKGATE_OIDC_PERSON_CLAIM' },
        roles: {
          type: 'object', additionalProperties: false, default: {},
          properties: {
            claim: { type: 'string', minLength: 1, maxLength: 200 },
            values: { type: 'object', maxProperties: 1000, additionalProperties: { type: 'string', enum: ['admin', 'analyst'] } },
            admins: { type: 'array', maxItems: 10_000, items: { type: 'string', minLength: 1, maxLength: 320 } },
            analysts: { type: 'array', maxItems: 10_000, items: { type: 'string', minLength: 1, maxLength: 320 } },
          },
          'x-env': 'LEAKGATE_OIDC_ROLES',
        },
        sessionHours: { type: 'number', minimum: 0.01, maximum: 720, default: 12, 'x-env': 'LEAKGATE_OIDC_SESSION_HOURS' },
      },
      'x-env': 'LEAKGATE_OIDC',
    },
    scanWorkerMetricsPort: { type: 'integer', minimum: 0, maximum: 65535, default: 0, description: '`leakgate scan-worker`: TCP port of its Prometheus /metrics (on host; needs metricsKey like the control plane\'s when that is set); 0: none', 'x-env': 'LEAKGATE_SCAN_WORKER_METRICS_PORT', 'x-flag': 'metrics-port' },
    publicSources: {
      type: 'array', default: [], maxItems: 100,
      description: '`leakgate scan-worker`: public sources the workers follow between them, each split into `shards` run under leases (the options are `leakgate watch`\'s, in camelCase)',
      items: {
        type: 'object', additionalProperties: false, required: ['source'],
        properties: {
          source: { type: 'string', enum: [...PUBLIC_SOURCE_NAMES] },
          shards: { type: 'integer', minimum: 1, maximum: MAX_SHARDS, default: 1 },
          apiUrl: { type: 'string', pattern: '^https?://', maxLength: 2048 },
          webUrl: { type: 'string', pattern: '^https?://', maxLength: 2048 },
          archiveUrl: { type: 'string', pattern: '^https?://', maxLength: 2048 },
          from: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}-\\d{1,2}$', 'x-expect': 'an hour as GH Archive names its files: YYYY-MM-DD-H (UTC)' },
          to: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}-\\d{1,2}$', 'x-expect': 'an hour as GH Archive names its files: YYYY-MM-DD-H (UTC)' },
          queries: { type: 'array', maxItems: 100, items: { type: 'string', minLength: 1, maxLength: 256 } },
          listUrl: { type: 'string', pattern: '^https?://', maxLength: 2048 },
          rawUrlTemplate: { type: 'string', pattern: '^https?://', maxLength: 2048 },
          fields: {
            type: 'object', additionalProperties: false,
            properties: Object.fromEntries(['key', 'date', 'rawUrl', 'publicUrl'].map((f) => [f, { type: 'string', minLength: 1, maxLength: 100 }])),
          },
          limit: { type: 'integer', minimum: 1, maximum: 9999 },
          registryUrl: { type: 'string', pattern: '^https?://', maxLength: 2048 },
          changesUrl: { type: 'string', pattern: '^https?://', maxLength: 2048 },
          since: { type: 'string', minLength: 1, maxLength: 200 },
          indexUrl: { type: 'string', pattern: '^https?://', maxLength: 2048 },
          filesUrl: { type: 'string', pattern: '^https?://', maxLength: 2048 },
        },
      },
      'x-env': 'LEAKGATE_PUBLIC_SOURCES',
    },
    publicSourceSlots: { type: 'integer', minimum: 0, maximum: 64, default: 1, description: '`leakgate scan-worker`: shards of each of publicSources it runs at once, besides its scans; 0: none', 'x-env': 'LEAKGATE_PUBLIC_SOURCE_SLOTS', 'x-flag': 'public-source-slots' },
    publicSourceLeaseSeconds: { type: 'integer', minimum: 2, maximum: 3600, default: DEFAULT_LEASE_SECONDS, description: '`leakgate scan-worker`: how long a shard\'s lease holds unless renewed; a stopped worker\'s shards are taken over after it', 'x-env': 'LEAKGATE_PUBLIC_SOURCE_LEASE_SECONDS', 'x-flag': 'public-source-lease-seconds' },
    publicSourceRules: { type: 'string', maxLength: 4096, default: '', description: '`leakgate scan-worker`: a rules file of the organisation\'s own token formats, for publicSources (as `leakgate watch --rules`); the issued-hash set is used either way; empty: none', 'x-env': 'LEAKGATE_PUBLIC_SOURCE_RULES', 'x-flag': 'public-source-rules' },
    scanJobsInProcess: { type: 'integer', minimum: 0, maximum: 64, default: 0, description: 'on PostgreSQL: scan jobs this control plane takes from the queue and runs itself at once, as a `leakgate scan-worker` would (a small deployment then needs no worker process); 0: it only queues them; on SQLite it runs every scan itself and this is unused', 'x-env': 'LEAKGATE_SCAN_JOBS_IN_PROCESS', 'x-flag': 'scan-jobs-in-process' },
  },
}

/**
 * Loads the control plane's configuration from file, env and flags.
 * @throws {ConfigError} naming each bad option, its env variable and flag.
 */
export function loadControlPlaneConfig(sources: ConfigSources): Readonly<ControlPlaneConfig> {
  const config = loadConfig<ControlPlaneConfig>(controlPlaneSchema, sources)
  hashKeyOf(config)
  if (config.adminKey !== undefined && config.adminKey === config.nodeKey) {
    throw new ConfigError(
      'adminKey option (LEAKGATE_ADMIN_KEY) and nodeKey option (LEAKGATE_NODE_KEY) must differ: one key has one role',
    )
  }
  if (config.headersTimeoutSeconds > config.requestTimeoutSeconds) {
    throw new ConfigError(
      'headersTimeoutSeconds option (LEAKGATE_HEADERS_TIMEOUT) must not exceed requestTimeoutSeconds (LEAKGATE_REQUEST_TIMEOUT): the headers are part of the request',
    )
  }
  checkOidc(config)
  return config
}

/**
 * Refuses an OpenID Connect setup that could not sign anyone in: an issuer without a client id or a
 * public URL (the redirect URI is made from it), or no way for a person to get a role.
 */
function checkOidc(config: Readonly<ControlPlaneConfig>): void {
  const oidc = config.oidc
  if (oidc.issuer === '') return
  if (oidc.clientId === '') throw new ConfigError('oidc.clientId (LEAKGATE_OIDC_CLIENT_ID) is required with oidc.issuer (LEAKGATE_OIDC_ISSUER): register Leakgate with the provider and give its client id')
  if (config.publicUrl === '') throw new ConfigError('publicUrl option (LEAKGATE_PUBLIC_URL, --public-url) is required with oidc.issuer (LEAKGATE_OIDC_ISSUER): the provider sends people back to <publicUrl>/auth/oidc/callback')
  if (!oidc.scopes.includes('openid')) throw new ConfigError('oidc.scopes (LEAKGATE_OIDC_SCOPES) must include "openid": without it the provider sends no ID token')
  const r = oidc.roles
  const byClaim = r.claim !== undefined && Object.keys(r.values ?? {}).length > 0
  const byList = (r.admins?.length ?? 0) + (r.analysts?.length ?? 0) > 0
  if (!byClaim && !byList) {
    throw new ConfigError('oidc.roles (LEAKGATE_OIDC_ROLES) must give roles: a claim with its values ({"claim": "groups", "values": {"leakgate-admins": "admin"}}), lists of people ({"admins": ["alice@example.com"]}), or both')
  }
  if ((r.claim === undefined) !== (r.values === undefined)) {
    throw new ConfigError('oidc.roles (LEAKGATE_OIDC_ROLES): claim and values go together (the claim whose values map to roles, and that map)')
  }
}

/**
 * A full configuration from the defaults plus `overrides` (validated like any other source), for tests
 * and for embedding the control plane.
 */
export function defaultControlPlaneConfig(overrides: Record<string, unknown> = {}): Readonly<ControlPlaneConfig> {
  const properties: ConfigSchema['properties'] = {}
  for (const key of Object.keys(overrides)) {
    if (!(key in controlPlaneSchema.properties)) throw new TypeError(`unknown control-plane option "${key}"`)
  }
  for (const [key, prop] of Object.entries(controlPlaneSchema.properties)) {
    // An override becomes the default, so the schema still validates it.
    properties[key] = key in overrides ? { ...prop, default: overrides[key] } : prop
  }
  const config = loadConfig<ControlPlaneConfig>({ ...controlPlaneSchema, properties }, {})
  hashKeyOf(config)
  checkOidc(config)
  return config
}

/**
 * The `hashKey` option as bytes, or undefined when none is set.
 * @throws {ConfigError} naming the option when the key is not 32 to 128 random bytes in hex.
 */
export function hashKeyOf(config: Readonly<Pick<ControlPlaneConfig, 'hashKey'>>): Buffer | undefined {
  if (config.hashKey === undefined) return undefined
  const parsed = parseHashKey(config.hashKey)
  if ('reason' in parsed) throw new ConfigError(`${optionName(controlPlaneSchema, 'hashKey')} ${parsed.reason}; make one with \`openssl rand -hex 32\``)
  return parsed.key
}

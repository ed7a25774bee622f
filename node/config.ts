/**
 * The edge node's configuration: one JSON schema, loaded from file, then env, then flags
 * (lib/config.ts). `config/node.yaml` documents every option with its default.
 */
import { availableParallelism, hostname } from 'node:os'
import { loadConfig, optionName, type ConfigSchema, type ConfigSources } from '../lib/config.js'
import { ConfigError } from '../lib/errors.js'
import { keyedTokenHex, parseHashKey, sha256Hex } from '../protocol/token-hash.js'

/**
 * Where a credential is taken from: `header` (authorization and proxy-authorization read as
 * `<scheme> <credential>`), `query` (a parameter), `cookie`, or `path` (every segment of the path).
 */
export type CredentialPlace =
  | {
      in: 'header' | 'query' | 'cookie'
      /** Header, parameter or cookie name (headers case-insensitive). */
      name: string
    }
  | { in: 'path' }

/** The node's validated, frozen configuration. */
export interface NodeConfig {
  port: number
  adminPort: number
  host: string
  adminHost: string
  /** `proxy`: forward to `upstream`; `check`: answer a gateway's authorization subrequests (check-mode.ts). */
  mode: 'proxy' | 'check'
  /** A second port answering checks beside the proxy (proxy mode only). */
  checkPort?: number
  /** Required in proxy mode; check mode forwards nothing. */
  upstream?: string
  controlPlane: string
  /** A cache in front of the control plane (nginx, a CDN) that snapshots are fetched through, at their immutable URL. */
  snapshotUrl?: string
  tlsCert?: string
  tlsKey?: string
  nodeKey?: string
  hashKey?: string
  nodeId: string
  cacheDir: string
  index?: string
  noIndex: 'open' | 'closed'
  credentialPlaces: readonly CredentialPlace[]
  maxCredentials: number
  maxCredentialLength: number
  minCandidateLength: number
  cacheSize: number
  falsePositiveRate: number
  sightingBufferSize: number
  sightingBatchSize: number
  sightingFlushMs: number
  syncWaitSeconds: number
  heartbeatMs: number
  persistDebounceMs: number
  bodyLimit: number
  bodyCheckLimit: number
  bodyCheckOverflow: 'pass' | 'refuse'
  maxHeaderSize: number
  maxConnections: number
  upstreamConnections: number
  keepAliveTimeoutMs: number
  requestTimeoutMs: number
  upstreamTimeoutMs: number
  trustProxy: boolean
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  /** Proxy processes on the one port: `auto` (one a core) or a count; `1` is a single process (see `workerCount`). */
  workers: string
}

/** The default places, as README's tour lists them (the edge node's credentials). */
export const DEFAULT_CREDENTIAL_PLACES: readonly CredentialPlace[] = [
  { in: 'header', name: 'authorization' },
  // Forwarded like any header, so an upstream may read it as it reads Authorization.
  { in: 'header', name: 'proxy-authorization' },
  { in: 'header', name: 'x-api-key' },
  { in: 'header', name: 'api-key' },
  { in: 'query', name: 'api_key' },
  { in: 'query', name: 'access_token' },
  { in: 'query', name: 'token' },
  { in: 'query', name: 'key' },
  // Telegram-style `/bot<token>/`, webhook URLs: on, since it costs about 0.1 µs a request and one lookup
  // for each segment that is not plainly a word (bench/RESULTS.md, "Credential candidates").
  { in: 'path' },
]

/** The node's configuration schema (`x-env`, `x-flag`: see lib/config.ts). */
export const nodeConfigSchema: ConfigSchema = {
  type: 'object',
  additionalProperties: false,
  // `upstream` is required in proxy mode only: loadNodeConfig checks it.
  properties: {
    port: { type: 'integer', minimum: 0, maximum: 65535, default: 8000, description: 'proxy port', 'x-env': 'LEAKGATE_PORT', 'x-flag': 'port' },
    adminPort: { type: 'integer', minimum: 0, maximum: 65535, default: 9100, description: 'admin port: /metrics, /healthz, /readyz', 'x-env': 'LEAKGATE_ADMIN_PORT', 'x-flag': 'admin-port' },
    host: { type: 'string', default: '0.0.0.0', minLength: 1, description: 'address the proxy listens on', 'x-env': 'LEAKGATE_HOST', 'x-flag': 'host' },
    adminHost: { type: 'string', default: '0.0.0.0', minLength: 1, description: 'address the admin port listens on', 'x-env': 'LEAKGATE_ADMIN_HOST', 'x-flag': 'admin-host' },
    mode: { type: 'string', enum: ['proxy', 'check'], default: 'proxy', description: 'proxy: forward to the upstream; check: forward nothing, answer a gateway\'s authorization subrequests (nginx auth_request, Envoy ext_authz, Traefik ForwardAuth) with 200 or 403', 'x-env': 'LEAKGATE_MODE', 'x-flag': 'mode' },
    checkPort: { type: 'integer', minimum: 0, maximum: 65535, description: 'in proxy mode, also answer authorization subrequests on this port, as check mode does', 'x-env': 'LEAKGATE_CHECK_PORT', 'x-flag': 'check-port' },
    upstream: { type: 'string', pattern: '^https?://[^/?#]+(/[^?#]*)?$', 'x-expect': 'an http:// or https:// URL: host, port and an optional path, without query or fragment', description: 'the API behind the node: http(s)://host:port, optionally with a path prefix', 'x-env': 'LEAKGATE_UPSTREAM', 'x-flag': 'upstream' },
    tlsCert: { type: 'string', minLength: 1, description: 'PEM certificate chain: the proxy port serves TLS (HTTP/2 and HTTP/1.1); with tlsKey', 'x-env': 'LEAKGATE_TLS_CERT', 'x-flag': 'tls-cert' },
    tlsKey: { type: 'string', minLength: 1, description: 'PEM private key of tlsCert', 'x-env': 'LEAKGATE_TLS_KEY', 'x-flag': 'tls-key' },
    controlPlane: { type: 'string', pattern: '^https?://', 'x-expect': 'an http:// or https:// URL', default: 'http://127.0.0.1:8080', description: 'control plane base URL', 'x-env': 'LEAKGATE_CONTROL_PLANE', 'x-flag': 'control-plane' },
    snapshotUrl: { type: 'string', pattern: '^https?://[^?#]+$', 'x-expect': 'an http:// or https:// URL without query or fragment', description: 'base URL of a cache in front of the control plane (nginx, a CDN): snapshots are fetched through it at their immutable URL, /v1/sync/snapshot/<revision>; without it, from the control plane\'s own URL, which may be such a cache too', 'x-env': 'LEAKGATE_SNAPSHOT_URL', 'x-flag': 'snapshot-url' },
    nodeKey: { type: 'string', minLength: 1, maxLength: 200, description: 'API key with the node role', 'x-env': 'LEAKGATE_NODE_KEY', 'x-secret': true },
    hashKey: { type: 'string', minLength: 1, maxLength: 1024, description: 'the control plane\'s hash key (the same hex string): each credential is looked up by its keyed hash; a node without it, or with another, is refused by the control plane and keeps its last index', 'x-env': 'LEAKGATE_HASH_KEY', 'x-secret': true },
    nodeId: { type: 'string', minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9._:-]+$', 'x-expect': 'letters, digits, dots, underscores, colons and hyphens', default: sanitizeId(hostname()), description: 'this node\'s name in the fleet', 'x-env': 'LEAKGATE_NODE_ID', 'x-flag': 'node-id' },
    cacheDir: { type: 'string', minLength: 1, default: './data/node', description: 'where the last good index is kept', 'x-env': 'LEAKGATE_CACHE_DIR', 'x-flag': 'cache-dir' },
    index: { type: 'string', minLength: 1, description: 'enforce this snapshot file and use no control plane', 'x-env': 'LEAKGATE_INDEX', 'x-flag': 'index' },
    noIndex: { type: 'string', enum: ['open', 'closed'], default: 'open', description: 'before any index: forward (open) or answer 503 (closed)', 'x-env': 'LEAKGATE_NO_INDEX', 'x-flag': 'no-index' },
    credentialPlaces: {
      type: 'array', minItems: 1, maxItems: 64, default: DEFAULT_CREDENTIAL_PLACES,
      description: 'where credentials are taken from',
      items: {
        type: 'object', additionalProperties: false, required: ['in'],
        properties: { in: { type: 'string', enum: ['header', 'query', 'cookie', 'path'] }, name: { type: 'string', minLength: 1, maxLength: 100, pattern: '^[!#$%&\'*+.^_`|~0-9A-Za-z-]+$', 'x-expect': 'an HTTP field name (letters, digits and !#$%&\'*+.^_`|~-)' } },
        // A name for every place but `path`, which is every segment.
        if: { properties: { in: { const: 'path' } } }, then: { not: { required: ['name'] } }, else: { required: ['name'] },
      },
      'x-env': 'LEAKGATE_CREDENTIAL_PLACES',
    } as ConfigSchema['properties'][string],
    maxCredentials: { type: 'integer', minimum: 1, maximum: 1000, default: 64, description: 'more candidate credentials in one request: 400', 'x-env': 'LEAKGATE_MAX_CREDENTIALS' },
    maxCredentialLength: { type: 'integer', minimum: 16, maximum: 65536, default: 8192, description: 'a longer credential: 400', 'x-env': 'LEAKGATE_MAX_CREDENTIAL_LENGTH' },
    minCandidateLength: { type: 'integer', minimum: 1, maximum: 256, default: 8, description: 'pieces of a credential shorter than this are not looked up (a place\'s whole value always is)', 'x-env': 'LEAKGATE_MIN_CANDIDATE_LENGTH' },
    cacheSize: { type: 'integer', minimum: 0, maximum: 10_000_000, default: 100_000, description: 'LRU of recent verdicts (entries)', 'x-env': 'LEAKGATE_CACHE_SIZE' },
    falsePositiveRate: { type: 'number', minimum: 0.000001, maximum: 0.5, default: 0.01, description: 'bloom filter false-positive rate', 'x-env': 'LEAKGATE_FALSE_POSITIVE_RATE' },
    sightingBufferSize: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 10_000, description: 'sightings kept while waiting to be sent; more are dropped and counted', 'x-env': 'LEAKGATE_SIGHTING_BUFFER_SIZE' },
    sightingBatchSize: { type: 'integer', minimum: 1, maximum: 1000, default: 500, description: 'sightings a POST /v1/sightings', 'x-env': 'LEAKGATE_SIGHTING_BATCH_SIZE' },
    sightingFlushMs: { type: 'integer', minimum: 10, maximum: 600_000, default: 1000, description: 'how often sightings are sent', 'x-env': 'LEAKGATE_SIGHTING_FLUSH_MS' },
    syncWaitSeconds: { type: 'integer', minimum: 0, maximum: 30, default: 25, description: 'long-poll wait of /v1/sync/changes', 'x-env': 'LEAKGATE_SYNC_WAIT_SECONDS' },
    heartbeatMs: { type: 'integer', minimum: 100, maximum: 600_000, default: 10_000, description: 'heartbeat period', 'x-env': 'LEAKGATE_HEARTBEAT_MS' },
    persistDebounceMs: { type: 'integer', minimum: 0, maximum: 600_000, default: 1000, description: 'delay before changes are written to the cache', 'x-env': 'LEAKGATE_PERSIST_DEBOUNCE_MS' },
    bodyLimit: { type: 'integer', minimum: 0, maximum: 1_073_741_824, default: 10_485_760, description: 'largest request body in bytes: 413 beyond', 'x-env': 'LEAKGATE_BODY_LIMIT' },
    bodyCheckLimit: { type: 'integer', minimum: 0, maximum: 67_108_864, default: 65_536, description: 'form and JSON bodies are buffered and checked for credentials up to this many bytes', 'x-env': 'LEAKGATE_BODY_CHECK_LIMIT' },
    bodyCheckOverflow: { type: 'string', enum: ['pass', 'refuse'], default: 'refuse', description: 'a form or JSON body past bodyCheckLimit: forward it unchecked and count it (pass), or answer 413 (refuse)', 'x-env': 'LEAKGATE_BODY_CHECK_OVERFLOW' },
    maxHeaderSize: { type: 'integer', minimum: 1024, maximum: 1_048_576, default: 16_384, description: 'largest request head in bytes: 431 beyond', 'x-env': 'LEAKGATE_MAX_HEADER_SIZE' },
    maxConnections: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 10_000, description: 'client connections at once; more are refused', 'x-env': 'LEAKGATE_MAX_CONNECTIONS' },
    upstreamConnections: { type: 'integer', minimum: 1, maximum: 10_000, default: 128, description: 'keep-alive connections to the upstream', 'x-env': 'LEAKGATE_UPSTREAM_CONNECTIONS' },
    keepAliveTimeoutMs: { type: 'integer', minimum: 0, maximum: 3_600_000, default: 72_000, description: 'idle client keep-alive', 'x-env': 'LEAKGATE_KEEP_ALIVE_TIMEOUT_MS' },
    requestTimeoutMs: { type: 'integer', minimum: 0, maximum: 3_600_000, default: 120_000, description: 'longest client request (0: none)', 'x-env': 'LEAKGATE_REQUEST_TIMEOUT_MS' },
    upstreamTimeoutMs: { type: 'integer', minimum: 1, maximum: 3_600_000, default: 60_000, description: 'upstream headers/body timeout: 504 beyond', 'x-env': 'LEAKGATE_UPSTREAM_TIMEOUT_MS' },
    trustProxy: { type: 'boolean', default: false, description: 'take the client address from X-Forwarded-For (behind a load balancer)', 'x-env': 'LEAKGATE_TRUST_PROXY' },
    workers: { type: 'string', pattern: '^(auto|[1-9][0-9]{0,2})$', 'x-expect': '"auto" or a number of processes from 1 to 999', default: '1', description: 'proxy processes sharing the port (node:cluster), fed by one sync client: auto (one a core) or a count; 1: a single process', 'x-env': 'LEAKGATE_WORKERS', 'x-flag': 'workers' },
    logLevel: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info', description: 'log level', 'x-env': 'LEAKGATE_LOG_LEVEL', 'x-flag': 'log-level' },
  },
}

function sanitizeId(name: string): string {
  const id = name.replace(/[^A-Za-z0-9._:-]/g, '-').slice(0, 100)
  return id === '' ? 'node' : id
}

/**
 * Loads the node configuration (file, then env, then flags).
 * @throws {ConfigError} naming each bad option with its env variable and flag.
 */
export function loadNodeConfig(sources: ConfigSources): Readonly<NodeConfig> {
  const config = loadConfig<NodeConfig>(nodeConfigSchema, sources)
  nodeHashKeyOf(config)
  if (config.mode === 'proxy' && config.upstream === undefined) {
    throw new ConfigError(`invalid configuration:\n  - ${optionName(nodeConfigSchema, 'upstream')} is required (or ${optionName(nodeConfigSchema, 'mode')} check, which forwards nothing)`)
  }
  if (config.mode === 'check' && config.checkPort !== undefined) {
    throw new ConfigError(`invalid configuration:\n  - ${optionName(nodeConfigSchema, 'checkPort')} is for proxy mode; in check mode the ${optionName(nodeConfigSchema, 'port')} answers the checks`)
  }
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) {
    throw new ConfigError(`${optionName(nodeConfigSchema, 'tlsCert')} and ${optionName(nodeConfigSchema, 'tlsKey')} go together: give both, or neither for plain HTTP`)
  }
  return config
}

/**
 * The `hashKey` option as bytes, or undefined when none is set.
 * @throws {ConfigError} naming the option when the key is not 32 to 128 random bytes in hex.
 */
export function nodeHashKeyOf(config: Readonly<Pick<NodeConfig, 'hashKey'>>): Buffer | undefined {
  if (config.hashKey === undefined) return undefined
  const parsed = parseHashKey(config.hashKey)
  if ('reason' in parsed) throw new ConfigError(`${optionName(nodeConfigSchema, 'hashKey')} ${parsed.reason}; use the control plane's key`)
  return parsed.key
}

/**
 * How a sighting names a credential: by the hash the index holds (keyed with a hash key), never by a
 * plain SHA-256 the key was meant to replace.
 */
export function sightingHashOf(config: Readonly<Pick<NodeConfig, 'hashKey'>>): (credential: string) => string {
  const hashKey = nodeHashKeyOf(config)
  return hashKey === undefined ? sha256Hex : (credential: string): string => keyedTokenHex(hashKey, credential)
}

/** How many proxy processes `workers` asks for: `auto` is one a core the process may use. */
export function workerCount(config: Readonly<Pick<NodeConfig, 'workers'>>): number {
  return config.workers === 'auto' ? availableParallelism() : Number(config.workers)
}

/**
 * Every error code of Leakgate (`LEAKGATE_ERR_*`), defined once here with `@fastify/error`, each with
 * the HTTP status it maps to. The node, the control plane, the scanner, the leak index and the config
 * loader all throw these classes; docs/api.md lists exactly these codes (errors.test.ts checks both ways).
 *
 * Callers branch on a class, never on a code spelled out: `err instanceof SnapshotTruncatedError`, or
 * `err.code === SnapshotTruncatedError.code` where only a code is at hand. Tests check `code`, never
 * message text. No message carries a credential: only ids, counts, limits, paths and option names.
 *
 * Errors that never become an HTTP answer (config, leak index, sync) carry 500: if one ever reached a
 * reply it would be a fault of ours, and the reply would say nothing more (control-plane/errors.ts).
 */
import createError, { type FastifyError, type FastifyErrorConstructor } from '@fastify/error'

/** An error of the registry: its code and status are always set. */
export type LeakgateError = FastifyError & { code: string; statusCode: number }

/**
 * A class of the registry: `@fastify/error`'s constructor, with its `code` and `statusCode` readable
 * without making an instance. `A` is what the message's `%s` placeholders take, then an optional
 * `{ cause }` for the library error it wraps.
 */
export type LeakgateErrorClass<A extends unknown[] = [detail: string, options?: { cause: unknown }]> = FastifyErrorConstructor<
  { code: string; statusCode: number },
  A
> & { readonly code: string; readonly statusCode: number }

const registry = new Map<string, LeakgateErrorClass<unknown[]>>()

/** Defines a class, refusing a code defined twice (at import time, so no build ships with one). */
function define<A extends unknown[] = [detail: string, options?: { cause: unknown }]>(code: string, message: string, statusCode: number): LeakgateErrorClass<A> {
  if (!/^LEAKGATE_ERR_[A-Z_]+$/.test(code)) throw new TypeError(`error code ${code} must look like LEAKGATE_ERR_NAME`)
  if (registry.has(code)) throw new TypeError(`error code ${code} is defined twice`)
  const E = Object.assign(createError<A>(code, message, statusCode), { code, statusCode }) as LeakgateErrorClass<A>
  registry.set(code, E as unknown as LeakgateErrorClass<unknown[]>)
  return E
}

// ---------------------------------------------------------------------------------------------------
// Answered by the control plane and by the node.

/** 400: the request's shape or values are wrong (the control plane), or it cannot be forwarded as sent (the node); `detail` says why. */
export const BadRequestError = define('LEAKGATE_ERR_BAD_REQUEST', '%s', 400)

/** 413: the request body is larger than the `bodyLimit` option allows. Takes the limit in bytes. */
export const BodyTooLargeError = define<[limit: number]>('LEAKGATE_ERR_BODY_TOO_LARGE', 'the request body is larger than %s bytes', 413)

/** 500: a fault of ours; `detail` never includes internals, the log has them. */
export const InternalError = define('LEAKGATE_ERR_INTERNAL', '%s', 500)

// ---------------------------------------------------------------------------------------------------
// Answered by the control plane.

/** 400: the body, query or params failed the route's JSON schema; `detail` names the field. */
export const ValidationError = define('LEAKGATE_ERR_VALIDATION', '%s', 400)

/** 401: no API key, or a key the control plane does not know. */
export const UnauthorizedError = define('LEAKGATE_ERR_UNAUTHORIZED', '%s', 401)

/** 403: a known key whose role lacks the right. */
export const ForbiddenError = define('LEAKGATE_ERR_FORBIDDEN', '%s', 403)

/** 404: no such leak, scan, or route. */
export const NotFoundError = define('LEAKGATE_ERR_NOT_FOUND', '%s', 404)

/** 403: a node key reporting as a node other than the one it is bound to (its first node id), or as a node another key owns. */
export const NodeIdentityError = define('LEAKGATE_ERR_NODE_IDENTITY', '%s', 403)

/** 403: a new node past the `maxNodes` option; no row is made. Takes the limit. */
export const NodeLimitError = define<[limit: number]>('LEAKGATE_ERR_NODE_LIMIT', 'this control plane already has %s nodes (maxNodes option, LEAKGATE_MAX_NODES); remove a node or raise the limit', 403)

/** 429: too many failed authentications from this address or for this key id; `Retry-After` says when to try again. */
export const RateLimitedError = define('LEAKGATE_ERR_RATE_LIMITED', '%s', 429)

/** 410: the changes asked for are no longer kept (or the store was reset); fetch the snapshot. */
export const SyncGoneError = define('LEAKGATE_ERR_SYNC_GONE', '%s', 410)

/**
 * 409: hash keys that do not match. Answered to a node whose `Leakgate-Hash-Key-Id` (or its absence)
 * differs from the store's hash key, and thrown at start by a control plane whose `hashKey` option
 * differs from the key its store was converted with (or is missing): either would miss every leak.
 */
export const HashKeyMismatchError = define('LEAKGATE_ERR_HASH_KEY_MISMATCH', '%s', 409)

/**
 * 409: a hash-prefix range check whose hashes are not the store's: the store holds keyed hashes and the
 * request sent no `Leakgate-Hash-Key-Id` (its prefix is of a plain SHA-256, which no stored hash
 * has), or it sent a key id the store does not have. Answering would say "clean" for every token.
 */
export const RangeHashKeyError = define('LEAKGATE_ERR_RANGE_KEYED', '%s', 409)

/** 415: the body is not JSON. */
export const UnsupportedMediaTypeError = define('LEAKGATE_ERR_UNSUPPORTED_MEDIA_TYPE', '%s', 415)

/** 409: the issuer confirms a rotation (`POST /v1/leaks/:id/rotated`) on a leak whose rotation nobody requested. */
export const RotationNotRequestedError = define('LEAKGATE_ERR_ROTATION_NOT_REQUESTED', '%s', 409)

/** 409: a rotation requested (`POST /v1/leaks/:id/request-rotation`) on a leak that is not open (closed or a false positive). */
export const LeakNotOpenError = define('LEAKGATE_ERR_LEAK_NOT_OPEN', '%s', 409)

/** 409: a bulk decision by filter (`POST /v1/leaks/bulk-decisions`) whose filter no longer matches the count the operator confirmed. */
export const BulkCountChangedError = define('LEAKGATE_ERR_BULK_COUNT_CHANGED', '%s', 409)

/** 400: a bulk decision over more leaks than one request may decide. */
export const BulkTooLargeError = define('LEAKGATE_ERR_BULK_TOO_LARGE', '%s', 400)
/**
 * 409: a key id (`key_` + 8 hex characters of the key's SHA-256) that more than one key shares, given to
 * revoke or rotate; `detail` names each key by a longer id (more characters of its hash) to use instead.
 */
export const AmbiguousKeyIdError = define('LEAKGATE_ERR_KEY_ID_AMBIGUOUS', '%s', 409)

/** 409: revoking (or rotating away) the last admin key that is neither revoked nor expired: nobody could manage the control plane after. */
export const LastAdminKeyError = define('LEAKGATE_ERR_LAST_ADMIN_KEY', '%s', 409)

/** 409: rotating a key that is revoked already; make a new key instead. */
export const KeyRevokedError = define('LEAKGATE_ERR_KEY_REVOKED', '%s', 409)

/** 503: the control plane's `/readyz`: its database cannot be queried, or its schema is not the one this build expects. */
export const NotReadyError = define('LEAKGATE_ERR_NOT_READY', '%s', 503)

// ---------------------------------------------------------------------------------------------------
// Answered by the node on its proxy port (never by the upstream).

/** 403: the request carries a credential of a leak whose action is `block`. Takes the leak id. */
export const LeakedCredentialError = define<[leakId: number]>('LEAKGATE_ERR_LEAKED_CREDENTIAL', 'this request carries a credential that has leaked (leak %s); it is blocked until the credential is rotated', 403)

/** 400: more candidate credential values in one request than `maxCredentials` (every reading of every place counts): the node cannot check them all cheaply. Takes the limit. */
export const TooManyCredentialsError = define<[limit: number]>('LEAKGATE_ERR_TOO_MANY_CREDENTIALS', 'this request carries more than %s credentials; send fewer', 400)

/** 400: a credential longer than `maxCredentialLength`. Takes the limit. */
export const CredentialTooLongError = define<[limit: number]>('LEAKGATE_ERR_CREDENTIAL_TOO_LONG', 'a credential of this request is longer than %s characters', 400)

/** 405: a method the node does not forward (CONNECT, TRACE, WebDAV verbs...). Takes the method. */
export const MethodNotForwardedError = define<[method: string]>('LEAKGATE_ERR_METHOD_NOT_FORWARDED', 'this node does not forward %s requests; it forwards DELETE, GET, HEAD, OPTIONS, PATCH, POST and PUT', 405)

/** 413: a form or JSON body (or a POST body without Content-Type) past `bodyCheckLimit` when `bodyCheckOverflow` is `refuse`: the node cannot check it whole. Takes the limit. */
export const BodyTooLargeToCheckError = define<[limit: number]>('LEAKGATE_ERR_BODY_TOO_LARGE_TO_CHECK', 'a form or JSON request body (or a POST body without Content-Type) larger than %s bytes cannot be checked for credentials; send a smaller body, or an upload with its own Content-Type', 413)

/** 502: the upstream could not be reached or broke the connection. */
export const UpstreamError = define<[]>('LEAKGATE_ERR_UPSTREAM', 'the upstream could not be reached or answered badly', 502)

/** 504: the upstream did not answer in time. */
export const UpstreamTimeoutError = define<[]>('LEAKGATE_ERR_UPSTREAM_TIMEOUT', 'the upstream did not answer in time', 504)

/** 503: the node has never loaded an index and `noIndex` is `closed`. */
export const NoIndexError = define<[]>('LEAKGATE_ERR_NO_INDEX', 'this node has not loaded a leak index yet and is configured to refuse traffic until it has (LEAKGATE_NO_INDEX=closed)', 503)

/** 503: the node is draining for shutdown: requests that arrive now go to another node. */
export const ShuttingDownError = define<[]>('LEAKGATE_ERR_SHUTTING_DOWN', 'this node is shutting down; send the request again (to another node)', 503)

/** 502: the control plane answered a node's sync request badly (status or body). Logged by the node. */
export const SyncError = define('LEAKGATE_ERR_SYNC', 'sync with the control plane failed: %s', 502)

// ---------------------------------------------------------------------------------------------------
// The leak index: a snapshot or a change the node refuses (logged; the index in memory stays as it was).

/** A snapshot shorter than its header, or than the entries its header announces. */
export const SnapshotTruncatedError = define('LEAKGATE_ERR_SNAPSHOT_TRUNCATED', '%s', 500)

/** Bytes that do not start with a snapshot's magic: not a Leakgate index snapshot. */
export const SnapshotMagicError = define('LEAKGATE_ERR_SNAPSHOT_MAGIC', '%s', 500)

/** A snapshot of a format version this build does not read. */
export const SnapshotVersionError = define('LEAKGATE_ERR_SNAPSHOT_VERSION', '%s', 500)

/** A snapshot whose checksum does not match its content. */
export const SnapshotChecksumError = define('LEAKGATE_ERR_SNAPSHOT_CHECKSUM', '%s', 500)

/** A snapshot with a sound checksum but impossible content (order, counts, flags, trailing bytes). */
export const SnapshotCorruptError = define('LEAKGATE_ERR_SNAPSHOT_CORRUPT', '%s', 500)

/** A batch of changes (from the control plane or the cache's journal) the index refuses whole. */
export const ChangeInvalidError = define('LEAKGATE_ERR_CHANGE_INVALID', '%s', 500)

/** Entries or a revision handed to the snapshot encoder or the cache that cannot be written. */
export const IndexInputError = define('LEAKGATE_ERR_INDEX_INPUT', '%s', 500)

// ---------------------------------------------------------------------------------------------------
// The scanner (`leakgate scan` and the control plane's scans). A scan that meets one fails with it.

/** A rules file (TOML) that cannot be used: unreadable, not TOML, or a rule that is invalid. */
export const RulesError = define('LEAKGATE_ERR_RULES', 'invalid rules: %s', 400)

/** A source that cannot be scanned: missing path, git failure, unreachable repository. */
export const SourceError = define('LEAKGATE_ERR_SCAN_SOURCE', 'cannot scan source: %s', 400)

/** 400: the control plane will not scan this source: a local path outside `scan.allowedPaths` (or missing: the answer does not tell), a transport or host it does not use. */
export const ScanRefusedError = define('LEAKGATE_ERR_SCAN_REFUSED', 'this source cannot be scanned: %s', 400)

/** The GitHub API answered with an error or an unexpected body. */
export const GitHubError = define('LEAKGATE_ERR_GITHUB', 'GitHub API: %s', 502)

/** The GitLab API answered with an error or an unexpected body, or cannot be reached. */
export const GitLabError = define('LEAKGATE_ERR_GITLAB', 'GitLab API: %s', 502)

/** A public feed (a paste site, a package registry) answered with an error or a body that cannot be read. */
export const FeedError = define('LEAKGATE_ERR_PUBLIC_FEED', 'public feed: %s', 502)

// ---------------------------------------------------------------------------------------------------
// Store tools (`leakgate migrate`, `export`, `import`).

/** `leakgate import`: the target store is not empty, has another schema version, or the export file is not one. */
export const StoreImportError = define('LEAKGATE_ERR_STORE_IMPORT', 'cannot import the store: %s', 500)

// ---------------------------------------------------------------------------------------------------
// Every command.

/** The configuration cannot be used; the message names each bad option, its env variable and flag. The CLI exits 2. */
export const ConfigError = define('LEAKGATE_ERR_CONFIG', '%s', 500)

// ---------------------------------------------------------------------------------------------------

/** The snapshot refusals: bytes that are not a usable index snapshot. */
const SNAPSHOT_ERRORS: readonly LeakgateErrorClass[] = [SnapshotTruncatedError, SnapshotMagicError, SnapshotVersionError, SnapshotChecksumError, SnapshotCorruptError]

/** Every code of the registry, in the order defined. */
export function errorCodes(): string[] {
  return [...registry.keys()]
}

/** True for an error of this registry (thrown by any part of Leakgate). */
export function isLeakgateError(err: unknown): err is LeakgateError {
  const code = (err as { code?: unknown } | null | undefined)?.code
  const E = typeof code === 'string' ? registry.get(code) : undefined
  return E !== undefined && err instanceof E
}

/** True for a refused snapshot (truncated, not a snapshot, unknown version, bad checksum, corrupt). */
export function isSnapshotError(err: unknown): boolean {
  return SNAPSHOT_ERRORS.some((E) => err instanceof E)
}

/**
 * Rebuilds a registry error from its code and message, as they cross a worker thread (structured clone
 * keeps an Error's message, not its code); undefined for a code the registry does not have.
 */
export function reviveError(code: string, message: string): LeakgateError | undefined {
  const E = registry.get(code)
  if (E === undefined) return undefined
  const err = new E()
  err.message = message
  return err
}

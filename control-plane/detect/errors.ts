/**
 * Error codes of the detection engine (`leakgate scan`, sources, rules). Kept apart from
 * control-plane/errors.ts because the scanner also runs on its own, without the control plane;
 * the status codes are what the scans route answers when it meets one of them.
 */
import createError from '@fastify/error'

/** A rules file (TOML) that cannot be used: unreadable, not TOML, or a rule that is invalid. */
export const RulesError = createError<[string]>('LEAKGATE_ERR_RULES', 'invalid rules: %s', 400)

/** A source that cannot be scanned: missing path, git failure, unreachable repository. */
export const SourceError = createError<[string]>('LEAKGATE_ERR_SCAN_SOURCE', 'cannot scan source: %s', 400)

/** The GitHub API answered with an error or an unexpected body. */
export const GitHubError = createError<[string]>('LEAKGATE_ERR_GITHUB', 'GitHub API: %s', 502)

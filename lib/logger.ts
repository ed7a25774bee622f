/**
 * The one pino logger configuration of every Leakgate process.
 *
 * Redaction is configured here once: credential headers, cookies and anything named like a
 * secret are censored, and request URLs are logged without their query string (query values
 * are where many APIs take keys). Tests capture the stream and assert a planted token is absent.
 */
import { pino, type Logger, type DestinationStream, type LoggerOptions } from 'pino'

/** Paths censored in every log line. */
export const REDACT_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["api-key"]',
  'req.headers["x-auth-token"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["x-api-key"]',
  'headers["api-key"]',
  'token',
  'value',
  'secret',
  'password',
  'apiKey',
  'key',
  '*.token',
  '*.value',
  '*.secret',
  '*.password',
  '*.apiKey',
]

/** Strips the query string from a URL or path, for logging. */
export function withoutQuery(url: string): string {
  const q = url.indexOf('?')
  return q === -1 ? url : url.slice(0, q)
}

/** Serializers that keep raw credentials out of request and response logs. */
export const serializers = {
  req(req: { method?: string; url?: string; hostname?: string; ip?: string; id?: unknown }) {
    return { id: req.id, method: req.method, url: withoutQuery(req.url ?? ''), host: req.hostname }
  },
  res(res: { statusCode?: number }) {
    return { statusCode: res.statusCode }
  },
}

/** Options for fastify's `logger` or for pino directly. */
export function loggerOptions(level: string, name: string): LoggerOptions {
  return {
    level,
    name,
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    serializers,
  }
}

/** Makes the process's logger; `destination` lets tests capture every line. */
export function createLogger(level: string, name: string, destination?: DestinationStream): Logger {
  return destination === undefined ? pino(loggerOptions(level, name)) : pino(loggerOptions(level, name), destination)
}

/**
 * Leakgate's version, from package.json, whether running from the sources (lib/) or from dist/lib/.
 */
import { readFileSync } from 'node:fs'

let cached: string | undefined

/** The package version, or '0.0.0' when package.json cannot be read. */
export function leakgateVersion(): string {
  if (cached !== undefined) return cached
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      cached = (JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version: string }).version
      return cached
    } catch {
      // try the next place: the source tree and dist/ differ by one level
    }
  }
  cached = '0.0.0'
  return cached
}

/**
 * The shipped nginx cache recipe (deploy/nginx/control-plane-cache.conf) with the test's control plane,
 * port and cache folder put in: what the snapshot cache tests and bench/snapshot-cache.bench.ts run.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/** The shipped recipe. */
export const CACHE_RECIPE = new URL('../../deploy/nginx/control-plane-cache.conf', import.meta.url)

/** The shipped recipe, its control plane, listening port and cache folder replaced. */
export function cacheRecipe(ports: { controlPlane: number; listen: number }, dir: string): string {
  const text = readFileSync(CACHE_RECIPE, 'utf8')
  const out = text
    .replace(/server 127\.0\.0\.1:8080;/, `server 127.0.0.1:${ports.controlPlane};`)
    .replace(/listen 8081;/, `listen 127.0.0.1:${ports.listen};`)
    .replace(/proxy_cache_path \/var\/cache\/nginx\/leakgate /, `proxy_cache_path ${join(dir, 'snapshots')} `)
  // Each of the three must have been found: a recipe edited out of shape fails here, not later.
  const found = [`127.0.0.1:${ports.controlPlane};`, `listen 127.0.0.1:${ports.listen};`, join(dir, 'snapshots')].every((s) => out.includes(s))
  if (!found) throw new Error('deploy/nginx/control-plane-cache.conf: the control plane, the port or the cache path was not found')
  return out
}

/**
 * The web console: a fastify plugin that serves the console's static files at `/` and the chart
 * library from node_modules at `/assets/vendor/chart.umd.js`.
 *
 * Files are read once at registration and served from memory by one explicit route each (no wildcard
 * route), so unknown paths still reach the control plane's own 404 handler, no request can walk out
 * of the static folder, and nothing is fetched from the internet: every asset the page uses comes
 * from this plugin. A strict Content-Security-Policy (no inline script, no third-party origin) goes on
 * every response the plugin sends.
 */
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, extname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyPluginAsync, FastifySchema } from 'fastify'

/** The Content-Security-Policy on every console response: same-origin only, no inline script. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
}

interface Asset {
  body: Buffer
  type: string
  etag: string
}

/** Options of the console plugin. */
export interface ConsoleOptions {
  /** Folder with index.html and assets/; defaults to `static/` beside this module (source or dist). */
  staticDir?: string
}

/** Where the static files are: `static/` beside this module, which holds under tsx and in dist/. */
export function defaultStaticDir(): string {
  return fileURLToPath(new URL('./static', import.meta.url))
}

/** The path of Chart.js 4's UMD build, resolved through node_modules (minified when present). */
export function chartJsPath(): string {
  const main = createRequire(import.meta.url).resolve('chart.js')
  const dir = dirname(main)
  for (const name of ['chart.umd.min.js', 'chart.umd.js']) {
    const candidate = join(dir, name)
    try {
      if (statSync(candidate).isFile()) return candidate
    } catch {
      // try the next name
    }
  }
  throw new Error(`chart.js UMD build not found beside ${main}; reinstall chart.js 4`)
}

function asset(body: Buffer, file: string): Asset {
  const type = TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream'
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`
  return { body, type, etag }
}

function walk(dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...walk(full))
    else if (entry.isFile()) out.push(full)
  }
  return out
}

/** Map URL path → file contents for everything under the static folder plus the vendored chart library. */
export function loadAssets(staticDir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>()
  for (const file of walk(staticDir)) {
    const url = '/' + relative(staticDir, file).split(sep).join('/')
    assets.set(url, asset(readFileSync(file), file))
  }
  const chart = chartJsPath()
  assets.set('/assets/vendor/chart.umd.js', asset(readFileSync(chart), chart))
  const index = assets.get('/index.html')
  if (index === undefined) throw new Error(`console: ${join(staticDir, 'index.html')} is missing; run npm run build`)
  assets.set('/', index)
  return assets
}

/** The console plugin: register it at the root (`app.register(consolePlugin)`). */
const consolePlugin: FastifyPluginAsync<ConsoleOptions> = async (app, opts) => {
  const assets = loadAssets(opts.staticDir ?? defaultStaticDir())
  for (const [url, file] of assets) {
    // `hide` keeps the console's files out of the OpenAPI document when @fastify/swagger is registered.
    app.get(url, { schema: { hide: true } as FastifySchema }, async (request, reply) => {
      reply
        .header('content-security-policy', CONSOLE_CSP)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .header('x-frame-options', 'DENY')
        .header('cache-control', 'no-cache')
        .header('etag', file.etag)
        .type(file.type)
      if (request.headers['if-none-match'] === file.etag) return reply.code(304).send()
      return reply.send(file.body)
    })
  }
}

export default consolePlugin

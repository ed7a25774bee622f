/**
 * The image's HEALTHCHECK: healthy when the part this container runs answers where its clients reach it.
 *
 * One image runs either part, chosen by the command after `dist/cli.js`, so the check reads that
 * command line (PID 1's, under tini) and loads the part's configuration from it as the part itself did
 * (config file, env, flags): a port moved by any of them is the port checked.
 * - `control-plane`: `GET /readyz` answers 200 (the store answers and its schema is this build's).
 * - `node`: the admin port's `GET /healthz` answers 200 and the proxy port (and the check port, when
 *   set) accepts a connection; a node whose proxy port is gone is unhealthy though its admin port answers.
 *   Readiness (an index in force) is left to orchestrators that route traffic (Kubernetes' readinessProbe):
 *   a node still waiting for its first index is alive, and restarting it would not help.
 * - `demo`: both of the above.
 * - anything else (`scan-worker`, one-shot commands): healthy while it runs, as it serves no port.
 *
 * Usage: `node dist/healthcheck.js [command args…]`; without arguments, the container's own command.
 * Exits 0 when healthy, 1 with one line on stderr saying what failed.
 */
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { parseArgs } from 'node:util'
import { loadControlPlaneConfig, controlPlaneSchema } from './control-plane/config.js'
import type { ConfigSchema } from './lib/config.js'
import { loadNodeConfig, nodeConfigSchema } from './node/config.js'

// Below the HEALTHCHECK's --timeout (5 s), which kills the whole check.
const TIMEOUT_MS = 4000

/** The arguments after `…/cli.js` in PID 1's command line, or undefined when it does not run the CLI. */
function containerCommand(): string[] | undefined {
  let argv: string[]
  try {
    argv = readFileSync('/proc/1/cmdline', 'utf8').split('\0').filter((a) => a !== '')
  } catch {
    return undefined
  }
  const at = argv.findIndex((a) => a.endsWith('cli.js') || a.endsWith('cli.ts'))
  return at < 0 ? undefined : argv.slice(at + 1)
}

/** The config sources a part's command line gives, as its `main` reads them (unknown flags ignored). */
function sourcesOf(schema: ConfigSchema, args: readonly string[]): { file: string | undefined; env: NodeJS.ProcessEnv; flags: Record<string, string | boolean> } {
  const options: Record<string, { type: 'string' | 'boolean' }> = { config: { type: 'string' } }
  for (const p of Object.values(schema.properties)) {
    if (p['x-flag'] !== undefined) options[p['x-flag']] = { type: p.type === 'boolean' ? 'boolean' : 'string' }
  }
  const { values } = parseArgs({ args: [...args], options, strict: false, allowPositionals: true })
  const { config: file, ...rest } = values
  const flags: Record<string, string | boolean> = {}
  for (const [k, v] of Object.entries(rest)) if (k in options && v !== undefined) flags[k] = v as string | boolean
  return { file: typeof file === 'string' ? file : undefined, env: process.env, flags }
}

/** Where to reach a server listening on `host`: itself, or loopback when it listens on every address. */
function reachable(host: string): string {
  return host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host
}

function urlOf(host: string, port: number, path: string): string {
  const h = reachable(host)
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}${path}`
}

/** '' when `url` answers 200, else why not. */
async function answers200(url: string): Promise<string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) })
    await res.arrayBuffer()
    return res.status === 200 ? '' : `${url} answered ${res.status}`
  } catch (err) {
    return `${url}: ${(err as Error).message}`
  }
}

/**
 * '' when `host:port` accepts a connection (with `tls`, a completed TLS handshake: a connection closed
 * mid-handshake would count as a failed one in the node's metrics), else why not. No request is sent:
 * nothing reaches the upstream or the request metrics.
 */
function accepts(what: string, host: string, port: number, tls: boolean): Promise<string> {
  return new Promise((resolve) => {
    const where = `${what} ${reachable(host)}:${port}`
    // Any certificate: this checks that the port serves, not who may trust it.
    const socket = tls
      ? tlsConnect({ host: reachable(host), port, timeout: TIMEOUT_MS, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] })
      : connect({ host: reachable(host), port, timeout: TIMEOUT_MS })
    socket.once(tls ? 'secureConnect' : 'connect', () => {
      socket.end()
      resolve('')
    })
    socket.once('timeout', () => {
      socket.destroy()
      resolve(`${where}: no ${tls ? 'TLS handshake' : 'connection'} within ${TIMEOUT_MS} ms`)
    })
    socket.once('error', (err) => resolve(`${where}: ${err.message}`))
  })
}

async function controlPlaneProblems(args: readonly string[]): Promise<string[]> {
  const config = loadControlPlaneConfig(sourcesOf(controlPlaneSchema, args))
  return [await answers200(urlOf(config.host, config.port, '/readyz'))]
}

async function nodeProblems(args: readonly string[]): Promise<string[]> {
  const config = loadNodeConfig(sourcesOf(nodeConfigSchema, args))
  return Promise.all([
    answers200(urlOf(config.adminHost, config.adminPort, '/healthz')),
    accepts('proxy port', config.host, config.port, config.tlsCert !== undefined),
    // The check port beside a proxy serves plain HTTP.
    ...(config.checkPort === undefined ? [] : [accepts('check port', config.host, config.checkPort, false)]),
  ])
}

/** What is wrong with the part `command` runs; empty when healthy. */
async function problems(command: readonly string[]): Promise<string[]> {
  const [part, ...args] = command
  let found: string[]
  if (part === 'control-plane') found = await controlPlaneProblems(args)
  else if (part === 'node') found = await nodeProblems(args)
  else if (part === 'demo') {
    // The demo takes its ports from the env and listens on `--host` (loopback by default).
    const flag = parseArgs({ args: [...args], options: { host: { type: 'string' } }, strict: false, allowPositionals: true }).values.host
    const host = typeof flag === 'string' ? flag : '127.0.0.1'
    const cp = loadControlPlaneConfig({ env: process.env })
    const node = loadNodeConfig({ env: { ...process.env, LEAKGATE_UPSTREAM: 'http://127.0.0.1' } })
    found = await Promise.all([
      answers200(urlOf(host, cp.port, '/readyz')),
      answers200(urlOf(host, node.adminPort, '/healthz')),
      accepts('proxy port', host, node.port, false),
    ])
  } else found = []
  return found.filter((p) => p !== '')
}

async function main(): Promise<number> {
  const given = process.argv.slice(2)
  const command = given.length > 0 ? given : containerCommand()
  if (command === undefined) return 0 // not the CLI (an entrypoint of the user's own): nothing to check
  try {
    const found = await problems(command)
    if (found.length === 0) return 0
    console.error(`unhealthy: ${found.join('; ')}`)
  } catch (err) {
    console.error(`unhealthy: ${(err as Error).message}`)
  }
  return 1
}

process.exitCode = await main()

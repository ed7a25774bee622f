/**
 * TLS on the proxy port (`tlsCert` and `tlsKey`): one node:http2 secure server speaking HTTP/2 and
 * HTTP/1.1, chosen by ALPN, so both reach the same `request` listener (request-path.ts) and the same
 * credential check. TLS 1.2 and later, Node's default ciphers in the server's order.
 *
 * The certificate pair is re-read on `reload()` and whenever either file changes (cert-manager and
 * certbot replace files by renaming a new one over the old, which ends a plain watch on the old file:
 * the directories are watched instead). A pair that does not load, or whose key does not match its
 * certificate, is refused and logged; the pair in force stays. Handshakes are counted when they fail.
 */
import { watch, readFileSync, type FSWatcher } from 'node:fs'
import { createSecureServer, type Http2SecureServer, type Http2Session, type SecureServerOptions } from 'node:http2'
import { basename, dirname, resolve } from 'node:path'
import { createSecureContext } from 'node:tls'
import type { Logger } from 'pino'
import { optionName } from '../lib/config.js'
import { ConfigError } from '../lib/errors.js'
import { nodeConfigSchema } from './config.js'

// Renames come as several events (the temp file written, then renamed, certificate then key): one reload after they settle.
const RELOAD_DEBOUNCE_MS = 200

/** The certificate pair's files. */
export interface TlsFiles {
  /** PEM certificate chain (leaf first). */
  cert: string
  /** PEM private key of the leaf certificate. */
  key: string
}

/** The TLS side of a node's proxy port. */
export interface NodeTls {
  /** The proxy port's server: HTTP/2 and HTTP/1.1 over TLS. */
  readonly server: Http2SecureServer
  /**
   * Re-reads both PEM files and puts the pair in force for new handshakes (connections already open keep
   * theirs). Returns false, logged, when the new pair is refused; the pair in force then stays.
   */
  reload(): boolean
  /** Asks every HTTP/2 client to go away once its streams are done (GOAWAY), for a drain. */
  closeSessions(): void
  /** Stops watching the files. */
  close(): void
}

/** What the TLS server needs from the node. */
export interface TlsOptions {
  files: TlsFiles
  /** Largest request head in bytes (HTTP/1.1), and header list (HTTP/2). */
  maxHeaderSize: number
  /** Idle time after which an HTTP/2 connection without streams is closed (the HTTP/1.1 keep-alive's counterpart). */
  keepAliveTimeoutMs: number
  /** Counted on each failed handshake. */
  counters: { tlsHandshakeErrors: number }
  logger: Logger
}

/**
 * Reads a certificate pair and makes sure it loads and that the key is the certificate's.
 * @throws when a file cannot be read or the pair is refused by OpenSSL.
 */
export function readPair(files: TlsFiles): { cert: Buffer; key: Buffer } {
  const pair = { cert: readFileSync(files.cert), key: readFileSync(files.key) }
  // createSecureContext refuses a key that does not match the certificate (X509_check_private_key).
  createSecureContext(pair)
  return pair
}

/**
 * Makes the TLS proxy server with the pair loaded now (a pair that does not load fails here, at start)
 * and starts watching the files.
 * @throws {ConfigError} naming both options when the pair cannot be loaded.
 */
export function createTls(options: TlsOptions): NodeTls {
  const { files, counters, logger } = options
  let pair: { cert: Buffer; key: Buffer }
  try {
    pair = readPair(files)
  } catch (err) {
    const why = (err as { code?: string }).code === 'ENOENT' ? 'a file does not exist' : (err as Error).message
    throw new ConfigError(`${optionName(nodeConfigSchema, 'tlsCert')} and ${optionName(nodeConfigSchema, 'tlsKey')}: cannot load the pair: ${why}`, { cause: err })
  }
  const secure: SecureServerOptions = {
    ...pair,
    allowHTTP1: true,
    minVersion: 'TLSv1.2',
    honorCipherOrder: true,
    settings: { maxHeaderListSize: options.maxHeaderSize },
  }
  const server = createSecureServer(secure)
  // node:http2 does not pass a maxHeaderSize option on to the HTTP/1.1 connections it hands to node:http,
  // whose parser reads this field of the server.
  ;(server as unknown as { maxHeaderSize: number }).maxHeaderSize = options.maxHeaderSize
  server.on('tlsClientError', (err: Error & { code?: string }) => {
    counters.tlsHandshakeErrors++
    logger.debug({ err: { code: err.code, message: err.message } }, 'TLS handshake failed')
  })

  const sessions = new Set<Http2Session>()
  server.on('session', (session: Http2Session) => {
    sessions.add(session)
    session.once('close', () => sessions.delete(session))
    const idleMs = options.keepAliveTimeoutMs
    if (idleMs === 0) return
    let open = 0
    session.on('stream', (stream: { once(event: 'close', f: () => void): void }) => {
      open++
      stream.once('close', () => {
        // The inactivity timer may have fired while a stream was open: armed again from the last stream's end.
        if (--open === 0 && !session.closed) session.setTimeout(idleMs)
      })
    })
    session.on('timeout', () => {
      if (open === 0) session.close()
    })
    session.setTimeout(idleMs)
  })

  const reload = (): boolean => {
    try {
      server.setSecureContext({ ...readPair(files), minVersion: 'TLSv1.2', honorCipherOrder: true })
      logger.info({ cert: files.cert }, 'TLS certificate reloaded')
      return true
    } catch (err) {
      logger.error({ err: { code: (err as { code?: string }).code, message: (err as Error).message }, cert: files.cert, key: files.key }, 'TLS certificate not reloaded: the new pair is refused; the pair in force stays')
      return false
    }
  }

  const watchers = watchPair(files, reload, logger)
  return {
    server,
    reload,
    closeSessions() {
      for (const session of sessions) session.close()
    },
    close() {
      for (const w of watchers.all) w.close()
      clearTimeout(watchers.timer())
    },
  }
}

/**
 * Watches the directories holding the two files and calls `reload` once changes to either settle.
 * A directory watch keeps working when a file is replaced by a rename, and sees Kubernetes secret
 * volumes' `..data` symlink swap as a change too.
 */
function watchPair(files: TlsFiles, reload: () => void, logger: Logger): { all: FSWatcher[]; timer(): NodeJS.Timeout | undefined } {
  const byDir = new Map<string, Set<string>>()
  for (const file of [files.cert, files.key]) {
    const dir = dirname(resolve(file))
    const names = byDir.get(dir) ?? new Set<string>()
    names.add(basename(file))
    byDir.set(dir, names)
  }
  let timer: NodeJS.Timeout | undefined
  const changed = (): void => {
    clearTimeout(timer)
    timer = setTimeout(reload, RELOAD_DEBOUNCE_MS)
    timer.unref()
  }
  const all: FSWatcher[] = []
  for (const [dir, names] of byDir) {
    try {
      const w = watch(dir, { persistent: false }, (_event, name) => {
        // No name: some platforms do not say; a reload costs little.
        if (name === null || names.has(name) || name.startsWith('..')) changed()
      })
      w.on('error', (err) => logger.warn({ err: { message: err.message }, dir }, 'cannot watch the TLS files any more; reload by signal'))
      all.push(w)
    } catch (err) {
      logger.warn({ err: { message: (err as Error).message }, dir }, 'cannot watch the TLS files; reload by signal')
    }
  }
  return { all, timer: () => timer }
}

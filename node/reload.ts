/**
 * What a running node reloads without a restart (SIGHUP): a list of reloaders, run one after the
 * other, each logged. A reloader that fails leaves its part as it was and the others still run, so
 * a typo in the config file never costs a new index, and no reload ever stops the node.
 */
import type { Logger } from 'pino'
import type { NodeConfig } from './config.js'

/** One thing a node reloads in place: the index file, the config file's reloadable options, TLS files. */
export interface Reloader {
  /** What it reloads, as the log says it: `index file`, `config file`. */
  readonly name: string
  /**
   * Reloads and resolves to what it did (logged); undefined when there was nothing to do.
   * Throws to refuse: what is in force must then be left untouched.
   */
  reload(): Promise<Record<string, unknown> | undefined>
}

/** How one reloader fared. */
export type ReloadOutcome = { name: string; ok: true; detail: Record<string, unknown> | undefined } | { name: string; ok: false; error: { code?: string; message: string } }

/** The node's reloaders and their runs. */
export class Reloads {
  /** Run in this order; push to add one. */
  readonly list: Reloader[] = []
  readonly #logger: Logger
  // A second SIGHUP while a reload runs waits for it rather than racing it.
  #queue: Promise<unknown> = Promise.resolve()

  constructor(logger: Logger) {
    this.#logger = logger
  }

  /** Runs every reloader and logs each outcome; never rejects. */
  run(trigger: string): Promise<ReloadOutcome[]> {
    const run = this.#queue.then(() => this.#runAll(trigger))
    this.#queue = run
    return run
  }

  async #runAll(trigger: string): Promise<ReloadOutcome[]> {
    const logger = this.#logger
    if (this.list.length === 0) {
      logger.info({ trigger }, 'nothing to reload: this node was started with no index file and no config file')
      return []
    }
    const outcomes: ReloadOutcome[] = []
    for (const reloader of this.list) {
      const { name } = reloader
      try {
        const detail = await reloader.reload()
        outcomes.push({ name, ok: true, detail })
        logger.info({ trigger, ...detail }, `reloaded the ${name}`)
      } catch (err) {
        const e = err as { code?: string; message?: string }
        const error = { ...(e.code === undefined ? {} : { code: e.code }), message: e.message ?? String(err) }
        outcomes.push({ name, ok: false, error })
        logger.error({ trigger, err: error }, `could not reload the ${name}; keeping the one in force`)
      }
    }
    return outcomes
  }
}

// What the config file may change in a running node; everything else is read once, at the start.
const RELOADABLE: ReadonlySet<string> = new Set(['logLevel'])

/**
 * Reads the configuration again (`reread`: the same file, env and flags as at the start) and applies
 * its reloadable options; the options changed that only a restart applies are named in a warning.
 * A configuration that does not load is refused whole (`reread` throws a ConfigError naming the option).
 */
export function configFileReloader(started: Readonly<NodeConfig>, reread: () => Readonly<NodeConfig>, logger: Logger): Reloader {
  return {
    name: 'config file',
    async reload() {
      const next = reread()
      const before = started as unknown as Record<string, unknown>
      const after = next as unknown as Record<string, unknown>
      // Compared with the configuration the node started with: an option stays "needs a restart" until one.
      // Only names are logged, never values (the node key and hash key are options).
      const restartNeeded = [...new Set([...Object.keys(before), ...Object.keys(after)])]
        .filter((key) => !RELOADABLE.has(key) && JSON.stringify(before[key]) !== JSON.stringify(after[key]))
      const previousLogLevel = logger.level
      logger.level = next.logLevel
      if (restartNeeded.length > 0) logger.warn({ restartNeeded }, `changed in the configuration but applied only at a restart: ${restartNeeded.join(', ')}`)
      return { logLevel: next.logLevel, previousLogLevel, restartNeeded }
    },
  }
}

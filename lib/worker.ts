/**
 * Starts a worker thread on a module, whether it is built JavaScript or a TypeScript source.
 *
 * Built (dist/), the module is a `.js` file and starts as is. Run from the sources, it is a `.ts`
 * file, and Node 20 does not carry the main thread's loader hooks into a worker: the worker must
 * register the TypeScript loader itself before it imports the module. Which loader is the dev
 * preload's business (scripts/register-ts.js puts its URL in LEAKGATE_TS_LOADER); this module names
 * none, so no production module depends on a dev-only package.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads'

/**
 * Starts `moduleUrl` on a new worker thread with `options` (workerData, transferList...).
 * A `.ts` module needs LEAKGATE_TS_LOADER (set by `--import ./scripts/register-ts.js`); without it,
 * throws an error saying how to run from the sources.
 */
export function startWorker(moduleUrl: URL | string, options: WorkerOptions = {}): Worker {
  const url = new URL(moduleUrl)
  if (!url.pathname.endsWith('.ts')) return new Worker(url, options)
  const loader = process.env.LEAKGATE_TS_LOADER
  if (loader === undefined || loader === '') {
    // A developer's setup, never a built install's, so a plain Error and not a LEAKGATE_ERR_* code.
    throw new Error(
      `cannot start the worker ${url.href} from TypeScript sources: no TypeScript loader for worker threads. ` +
        'Run from the sources with `node --import ./scripts/register-ts.js ...`, or build first (`npm run build`, then dist/).',
    )
  }
  const bootstrap = `import(${JSON.stringify(loader)}).then(() => import(${JSON.stringify(url.href)}))`
  return new Worker(bootstrap, { ...options, eval: true })
}


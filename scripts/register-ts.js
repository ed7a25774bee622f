// Dev only (never in dist/): lets Node run the TypeScript sources. Preload it:
//   node --import ./scripts/register-ts.js cli.ts node
// It registers tsx's loader on this thread, and puts its own URL in LEAKGATE_TS_LOADER: the
// environment reaches worker threads and child processes, where Node 20's loader hooks do not, so
// lib/worker.ts imports this same module first in a worker that runs a .ts file.
import { register } from 'tsx/esm/api'

register()
process.env.LEAKGATE_TS_LOADER = import.meta.url

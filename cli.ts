#!/usr/bin/env node
/**
 * `leakgate`: one binary, one command a part. Each command's module exports
 * `main(argv): Promise<number>` (the exit code) and answers `--help` itself.
 */
import { ConfigError } from './lib/errors.js'

interface Command {
  summary: string
  load: () => Promise<{ main: (argv: string[]) => Promise<number> }>
}

const COMMANDS: Record<string, Command> = {
  demo: { summary: 'run a control plane, a node and a demo upstream on this machine', load: () => import('./demo.js') },
  'control-plane': { summary: 'run the control plane: API, console and sync', load: () => import('./control-plane/server.js') },
  node: { summary: 'run an edge node: the credential-checking reverse proxy', load: () => import('./node/server.js') },
  scan: { summary: 'find secrets in a directory, a git repository or an organisation', load: () => import('./control-plane/detect/cli.js') },
  'scan-worker': { summary: 'run the scans a control plane on PostgreSQL queues (any number of workers)', load: () => import('./control-plane/scan-worker-cli.js') },
  watch: { summary: "watch GitHub's public events for the organisation's own tokens", load: () => import('./control-plane/public-sources/watch-cli.js') },
  check: { summary: 'tell whether a token has leaked, sending only 5 characters of its hash (exit 1 when leaked)', load: () => import('./control-plane/check-cli.js') },
  keys: { summary: 'manage control-plane API keys', load: () => import('./control-plane/keys-cli.js') },
  sessions: { summary: 'list and end console sessions (OpenID Connect sign-ins)', load: () => import('./control-plane/sessions-cli.js') },
  index: { summary: 'build a leak index snapshot file', load: () => import('./node/leakdb/cli.js') },
  migrate: { summary: "apply the store's migrations (SQLite or PostgreSQL)", load: async () => ({ main: (await import('./control-plane/store-cli.js')).migrate }) },
  export: { summary: 'write the whole store as newline-delimited JSON', load: async () => ({ main: (await import('./control-plane/store-cli.js')).exportMain }) },
  import: { summary: 'read an export into a new store (SQLite to PostgreSQL, say)', load: async () => ({ main: (await import('./control-plane/store-cli.js')).importMain }) },
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length))
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
  return `usage: leakgate <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nleakgate <command> --help shows a command's options.`
}

async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage())
    return name === undefined ? 2 : 0
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    const { leakgateVersion } = await import('./lib/version.js')
    console.log(leakgateVersion())
    return 0
  }
  const command = COMMANDS[name]
  if (command === undefined) {
    console.error(`leakgate: unknown command "${name}" (leakgate --help lists the commands)`)
    return 2
  }
  const mod = await command.load()
  return mod.main(rest)
}

run(process.argv.slice(2)).then(
  (code) => {
    // Servers keep the process alive and exit through their own signal handlers.
    if (code !== -1) process.exitCode = code
  },
  (err: unknown) => {
    const e = err as { code?: string; message?: string }
    console.error(`leakgate: ${e.message ?? String(err)}`)
    process.exitCode = err instanceof ConfigError ? 2 : 1
  },
)

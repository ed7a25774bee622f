/**
 * `leakgate watch <source>`: watches a public source for the organisation's tokens (`github-events` and
 * `gharchive`, its backfill; `github-gists`, `github-code-search`, `gitlab-events`, `paste-feed`, `npm`,
 * `pypi`), on the store the control plane uses (the same configuration: dataDir or databaseUrl, hashKey). Tokens
 * of ours are those of the issued-hash set (`POST /v1/issued-hashes`) and the matches of the rules
 * file given with `--rules` (the organisation's own formats). Each batch commits its leaks and its
 * cursor together, so a restart, or a kill -9, resumes where the last batch ended. Without `--shards`,
 * run one watcher a source: a second one is safe (a batch is committed once) but does the same reads for
 * nothing. With `--shards N`, any number of processes split the source, each running up to `--slots`
 * free shards under leases (shard-pool.ts).
 */
import { parseArgs } from 'node:util'
import { pino } from 'pino'
import { loggerOptions } from '../../lib/logger.js'
import { configFromArgs, storeOptionsOf } from '../cli-config.js'
import { loadRulesFile } from '../detect/rules.js'
import { Store } from '../store/store.js'
import { ConfigError } from '../../lib/errors.js'
import { pasteFeedOptionsOf } from './paste-feed-cli.js'
import type { PublicSource } from './source.js'
import { PublicSourceRunner, watch, type WatchReport } from './runner.js'
import { makePublicSource, PUBLIC_SOURCE_NAMES, type PublicSourceName, type PublicSourceSpec } from './source-factory.js'
import { DEFAULT_LEASE_SECONDS, leaseOwnerName, runShards } from './shard-pool.js'

const OWN_OPTIONS = {
  'api-url': { type: 'string' },
  'archive-url': { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  'web-url': { type: 'string' },
  rules: { type: 'string' },
  once: { type: 'boolean' },
  query: { type: 'string', multiple: true },
  // paste-feed
  'list-url': { type: 'string' },
  'raw-url-template': { type: 'string' },
  field: { type: 'string', multiple: true },
  'feed-config': { type: 'string' },
  limit: { type: 'string' },
  // npm
  'registry-url': { type: 'string' },
  'changes-url': { type: 'string' },
  since: { type: 'string' },
  // pypi
  'index-url': { type: 'string' },
  'files-url': { type: 'string' },
  // many workers
  shards: { type: 'string' },
  slots: { type: 'string' },
  'lease-seconds': { type: 'string' },
} as const

function usage(): string {
  return [
    'usage: leakgate watch github-events [--api-url URL] [--web-url URL] [--rules FILE] [--once] [control-plane options]',
    '       leakgate watch gharchive --from YYYY-MM-DD-H [--to YYYY-MM-DD-H] [--archive-url URL] [the same options]',
    '       leakgate watch github-gists [the same options]',
    '       leakgate watch github-code-search --rules FILE [--query Q]... [the same options]',
    '       leakgate watch gitlab-events [--api-url URL] [--web-url URL] [the same options]',
    '       leakgate watch paste-feed --list-url URL [--raw-url-template URL] [--field NAME=FIELD]... [--feed-config FILE] [--limit N] [--rules FILE] [--once]',
    '       leakgate watch npm [--registry-url URL] [--changes-url URL] [--since SEQ] [--rules FILE] [--once]',
    '       leakgate watch pypi [--index-url URL] [--files-url URL] [--rules FILE] [--once]',
    '       leakgate watch <source> --shards N [--slots M] [--lease-seconds S] [that source\'s options]',
    '',
    'Watches GitHub\'s public events: every pushed commit\'s added lines are scanned, and a token of ours',
    '(its SHA-256 in the issued-hash set, or a match of the --rules file) becomes a leak with each place',
    'it was seen at. LEAKGATE_GITHUB_TOKEN (or GITHUB_TOKEN) raises the API budget.',
    '',
    `  ${'--api-url URL'.padEnd(18)} the GitHub API (default https://api.github.com; LEAKGATE_GITHUB_API_URL)`,
    `  ${'--web-url URL'.padEnd(18)} where repositories' pages are, for links (default https://github.com)`,
    `  ${'--rules FILE'.padEnd(18)} the organisation's own token formats (a rules file, as leakgate scan takes)`,
    `  ${'--once'.padEnd(18)} read until the feed has nothing more now, then exit`,
    `  ${'--from HOUR'.padEnd(18)} gharchive: the first hour to read (UTC, as GH Archive names files: 2026-11-30-9)`,
    `  ${'--to HOUR'.padEnd(18)} gharchive: the last hour (default: every hour, as it is published)`,
    `  ${'--archive-url URL'.padEnd(18)} gharchive: default https://data.gharchive.org`,
    `  ${'--query Q'.padEnd(18)} github-code-search: a search besides the rules' keywords (repeatable)`,
    `  ${''.padEnd(18)} gitlab-events: --api-url default https://gitlab.com/api/v4 (LEAKGATE_GITLAB_API_URL),`,
    `  ${''.padEnd(18)} LEAKGATE_GITLAB_TOKEN (or GITLAB_TOKEN) sent as PRIVATE-TOKEN`,
    `  ${'--list-url URL'.padEnd(18)} paste-feed: the listing of new pastes (a JSON array; docs/public-sources.md)`,
    `  ${'--field N=F'.padEnd(18)} paste-feed: the listing's field for key, date, raw-url or public-url`,
    `  ${'--feed-config FILE'.padEnd(18)} paste-feed: the same as JSON ({ listUrl, rawUrlTemplate, fields, limit })`,
    `  ${'--registry-url URL'.padEnd(18)} npm: packuments and tarballs (default https://registry.npmjs.org)`,
    `  ${'--changes-url URL'.padEnd(18)} npm: the changes feed (default https://replicate.npmjs.com/registry/_changes)`,
    `  ${'--since SEQ'.padEnd(18)} npm: where to start without a cursor (default now: the changes to come)`,
    `  ${'--index-url URL'.padEnd(18)} pypi: the releases feed and JSON API (default https://pypi.org)`,
    `  ${'--files-url URL'.padEnd(18)} pypi: where distributions are (default https://files.pythonhosted.org)`,
    `  ${'--shards N'.padEnd(18)} split the source into N shards (by repository, gist, paste or package) and run`,
    `  ${''.padEnd(18)} free ones under leases: the same command on several machines shares the work.`,
    `  ${''.padEnd(18)} N is fixed once a source runs (another N starts other cursors)`,
    `  ${'--slots M'.padEnd(18)} with --shards: shards this process runs at once (default 1)`,
    `  ${'--lease-seconds S'.padEnd(18)} with --shards: how long a shard's lease holds unless renewed (default ${DEFAULT_LEASE_SECONDS});`,
    `  ${''.padEnd(18)} a killed worker's shards are taken over after it`,
    `  ${''.padEnd(18)} with --shards and --once: exit when no shard is left to take and those run have nothing more`,
    '  `leakgate control-plane --help` lists the store options (--data-dir, --database-url, ...).',
  ].join('\n')
}

/** Runs the watcher; returns the exit code once it stops. */
export async function main(argv: string[]): Promise<number> {
  const [sourceName, ...rest] = argv
  if (sourceName === undefined || sourceName === '--help' || sourceName === '-h') {
    console.log(usage())
    return sourceName === undefined ? 2 : 0
  }
  const sources: readonly string[] = PUBLIC_SOURCE_NAMES
  if (!sources.includes(sourceName)) {
    console.error(`leakgate watch: unknown source "${sourceName}" (the sources: ${sources.join(', ')})`)
    return 2
  }
  // This command's own options first; the rest are the control plane's (the store's).
  const own: string[] = []
  const others: string[] = []
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!
    const name = arg.replace(/^--/, '').split('=')[0] ?? ''
    if (!arg.startsWith('--') || !(name in OWN_OPTIONS)) {
      others.push(arg)
      continue
    }
    own.push(arg)
    if (OWN_OPTIONS[name as keyof typeof OWN_OPTIONS].type === 'string' && !arg.includes('=') && rest[i + 1] !== undefined) own.push(rest[++i]!)
  }
  const { values } = parseArgs({ args: own, options: OWN_OPTIONS, strict: true })
  const config = configFromArgs('watch', others, usage)
  if (typeof config === 'number') return config
  const log = pino(loggerOptions(config.logLevel, 'leakgate-watch'))
  const ourRules = values.rules === undefined ? [] : loadRulesFile(values.rules).rules
  const spec = specOf(sourceName as PublicSourceName, values)
  const shards = countOf(values.shards, '--shards')
  const slots = countOf(values.slots, '--slots')
  const leaseSeconds = countOf(values['lease-seconds'], '--lease-seconds')
  if (shards === undefined && (slots !== undefined || leaseSeconds !== undefined)) throw new ConfigError('--slots and --lease-seconds go with --shards N: without it, one process runs the whole source')
  // Built once before the store opens, so a wrong option fails before anything runs.
  const source: PublicSource = makePublicSource(spec, { ourRules, env: process.env, ...(shards === undefined ? {} : { shard: { index: 1, count: shards } }) })
  const store = await Store.openConfigured(config, storeOptionsOf(config))
  const runner = new PublicSourceRunner(store, { ourRules })
  const stop = new AbortController()
  process.once('SIGTERM', () => stop.abort())
  process.once('SIGINT', () => stop.abort())
  const onReport = (id: string, report: WatchReport): void => {
    if ('outcome' in report) log.info({ source: id, ...report.outcome }, 'batch committed')
    else log.warn({ source: id, err: { message: report.error.message }, retryInSeconds: report.retryInSeconds }, 'batch failed; the cursor stays')
  }
  const owner = leaseOwnerName()
  log.info({ source: source.id, ownRules: ourRules.length, issuedHashes: await store.issuedHashes.count(), ...(shards === undefined ? {} : { shards, slots: slots ?? 1, owner }) }, 'watching')
  try {
    if (shards === undefined) {
      await watch(runner, source, {
        signal: stop.signal,
        once: values.once === true,
        nextPollAt: async () => (await store.publicSources.cursor(source.id))?.state.nextPollAt as string | undefined,
        onReport: (report) => onReport(source.id, report),
      })
    } else {
      await runShards(store, runner, {
        sourceId: source.id, count: shards, owner, signal: stop.signal,
        ...(slots === undefined ? {} : { slots }),
        ...(leaseSeconds === undefined ? {} : { leaseSeconds }),
        ...(values.once === true ? { once: true } : {}),
        makeSource: (shard) => makePublicSource(spec, { ourRules, env: process.env, shard }),
        onReport,
        onLease: (id, event) => log.info({ source: id, owner }, `shard ${event}`),
      })
    }
    return 0
  } catch {
    return 1
  } finally {
    await store.close()
  }
}

/** The source's options from the command's values (the flags' names in camelCase). */
function specOf(source: PublicSourceName, values: ReturnType<typeof parseArgs<{ args: string[]; options: typeof OWN_OPTIONS; strict: true }>>['values']): PublicSourceSpec {
  const paste = source === 'paste-feed' ? pasteFeedOptionsOf(values) : undefined
  const pick = <K extends keyof typeof values>(name: K): NonNullable<typeof values[K]> | undefined => values[name] ?? undefined
  const out: PublicSourceSpec = { source }
  const set = <K extends keyof PublicSourceSpec>(key: K, value: PublicSourceSpec[K] | undefined): void => {
    if (value !== undefined) out[key] = value
  }
  set('apiUrl', pick('api-url'))
  set('webUrl', pick('web-url'))
  set('archiveUrl', pick('archive-url'))
  set('from', pick('from'))
  set('to', pick('to'))
  set('queries', pick('query'))
  set('registryUrl', pick('registry-url'))
  set('changesUrl', pick('changes-url'))
  set('since', pick('since'))
  set('indexUrl', pick('index-url'))
  set('filesUrl', pick('files-url'))
  if (paste !== undefined) {
    set('listUrl', paste.listUrl)
    set('rawUrlTemplate', paste.rawUrlTemplate)
    set('fields', paste.fields)
    set('limit', paste.limit)
  }
  return out
}

/** A positive count given as `flag`'s text, or undefined when not given. */
function countOf(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined
  if (!/^\d{1,4}$/.test(text) || Number(text) < 1) throw new ConfigError(`${flag} takes a positive number, got ${JSON.stringify(text)}`)
  return Number(text)
}

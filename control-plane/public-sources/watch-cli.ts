/**
 * `leakgate watch <source>`: watches a public source for the organisation's tokens (`github-events` and
 * `gharchive`, its backfill; `github-gists`, `github-code-search`, `gitlab-events`, `paste-feed`, `npm`,
 * `pypi`), on the store the control plane uses (the same configuration: dataDir or databaseUrl, hashKey). Tokens
 * of ours are those of the issued-hash set (`POST /v1/issued-hashes`) and the matches of the rules
 * file given with `--rules` (the organisation's own formats). Each batch commits its leaks and its
 * cursor together, so a restart, or a kill -9, resumes where the last batch ended. Run one watcher a
 * source: a second one is safe (a batch is committed once) but does the same reads for nothing.
 */
import { parseArgs } from 'node:util'
import { pino } from 'pino'
import { loggerOptions } from '../../lib/logger.js'
import { configFromArgs, storeOptionsOf } from '../cli-config.js'
import { loadRulesFile } from '../detect/rules.js'
import { githubAccessFromEnv, gitlabAccessFromEnv } from '../scans.js'
import { Store } from '../store/store.js'
import { ConfigError } from '../../lib/errors.js'
import { BackfilledEventsSource } from './backfill.js'
import { GHArchiveSource } from './gharchive.js'
import { GitHubEventsSource } from './github-events.js'
import { GitHubGistsSource } from './github-gists.js'
import { codeSearchQueries, GitHubCodeSearchSource } from './github-code-search.js'
import { GitLabEventsSource } from './gitlab-events.js'
import { pasteFeedOptionsOf } from './paste-feed-cli.js'
import { PasteFeedSource } from './paste-feed.js'
import { NpmChangesSource } from './npm-changes.js'
import { PypiReleasesSource } from './pypi-releases.js'
import type { PublicSource } from './source.js'
import { PublicSourceRunner, watch } from './runner.js'

const OWN_OPTIONS = {
  'api-url': { type: 'string' },
  'archive-url': { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  'web-url': { type: 'string' },
  rules: { type: 'string' },
  once: { type: 'boolean' },
  'no-backfill': { type: 'boolean' },
  'keep-others': { type: 'boolean' },
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
} as const

function usage(): string {
  return [
    'usage: leakgate watch github-events [--api-url URL] [--web-url URL] [--archive-url URL] [--no-backfill] [--rules FILE] [--once] [control-plane options]',
    '       leakgate watch gharchive --from YYYY-MM-DD-H [--to YYYY-MM-DD-H] [--archive-url URL] [the same options]',
    '       leakgate watch github-gists [the same options]',
    '       leakgate watch github-code-search --rules FILE [--query Q]... [the same options]',
    '       leakgate watch gitlab-events [--api-url URL] [--web-url URL] [the same options]',
    '       leakgate watch paste-feed --list-url URL [--raw-url-template URL] [--field NAME=FIELD]... [--feed-config FILE] [--limit N] [--rules FILE] [--once]',
    '       leakgate watch npm [--registry-url URL] [--changes-url URL] [--since SEQ] [--rules FILE] [--once]',
    '       leakgate watch pypi [--index-url URL] [--files-url URL] [--rules FILE] [--once]',
    '',
    'Watches GitHub\'s public events: every pushed commit\'s added lines are scanned, and a token of ours',
    '(its SHA-256 in the issued-hash set, or a match of the --rules file) becomes a leak with each place',
    'it was seen at. LEAKGATE_GITHUB_TOKEN (or GITHUB_TOKEN) raises the API budget.',
    '',
    `  ${'--api-url URL'.padEnd(18)} the GitHub API (default https://api.github.com; LEAKGATE_GITHUB_API_URL)`,
    `  ${'--web-url URL'.padEnd(18)} where repositories' pages are, for links (default https://github.com)`,
    `  ${'--rules FILE'.padEnd(18)} the organisation's own token formats (a rules file, as leakgate scan takes)`,
    `  ${'--once'.padEnd(18)} read until the feed has nothing more now, then exit`,
    `  ${'--keep-others'.padEnd(18)} keep other providers' findings apart (hash, kind, preview, place; never leaks;`,
    `  ${''.padEnd(18)} GET /v1/public-sources/other-findings); default: counted only`,
    `  ${'--from HOUR'.padEnd(18)} gharchive: the first hour to read (UTC, as GH Archive names files: 2026-11-30-9)`,
    `  ${'--to HOUR'.padEnd(18)} gharchive: the last hour (default: every hour, as it is published)`,
    `  ${'--archive-url URL'.padEnd(18)} gharchive, and github-events' backfill: default https://data.gharchive.org`,
    `  ${'--no-backfill'.padEnd(18)} github-events: do not read the feed's gaps from GH Archive (state.missedAfter names them)`,
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
  const sources = ['github-events', 'gharchive', 'github-gists', 'github-code-search', 'gitlab-events', 'paste-feed', 'npm', 'pypi']
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
  const github = githubAccessFromEnv(process.env)
  const ourRules = values.rules === undefined ? [] : loadRulesFile(values.rules).rules
  const store = await Store.openConfigured(config, storeOptionsOf(config))
  const githubOptions = {
    ...(values['api-url'] ?? github.apiUrl) === undefined ? {} : { apiUrl: values['api-url'] ?? github.apiUrl },
    ...(values['web-url'] === undefined ? {} : { webUrl: values['web-url'] }),
    ...(github.token === undefined ? {} : { token: github.token }),
  }
  let source: PublicSource
  try {
    if (sourceName === 'github-events') {
      const events = new GitHubEventsSource(githubOptions)
      // The feed's gaps are read from GH Archive's hours by the same watcher (backfill.ts).
      source = values['no-backfill'] === true ? events : new BackfilledEventsSource(events, values['archive-url'] === undefined ? {} : { archiveUrl: values['archive-url'] })
    } else if (sourceName === 'github-gists') {
      source = new GitHubGistsSource(githubOptions)
    } else if (sourceName === 'github-code-search') {
      source = new GitHubCodeSearchSource({ ...githubOptions, queries: codeSearchQueries(ourRules, values.query ?? []) })
    } else if (sourceName === 'gitlab-events') {
      const gitlab = gitlabAccessFromEnv(process.env)
      const apiUrl = values['api-url'] ?? gitlab.apiUrl
      source = new GitLabEventsSource({
        ...(apiUrl === undefined ? {} : { apiUrl }),
        ...(values['web-url'] === undefined ? {} : { webUrl: values['web-url'] }),
        ...(gitlab.token === undefined ? {} : { token: gitlab.token }),
      })
    } else if (sourceName === 'paste-feed') {
      source = new PasteFeedSource(pasteFeedOptionsOf(values))
    } else if (sourceName === 'npm') {
      source = new NpmChangesSource({
        ...(values['registry-url'] === undefined ? {} : { registryUrl: values['registry-url'] }),
        ...(values['changes-url'] === undefined ? {} : { changesUrl: values['changes-url'] }),
        ...(values.since === undefined ? {} : { since: values.since }),
      })
    } else if (sourceName === 'pypi') {
      source = new PypiReleasesSource({
        ...(values['index-url'] === undefined ? {} : { indexUrl: values['index-url'] }),
        ...(values['files-url'] === undefined ? {} : { filesUrl: values['files-url'] }),
      })
    } else {
      if (values.from === undefined) throw new ConfigError('leakgate watch gharchive needs --from YYYY-MM-DD-H: the first hour to read')
      source = new GHArchiveSource({
        ...githubOptions, from: values.from,
        ...(values.to === undefined ? {} : { to: values.to }),
        ...(values['archive-url'] === undefined ? {} : { archiveUrl: values['archive-url'] }),
      })
    }
  } catch (err) {
    await store.close()
    if (err instanceof TypeError) throw new ConfigError(err.message)
    throw err
  }
  const runner = new PublicSourceRunner(store, { ourRules, keepOthers: values['keep-others'] === true })
  const stop = new AbortController()
  process.once('SIGTERM', () => stop.abort())
  process.once('SIGINT', () => stop.abort())
  log.info({ source: source.id, ownRules: ourRules.length, issuedHashes: await store.issuedHashes.count(), keepOthers: values['keep-others'] === true }, 'watching')
  try {
    await watch(runner, source, {
      signal: stop.signal,
      once: values.once === true,
      nextPollAt: async () => (await store.publicSources.cursor(source.id))?.state.nextPollAt as string | undefined,
      onReport: (report) => {
        if ('outcome' in report) log.info({ source: source.id, ...report.outcome }, 'batch committed')
        else log.warn({ source: source.id, err: { message: report.error.message }, retryInSeconds: report.retryInSeconds }, 'batch failed; the cursor stays')
      },
    })
    return 0
  } catch {
    return 1
  } finally {
    await store.close()
  }
}

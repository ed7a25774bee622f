/**
 * One public source from its options, whoever gives them: `leakgate watch <source>`'s flags
 * (watch-cli.ts) or an entry of the control plane's `publicSources` that the scan workers run
 * (scan-worker-cli.ts). Both name options alike (`apiUrl` for `--api-url`), so a source is built in
 * one place, its access tokens from the environment (LEAKGATE_GITHUB_TOKEN, LEAKGATE_GITLAB_TOKEN).
 */
import { ConfigError } from '../../lib/errors.js'
import type { Rule } from '../detect/rule.js'
import { githubAccessFromEnv, gitlabAccessFromEnv } from '../scans.js'
import { GHArchiveSource } from './gharchive.js'
import { GitHubEventsSource } from './github-events.js'
import { GitHubGistsSource } from './github-gists.js'
import { codeSearchQueries, GitHubCodeSearchSource } from './github-code-search.js'
import { GitLabEventsSource } from './gitlab-events.js'
import { PasteFeedSource, type PasteFields } from './paste-feed.js'
import { NpmChangesSource } from './npm-changes.js'
import { PypiReleasesSource } from './pypi-releases.js'
import type { ShardSpec } from './shard.js'
import { PUBLIC_SOURCE_NAMES, type PublicSource, type PublicSourceName } from './source.js'

export { PUBLIC_SOURCE_NAMES, type PublicSourceName }

/** A source and its options (each used by the sources named beside it; the others ignore it). */
export interface PublicSourceSpec {
  source: PublicSourceName
  /** github-events, gharchive, github-gists, github-code-search, gitlab-events: the API. */
  apiUrl?: string
  /** The same: where repositories' pages are, for links. */
  webUrl?: string
  /** gharchive: where the hourly files are. */
  archiveUrl?: string
  /** gharchive: the first hour (`YYYY-MM-DD-H`, UTC); required. */
  from?: string
  /** gharchive: the last hour (included). */
  to?: string
  /** github-code-search: searches besides the rules' keywords. */
  queries?: readonly string[]
  /** paste-feed: the listing of new pastes; required. */
  listUrl?: string
  /** paste-feed: a paste's raw address from its key. */
  rawUrlTemplate?: string
  /** paste-feed: the listing's field names. */
  fields?: Partial<PasteFields>
  /** paste-feed: pastes asked for a listing. */
  limit?: number
  /** npm: packuments and tarballs. */
  registryUrl?: string
  /** npm: the changes feed. */
  changesUrl?: string
  /** npm: where to start without a cursor. */
  since?: string
  /** pypi: the releases feed and JSON API. */
  indexUrl?: string
  /** pypi: where distributions are. */
  filesUrl?: string
}

/** What building a source needs beside its spec. */
export interface SourceContext {
  /** The organisation's own token formats (github-code-search searches their keywords). */
  ourRules: readonly Rule[]
  /** Where access tokens and API addresses come from. */
  env: NodeJS.ProcessEnv
  /** The shard to read, or the whole source. */
  shard?: ShardSpec
}

/**
 * The source `spec` names, reading `context.shard`. A ConfigError says which option is missing or
 * wrong (the sources' own TypeErrors included).
 */
export function makePublicSource(spec: PublicSourceSpec, context: SourceContext): PublicSource {
  try {
    return build(spec, context)
  } catch (err) {
    if (err instanceof TypeError) throw new ConfigError(`public source ${spec.source}: ${err.message}`, { cause: err })
    throw err
  }
}

function build(spec: PublicSourceSpec, context: SourceContext): PublicSource {
  const shard = context.shard === undefined ? {} : { shard: context.shard }
  const github = githubAccessFromEnv(context.env)
  const apiUrl = spec.apiUrl ?? github.apiUrl
  const githubOptions = {
    ...(apiUrl === undefined ? {} : { apiUrl }),
    ...(spec.webUrl === undefined ? {} : { webUrl: spec.webUrl }),
    ...(github.token === undefined ? {} : { token: github.token }),
    ...shard,
  }
  switch (spec.source) {
    case 'github-events':
      return new GitHubEventsSource(githubOptions)
    case 'github-gists':
      return new GitHubGistsSource(githubOptions)
    case 'github-code-search':
      return new GitHubCodeSearchSource({ ...githubOptions, queries: codeSearchQueries(context.ourRules, spec.queries ?? []) })
    case 'gitlab-events': {
      const gitlab = gitlabAccessFromEnv(context.env)
      const gitlabApi = spec.apiUrl ?? gitlab.apiUrl
      return new GitLabEventsSource({
        ...(gitlabApi === undefined ? {} : { apiUrl: gitlabApi }),
        ...(spec.webUrl === undefined ? {} : { webUrl: spec.webUrl }),
        ...(gitlab.token === undefined ? {} : { token: gitlab.token }),
        ...shard,
      })
    }
    case 'paste-feed':
      if (spec.listUrl === undefined) throw new ConfigError('the paste-feed source needs its listing: --list-url URL (listUrl in publicSources or --feed-config)')
      return new PasteFeedSource({
        listUrl: spec.listUrl,
        ...(spec.rawUrlTemplate === undefined ? {} : { rawUrlTemplate: spec.rawUrlTemplate }),
        ...(spec.fields === undefined ? {} : { fields: spec.fields }),
        ...(spec.limit === undefined ? {} : { limit: spec.limit }),
        ...shard,
      })
    case 'npm':
      return new NpmChangesSource({
        ...(spec.registryUrl === undefined ? {} : { registryUrl: spec.registryUrl }),
        ...(spec.changesUrl === undefined ? {} : { changesUrl: spec.changesUrl }),
        ...(spec.since === undefined ? {} : { since: spec.since }),
        ...shard,
      })
    case 'pypi':
      return new PypiReleasesSource({
        ...(spec.indexUrl === undefined ? {} : { indexUrl: spec.indexUrl }),
        ...(spec.filesUrl === undefined ? {} : { filesUrl: spec.filesUrl }),
        ...shard,
      })
    case 'gharchive':
      if (spec.from === undefined) throw new ConfigError('leakgate watch gharchive needs --from YYYY-MM-DD-H (from in publicSources): the first hour to read')
      return new GHArchiveSource({
        ...githubOptions, from: spec.from,
        ...(spec.to === undefined ? {} : { to: spec.to }),
        ...(spec.archiveUrl === undefined ? {} : { archiveUrl: spec.archiveUrl }),
      })
  }
}

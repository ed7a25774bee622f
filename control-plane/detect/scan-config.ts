/**
 * Options of `leakgate scan`, each with its env variable and config-file key (`--config FILE`);
 * flags win over env, env over file.
 */
import { loadConfig, type ConfigSchema, type ConfigSources } from '../../lib/config.js'

/** The scan configuration. */
export interface ScanConfig {
  rules?: string
  cacheDir: string
  maxFileSize: number
  controlPlane: string
  apiKey?: string
  githubApiUrl: string
  githubToken?: string
  gitlabApiUrl: string
  gitlabToken?: string
  maxRateLimitWait: number
  ignoreFile?: string
}

/** JSON schema of the scan configuration. */
export const scanConfigSchema: ConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    rules: { type: 'string', description: 'a gitleaks-style TOML rules file added to the built-in rules', 'x-env': 'LEAKGATE_RULES', 'x-flag': 'rules' },
    cacheDir: { type: 'string', description: 'where remote repositories are mirrored', default: './data/scan-cache', 'x-env': 'LEAKGATE_SCAN_CACHE_DIR', 'x-flag': 'cache-dir' },
    maxFileSize: { type: 'integer', description: 'files larger than this many bytes are skipped', default: 10 * 1024 * 1024, minimum: 1, 'x-env': 'LEAKGATE_SCAN_MAX_FILE_SIZE', 'x-flag': 'max-file-size' },
    controlPlane: { type: 'string', description: 'control plane URL for --push', default: 'http://127.0.0.1:8080', pattern: '^https?://', 'x-env': 'LEAKGATE_CONTROL_PLANE', 'x-flag': 'control-plane' },
    apiKey: { type: 'string', description: 'admin API key for --push', 'x-env': 'LEAKGATE_API_KEY', 'x-secret': true },
    githubApiUrl: { type: 'string', description: 'GitHub REST API base URL (GitHub Enterprise: https://HOST/api/v3)', default: 'https://api.github.com', pattern: '^https?://', 'x-env': 'LEAKGATE_GITHUB_API_URL', 'x-flag': 'github-api-url' },
    githubToken: { type: 'string', description: 'GitHub token (GITHUB_TOKEN is read too)', 'x-env': 'LEAKGATE_GITHUB_TOKEN', 'x-secret': true },
    gitlabApiUrl: { type: 'string', description: 'GitLab REST API base URL (self-managed: https://HOST/api/v4)', default: 'https://gitlab.com/api/v4', pattern: '^https?://', 'x-env': 'LEAKGATE_GITLAB_API_URL', 'x-flag': 'gitlab-api-url' },
    gitlabToken: { type: 'string', description: 'GitLab token, sent as PRIVATE-TOKEN (GITLAB_TOKEN is read too)', 'x-env': 'LEAKGATE_GITLAB_TOKEN', 'x-secret': true },
    maxRateLimitWait: { type: 'integer', description: 'longest wait, in seconds, for a GitHub or GitLab rate-limit reset', default: 900, minimum: 0, 'x-env': 'LEAKGATE_GITHUB_MAX_WAIT', 'x-flag': 'github-max-wait' },
    ignoreFile: { type: 'string', description: 'a .leakgateignore file of fingerprints to leave out', 'x-env': 'LEAKGATE_IGNORE_FILE', 'x-flag': 'ignore-file' },
  },
}

/** Loads the scan configuration. @throws ConfigError naming the option, its env variable and flag. */
export function loadScanConfig(sources: ConfigSources): Readonly<ScanConfig> {
  const env = { ...(sources.env ?? {}) }
  if ((env.LEAKGATE_GITHUB_TOKEN ?? '') === '' && (env.GITHUB_TOKEN ?? '') !== '') env.LEAKGATE_GITHUB_TOKEN = env.GITHUB_TOKEN
  if ((env.LEAKGATE_GITLAB_TOKEN ?? '') === '' && (env.GITLAB_TOKEN ?? '') !== '') env.LEAKGATE_GITLAB_TOKEN = env.GITLAB_TOKEN
  if ((env.LEAKGATE_API_KEY ?? '') === '' && (env.LEAKGATE_ADMIN_KEY ?? '') !== '') env.LEAKGATE_API_KEY = env.LEAKGATE_ADMIN_KEY
  return loadConfig<ScanConfig>(scanConfigSchema, { ...sources, env })
}

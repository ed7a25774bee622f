/**
 * What the scanner's tests share: git repositories made on the spot (an author set, HOME kept inside
 * the temp folder so no user config leaks in), plus the generic `tempDir` and `waitFor`. It imports
 * nothing of the control plane: the scanner knows no store.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export { tempDir, waitFor, type Teardown } from '../../../test/support.js'

/** A git repository under test and the ways to change it. */
export interface GitRepo {
  /** The working tree. */
  dir: string
  /** Runs git in the working tree; answers its output, trimmed. */
  git(...args: string[]): string
  /** Writes a file (and the folders it needs) in the working tree. */
  write(path: string, content: string): void
  /** Writes `files`, stages everything and commits (empty commits too); answers the new HEAD. */
  commit(message: string, files?: Record<string, string>): string
}

/**
 * Makes `root/name` a new repository on branch main. `root` is git's HOME too, so it should be a temp
 * folder of the test's own; `gitOptions` go before every command (`['-c', 'core.compression=0']`).
 */
export function gitRepo(root: string, name = 'repo', gitOptions: readonly string[] = []): GitRepo {
  const dir = join(root, name)
  mkdirSync(dir, { recursive: true })
  const env = { ...process.env, GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@example.test', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@example.test', HOME: root }
  const git = (...args: string[]): string => execFileSync('git', [...gitOptions, ...args], { cwd: dir, env, encoding: 'utf8' }).trim()
  const write = (path: string, content: string): void => {
    mkdirSync(join(dir, path, '..'), { recursive: true })
    writeFileSync(join(dir, path), content)
  }
  git('init', '-q', '-b', 'main')
  return {
    dir,
    git,
    write,
    commit(message, files = {}) {
      for (const [path, content] of Object.entries(files)) write(path, content)
      git('add', '-A')
      git('commit', '-q', '--allow-empty', '-m', message)
      return git('rev-parse', 'HEAD')
    },
  }
}

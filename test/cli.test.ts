import { spawnSync } from 'node:child_process'
import t from 'tap'
import { leakgateVersion } from '../lib/version.js'

/** Runs the `leakgate` binary from the sources as a user would, and what it printed. */
function leakgate(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', './scripts/register-ts.js', 'cli.ts', ...args], { encoding: 'utf8', timeout: 60_000 })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

t.test('-v, --version and version print the version', async (t) => {
  for (const flag of ['-v', '--version', 'version']) {
    const r = leakgate(flag)
    t.equal(r.status, 0, `${flag}: exit 0`)
    t.equal(r.stdout.trim(), leakgateVersion(), `${flag}: the version`)
  }
})

t.test('an unknown command is one line that says where the commands are listed, not the whole usage', async (t) => {
  const r = leakgate('scna')
  t.equal(r.status, 2)
  t.equal(r.stderr.trim(), 'leakgate: unknown command "scna" (leakgate --help lists the commands)')
})

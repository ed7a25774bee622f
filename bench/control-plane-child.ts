/**
 * The real control plane (`cli.ts control-plane`) as a child process of a bench, so that what the bench
 * measures through HTTP runs in a process of its own, as in production.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process'
import type { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/**
 * Starts the control plane with exactly `env` (the bench passes `process.env` on itself) and answers
 * its URL once it listens; rejects if it exits first or is not up within `startMs` (then killed).
 * Its log goes to stdout, a line a request: read until the URL shows, dropped from then on.
 */
export async function startControlPlaneChild(env: NodeJS.ProcessEnv, startMs: number): Promise<{ child: ChildProcessByStdio<null, Readable, null>; base: string }> {
  const child = spawn(process.execPath, ['--import', './scripts/register-ts.js', 'cli.ts', 'control-plane'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] })
  const base = await new Promise<string>((resolve, reject) => {
    let out = ''
    const onData = (d: Buffer): void => {
      out += d.toString('utf8')
      const m = /listening at (http:\/\/127\.0\.0\.1:\d+)/i.exec(out)
      if (m?.[1] === undefined) return
      child.stdout.off('data', onData)
      child.stdout.resume()
      resolve(m[1])
    }
    child.stdout.on('data', onData)
    child.once('exit', (code) => reject(new Error(`control plane exited with ${String(code)}: ${out}`)))
    setTimeout(() => {
      child.kill()
      reject(new Error(`control plane did not start: ${out}`))
    }, startMs).unref()
  })
  return { child, base }
}

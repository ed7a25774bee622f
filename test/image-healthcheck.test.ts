/**
 * The image's HEALTHCHECK (healthcheck.ts, run as the Dockerfile runs it but with the container's
 * command given as arguments) tests the part the container runs: a ready control plane and a node
 * serving both its ports are healthy; a control plane that does not answer, a node whose proxy port is
 * gone while its admin port still answers, and a node whose admin port is gone are not.
 */
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { Stack, startDeployment } from '../control-plane/test/console-harness.js'
import { startNode, startUpstream } from '../node/test/helpers.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  const { port } = server.address() as { port: number }
  await new Promise<void>((ok) => server.close(() => ok()))
  return port
}

/** Runs healthcheck.ts as the image does (with an explicit command instead of PID 1's). */
function healthcheck(args: readonly string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((ok) => {
    const child = spawn(process.execPath, ['--import', './scripts/register-ts.js', 'healthcheck.ts', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    child.once('exit', (code) => ok({ code, stderr }))
  })
}

t.test('the image health check tests the part the container runs', async (tt) => {
  const stack = new Stack()
  tt.teardown(stack.close)
  const { cp, node } = await startDeployment(stack)
  const gone = String(await closedPort())
  const cpEnv = { LEAKGATE_CP_HOST: '127.0.0.1', LEAKGATE_CP_PORT: gone }
  // A node serving TLS on its proxy port: the check completes a handshake, so none is counted as failed.
  const upstream = await startUpstream(tt)
  const tlsNode = await startNode(tt, { upstream: upstream.url, tls: true })
  const tlsEnv = {
    LEAKGATE_UPSTREAM: upstream.url, LEAKGATE_HOST: '127.0.0.1',
    LEAKGATE_PORT: new URL(tlsNode.url).port, LEAKGATE_ADMIN_PORT: new URL(tlsNode.adminUrl).port,
    LEAKGATE_TLS_CERT: tlsNode.config.tlsCert ?? '', LEAKGATE_TLS_KEY: tlsNode.config.tlsKey ?? '',
  }
  const nodeEnv = { LEAKGATE_UPSTREAM: 'http://127.0.0.1:1', LEAKGATE_HOST: '127.0.0.1', LEAKGATE_PORT: new URL(node.url).port, LEAKGATE_ADMIN_PORT: new URL(node.adminUrl).port }
  // Each run loads the configuration as the part did: run them at once (a cold start each).
  const [cpReady, cpDown, nodeServing, noProxy, noAdmin, tlsServing] = await Promise.all([
    // The env says a closed port, the flag the real one: flags win, as in the part itself.
    healthcheck(['control-plane', '--port', new URL(cp.url).port], cpEnv),
    healthcheck(['control-plane'], cpEnv),
    healthcheck(['node'], nodeEnv),
    healthcheck(['node'], { ...nodeEnv, LEAKGATE_PORT: gone }),
    healthcheck(['node'], { ...nodeEnv, LEAKGATE_ADMIN_PORT: gone }),
    healthcheck(['node'], tlsEnv),
  ])
  tt.equal(cpReady.code, 0, `a control plane that is ready: healthy ${cpReady.stderr}`)
  tt.equal(cpDown.code, 1, 'a control plane that does not answer: unhealthy')
  tt.match(cpDown.stderr, /readyz/, 'saying which check failed')
  tt.equal(nodeServing.code, 0, `a node serving both ports: healthy ${nodeServing.stderr}`)
  tt.equal((await fetch(`${node.adminUrl}/healthz`)).status, 200, 'the admin port answers')
  tt.equal(noProxy.code, 1, 'a node whose proxy port is gone, its admin port answering: unhealthy')
  tt.match(noProxy.stderr, /proxy port/, 'saying so')
  tt.equal(noAdmin.code, 1, 'a node whose admin port is gone: unhealthy')
  tt.equal(tlsServing.code, 0, `a node serving TLS: healthy ${tlsServing.stderr}`)
  tt.equal(tlsNode.node.metrics.counters.tlsHandshakeErrors, 0, 'and the check is no failed handshake in its metrics')
})

/**
 * The container's HEALTHCHECK: healthy when this container's control plane or node answers its
 * liveness route. One image runs either part, so it asks both places (env can move the ports).
 */
const targets = [
  `http://127.0.0.1:${process.env.LEAKGATE_CP_PORT ?? '8080'}/healthz`,
  `http://127.0.0.1:${process.env.LEAKGATE_ADMIN_PORT ?? '9100'}/healthz`,
]

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) })
    return res.ok
  } catch {
    return false
  }
}

const results = await Promise.all(targets.map(healthy))
process.exitCode = results.some(Boolean) ? 0 : 1

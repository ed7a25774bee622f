/**
 * `/healthz` (liveness: the store answers, public), `/readyz` (readiness: the database answers a
 * query and its schema is this build's, public) and `/metrics` (Prometheus text: public, or behind
 * `Authorization: Bearer <metricsKey>` when that option is set).
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyBaseLogger, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { NotReadyError, UnauthorizedError } from '../../lib/errors.js'
import { problemOf } from '../../lib/problem.js'
import type { RouteContext } from '../context.js'
import { bearerKey } from '../auth.js'
import { sendProblem } from '../errors.js'
import { LATEST_SCHEMA_VERSION } from '../store/migrations.js'
import type { Store } from '../store/store.js'

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest()
}

/**
 * An onRequest hook that lets through only `Authorization: Bearer <key>` (compared in constant time);
 * a wrong key counts as a failed authentication (auth.ts), so it is limited like one.
 */
function requireBearer(app: FastifyInstance, key: string) {
  const expected = digest(key)
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const sent = bearerKey(request.headers.authorization)
    // Hashed first, so the comparison takes the same time whatever the length sent.
    if (sent !== undefined && timingSafeEqual(digest(sent), expected)) return
    reply.header('www-authenticate', 'Bearer realm="leakgate-metrics"')
    await app.authFailure(request, reply)
    throw new UnauthorizedError('/metrics needs the metrics key: send Authorization: Bearer <metricsKey>')
  }
}

/** What `/readyz` checked: each check `ok`, or what is wrong (`failed`: could not be queried; `not_checked`: the database failed first). */
interface Readiness {
  database: 'ok' | 'failed'
  migrations: 'ok' | 'behind' | 'ahead' | 'failed' | 'not_checked'
  schemaVersion?: number
}

/** Runs the readiness checks; a failure's cause goes to the log, not to the (public) answer. */
async function readiness(store: Store, log: FastifyBaseLogger): Promise<Readiness> {
  try {
    await store.ping()
  } catch (err) {
    log.warn({ err: { message: (err as Error).message } }, 'readyz: the database cannot be queried')
    return { database: 'failed', migrations: 'not_checked' }
  }
  let schemaVersion: number
  try {
    schemaVersion = await store.schemaVersion()
  } catch (err) {
    log.warn({ err: { message: (err as Error).message } }, 'readyz: the schema version cannot be read')
    return { database: 'ok', migrations: 'failed' }
  }
  const migrations = schemaVersion === LATEST_SCHEMA_VERSION ? 'ok' : schemaVersion < LATEST_SCHEMA_VERSION ? 'behind' : 'ahead'
  return { database: 'ok', migrations, schemaVersion }
}

const routes: FastifyPluginAsync<RouteContext> = async (app, { store, metrics, config }) => {
  app.get('/healthz', {
    schema: { summary: 'Liveness', tags: ['health'] },
    logLevel: 'warn',
  }, async () => {
    await store.ping()
    return { status: 'ok', revision: await store.index.revision() }
  })

  // For load balancers and orchestrators: 503 takes this instance out of rotation until its store is usable.
  app.get('/readyz', {
    schema: { summary: 'Readiness: the database answers and its schema is current; 503 names the failed check', tags: ['health'] },
    logLevel: 'warn',
  }, async (request, reply) => {
    const checks = await readiness(store, request.log)
    if (checks.database === 'ok' && checks.migrations === 'ok') {
      return { status: 'ready', checks: { database: 'ok', migrations: 'ok' }, schemaVersion: checks.schemaVersion }
    }
    const detail = checks.database !== 'ok'
      ? 'not ready: the database cannot be queried'
      : checks.migrations === 'failed'
        ? 'not ready: the schema version cannot be read from the database'
        : `not ready: the store's schema is version ${checks.schemaVersion ?? '?'}, this control plane expects ${LATEST_SCHEMA_VERSION}${checks.migrations === 'behind' ? ' (restart the control plane: it applies its migrations at start)' : ' (a newer Leakgate migrated it: upgrade this one)'}`
    const { schemaVersion, ...rest } = checks
    return sendProblem(reply, problemOf(new NotReadyError(detail), { checks: rest, ...(schemaVersion === undefined ? {} : { schemaVersion }), latestSchemaVersion: LATEST_SCHEMA_VERSION }))
  })

  app.get('/metrics', {
    schema: { summary: 'Prometheus metrics (needs the metrics key when the metricsKey option is set)', tags: ['health'] },
    logLevel: 'warn',
    ...(config.metricsKey === undefined ? {} : { onRequest: requireBearer(app, config.metricsKey) }),
  }, async (_request, reply) => {
    const body = await metrics.registry.metrics()
    return reply.type(metrics.registry.contentType).send(body)
  })
}

export default routes

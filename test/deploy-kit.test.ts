/**
 * The deployment kit under deploy/ holds together with the code it deploys:
 * - every YAML file parses, and the compose file and Kubernetes manifests name only images that are
 *   built here or pinned, commands the CLI has, env variables the configuration loaders read, and the
 *   ports those loaders default to (and Prometheus scrapes those ports on those services);
 * - `promtool check config` and `promtool check rules` accept the Prometheus files;
 * - every metric a Grafana panel or an alert rule names is exposed by a real control plane and a real
 *   node, scraped here after a request went through the node and a scan failed;
 * - the shipped nginx files work: the load balancer in front of a real control plane (health through
 *   it, /metrics hidden, cached snapshots only for a known key), the demo API behind a real node.
 * The image's health check has its own test (image-healthcheck.test.ts).
 */
import { spawn, spawnSync } from 'node:child_process'
import { createServer, type AddressInfo } from 'node:net'
import { chmodSync, existsSync, readFileSync, readdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { parse, parseAllDocuments } from 'yaml'
import { controlPlaneSchema } from '../control-plane/config.js'
import { cpFetch, Stack, startDeployment, startNode } from '../control-plane/test/console-harness.js'
import { freshDatabase, withPostgres } from '../control-plane/test/postgres.js'
import { request, spawnPlane } from '../control-plane/test/process.js'
import { generateKey } from '../control-plane/store/keys.js'
import type { ConfigSchema } from '../lib/config.js'
import { nodeConfigSchema } from '../node/config.js'
import { NGINX, startNginx } from '../node/test/check-mode-helpers.js'
import { tempDir, waitFor } from './support.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const DEPLOY = join(ROOT, 'deploy')
const PROMTOOL = process.env.LEAKGATE_PROMTOOL ?? 'promtool'

type Doc = Record<string, unknown>
const obj = (v: unknown): Doc => (typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Doc : {})
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : [])
const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '')

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]))
}

/** The commands `leakgate` has (cli.ts's table, read as text: importing cli.ts would run it). */
const CLI_COMMANDS = new Set([...readFileSync(join(ROOT, 'cli.ts'), 'utf8').matchAll(/^\s+'?([a-z-]+)'?: \{ summary:/gm)].map((m) => m[1]!))

/** The env variables a configuration schema reads, with each option's default. */
function envOf(schema: ConfigSchema): Map<string, unknown> {
  return new Map(Object.values(schema.properties).flatMap((p) => (p['x-env'] === undefined ? [] : [[p['x-env'], p.default] as const])))
}
const CP_ENV = envOf(controlPlaneSchema)
const NODE_ENV = envOf(nodeConfigSchema)
const CP_PORT = Number(CP_ENV.get('LEAKGATE_CP_PORT'))
const NODE_PORT = Number(NODE_ENV.get('LEAKGATE_PORT'))
const ADMIN_PORT = Number(NODE_ENV.get('LEAKGATE_ADMIN_PORT'))

type Part = 'control-plane' | 'node' | 'other'
/** The part a Leakgate container runs, from its command. */
function partOf(command: string | undefined): Part {
  if (command === 'node') return 'node'
  if (command === 'control-plane' || command === 'migrate' || command === 'scan-worker') return 'control-plane'
  return 'other'
}

/** Checks one Leakgate container's command and env names against the CLI and the loaders. */
function checkLeakgateContainer(tt: Test, where: string, command: string | undefined, envNames: readonly string[]): void {
  tt.ok(command !== undefined && CLI_COMMANDS.has(command), `${where}: \`leakgate ${command}\` is a CLI command`)
  const part = partOf(command)
  const known = part === 'node' ? NODE_ENV : CP_ENV
  for (const name of envNames.filter((n) => n.startsWith('LEAKGATE_'))) {
    tt.ok(known.has(name), `${where}: ${name} is read by the ${part} configuration`)
  }
}

/** A pinned image of a public registry (a tag, never `latest`), or the one this repository builds. */
const LEAKGATE_IMAGE = 'leakgate:local'
function checkImage(tt: Test, where: string, image: string): void {
  if (image === LEAKGATE_IMAGE) return
  tt.match(image, /^[a-z0-9./-]+:[A-Za-z0-9._-]+$/, `${where}: image ${image} has a tag`)
  tt.notMatch(image, /:latest$/, `${where}: image ${image} is pinned`)
}

// ---------------------------------------------------------------------------------------------------

const yamlFiles = filesUnder(DEPLOY).filter((f) => /\.ya?ml$/.test(f))

t.test('every YAML file under deploy/ parses', async (tt) => {
  tt.ok(yamlFiles.length >= 8, `found the kit's YAML files (${yamlFiles.length})`)
  for (const file of yamlFiles) {
    const docs = parseAllDocuments(readFileSync(file, 'utf8'), { merge: true })
    const list = Array.isArray(docs) ? docs : [docs]
    const errors = list.flatMap((d) => d.errors.map((e) => e.message))
    tt.same(errors, [], `${file.slice(ROOT.length)} parses`)
  }
  for (const file of filesUnder(DEPLOY).filter((f) => f.endsWith('.json'))) {
    tt.doesNotThrow(() => JSON.parse(readFileSync(file, 'utf8')), `${file.slice(ROOT.length)} is JSON`)
  }
})

const compose = obj(parse(readFileSync(join(DEPLOY, 'compose.yaml'), 'utf8'), { merge: true }))
const services = obj(compose.services)
const envNamesOf = (service: Doc): string[] => Object.keys(obj(service.environment))
const envOfService = (service: Doc): Doc => obj(service.environment)
const commandOf = (service: Doc): string | undefined => str(arr(service.command)[0]) || undefined

t.test('compose.yaml: images, commands, env names, ports and files are real', async (tt) => {
  const leakgate = Object.entries(services).filter(([, s]) => obj(s).image === LEAKGATE_IMAGE)
  tt.ok(leakgate.length >= 5, 'the Leakgate services run the image built here')
  for (const [name, s] of Object.entries(services)) {
    const service = obj(s)
    checkImage(tt, name, str(service.image))
    if (service.image === LEAKGATE_IMAGE) {
      const build = obj(service.build)
      tt.ok(existsSync(join(resolve(DEPLOY, str(build.context)), str(build.dockerfile))), `${name}: builds from this repository's Dockerfile`)
      checkLeakgateContainer(tt, name, commandOf(service), envNamesOf(service))
    }
    // Every file or folder mounted from the kit exists.
    for (const v of arr(service.volumes).map(str).filter((v) => v.startsWith('./'))) {
      tt.ok(existsSync(join(DEPLOY, v.split(':')[0]!)), `${name}: mounts ${v.split(':')[0]}, which exists`)
    }
  }
  const byPart = (part: Part): [string, Doc][] => Object.entries(services).map(([n, s]) => [n, obj(s)] as [string, Doc]).filter(([, s]) => s.image === LEAKGATE_IMAGE && commandOf(s) === part)
  const replicas = byPart('control-plane')
  const nodes = byPart('node')
  tt.equal(replicas.length, 2, 'two control-plane replicas')
  tt.equal(nodes.length, 2, 'two nodes')
  tt.ok(services.postgres !== undefined && str(obj(services.postgres).image).startsWith('postgres:'), 'a PostgreSQL service')

  for (const [name, s] of replicas) {
    const env = envOfService(s)
    tt.equal(Number(env.LEAKGATE_CP_PORT ?? CP_PORT), CP_PORT, `${name}: listens on the control plane's default port`)
    tt.match(str(env.LEAKGATE_DATABASE_URL), /^postgres:\/\/[^@]+@postgres:5432\//, `${name}: on the postgres service`)
  }
  // The load balancer's config names each replica at the control plane's port, and listens where nodes go.
  const lb = readFileSync(join(DEPLOY, 'nginx/control-plane-lb.conf'), 'utf8')
  const lbServers = [...lb.matchAll(/^\s*server ([\w.-]+):(\d+)/gm)].map((m) => `${m[1]}:${m[2]}`)
  tt.same(lbServers.sort(), replicas.map(([n]) => `${n}:${CP_PORT}`).sort(), 'nginx balances over the replicas, at their port')
  const lbListen = Number(/^\s*listen (\d+);/m.exec(lb)?.[1])
  const demoListen = Number(/^\s*listen (\d+);/m.exec(readFileSync(join(DEPLOY, 'nginx/demo-api.conf'), 'utf8'))?.[1])
  for (const [name, s] of nodes) {
    const env = envOfService(s)
    const cp = new URL(str(env.LEAKGATE_CONTROL_PLANE))
    tt.ok(services[cp.hostname] !== undefined && str(arr(obj(services[cp.hostname]).volumes)[0]).includes('control-plane-lb.conf'), `${name}: follows the control plane through nginx`)
    tt.equal(Number(cp.port), lbListen, `${name}: at the port nginx listens on`)
    const upstream = new URL(str(env.LEAKGATE_UPSTREAM))
    tt.ok(services[upstream.hostname] !== undefined, `${name}: its upstream ${upstream.hostname} is a service`)
    tt.equal(Number(upstream.port), demoListen, `${name}: at the port the demo API listens on`)
    tt.equal(Number(env.LEAKGATE_PORT ?? NODE_PORT), NODE_PORT, `${name}: proxy on the default port`)
    tt.equal(Number(env.LEAKGATE_ADMIN_PORT ?? ADMIN_PORT), ADMIN_PORT, `${name}: admin on the default port`)
    const published = arr(s.ports).map((p) => Number(str(p).split(':').at(-1)))
    tt.same(published, [NODE_PORT], `${name}: publishes its proxy port only`)
    tt.ok(str(env.LEAKGATE_NODE_ID) !== '', `${name}: has a node id of its own`)
  }
  tt.equal(new Set(nodes.map(([, s]) => str(envOfService(s).LEAKGATE_NODE_ID))).size, nodes.length, 'node ids differ')

  // Every ${VAR} the file needs is in .env.example.
  const text = readFileSync(join(DEPLOY, 'compose.yaml'), 'utf8')
  const needed = new Set([...text.matchAll(/\$\{(\w+)/g)].map((m) => m[1]!))
  const example = new Set([...readFileSync(join(DEPLOY, '.env.example'), 'utf8').matchAll(/^(\w+)=/gm)].map((m) => m[1]!))
  tt.same([...needed].filter((n) => !example.has(n)), [], 'deploy/.env.example lists every variable compose.yaml needs')

  // The Dockerfile exposes the ports the defaults use.
  const exposed = /^EXPOSE (.+)$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))?.[1]?.split(/\s+/).map(Number) ?? []
  tt.same(exposed.sort(), [CP_PORT, NODE_PORT, ADMIN_PORT].sort(), 'the image exposes the default ports')
})

t.test('the image: # syntax first, a health check the build makes, the README\'s docker lines consistent', async (tt) => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
  // BuildKit reads the syntax directive only on the first line.
  tt.equal(dockerfile.split('\n')[0], '# syntax=docker/dockerfile:1', 'the syntax directive is the first line')
  const check = /^HEALTHCHECK .*CMD \["node", "dist\/([\w/-]+)\.js"\]$/m.exec(dockerfile)?.[1]
  const built = obj(JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8'))).include
  tt.ok(check !== undefined && existsSync(join(ROOT, `${check}.ts`)), `the health check's source exists (${check}.ts)`)
  tt.ok(arr(built).includes(`${check}.ts`), 'and the build compiles it into dist/')
  tt.match(dockerfile, /^ENTRYPOINT \["tini", "--", "node", "dist\/cli\.js"\]$/m, 'the entrypoint is the CLI, whose command the health check reads')

  // The README's docker lines: one network, names that resolve, real commands, env names and ports.
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const block = /### Docker\n[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? ''
  const lines = block.replace(/\\\n\s*/g, ' ').split('\n').filter((l) => l.startsWith('docker run'))
  tt.ok(lines.length >= 3, 'the README runs an API, a control plane and a node')
  const network = /^docker network create (\S+)$/m.exec(block)?.[1]
  tt.ok(network !== undefined, 'on a network it creates')
  const names = new Set<string>()
  for (const line of lines) {
    tt.match(line, new RegExp(`--network ${network} `), `on that network: ${line.slice(0, 60)}…`)
    const name = /--name (\S+)/.exec(line)?.[1]
    if (name !== undefined) names.add(name)
    const words = line.split(/\s+/)
    const image = words.findIndex((w, i) => i > 1 && !w.startsWith('-') && !words[i - 1]!.match(/^-(?:-name|-network|p|v|e)$/))
    if (words[image] !== 'leakgate') continue
    const command = words[image + 1]
    const envNames = words.filter((_, i) => words[i - 1] === '-e').map((w) => w.split('=')[0]!)
    checkLeakgateContainer(tt, `README docker run … ${command}`, command, envNames)
    const published = words.filter((_, i) => words[i - 1] === '-p').map((w) => Number(w.split(':').at(-1)))
    tt.same(published.sort(), command === 'node' ? [NODE_PORT, ADMIN_PORT].sort() : [CP_PORT], `${command}: publishes its default ports`)
    for (const w of envNames.length > 0 ? words.filter((x) => /^LEAKGATE_(?:UPSTREAM|CONTROL_PLANE)=/.test(x)) : []) {
      const host = new URL(w.split('=')[1]!).hostname
      tt.ok(names.has(host), `${w.split('=')[0]}: ${host} is a container started before, on the network`)
    }
  }
})

const prometheusConfig = obj(parse(readFileSync(join(DEPLOY, 'prometheus/prometheus.yml'), 'utf8')))
const scrapeJobs = new Map(arr(prometheusConfig.scrape_configs).map((c) => [str(obj(c).job_name), arr(obj(arr(obj(c).static_configs)[0]).targets).map(str)] as const))

t.test('Prometheus scrapes every replica and node where they serve /metrics', async (tt) => {
  const cpTargets = scrapeJobs.get('leakgate-control-plane') ?? []
  const nodeTargets = scrapeJobs.get('leakgate-node') ?? []
  const named = (part: string): string[] => Object.entries(services).filter(([, s]) => obj(s).image === LEAKGATE_IMAGE && commandOf(obj(s)) === part).map(([n]) => n)
  tt.same(cpTargets.sort(), named('control-plane').map((n) => `${n}:${CP_PORT}`).sort(), 'each replica on the API port')
  tt.same(nodeTargets.sort(), named('node').map((n) => `${n}:${ADMIN_PORT}`).sort(), 'each node on its admin port')
  const workers = Object.entries(services).filter(([, s]) => obj(s).image === LEAKGATE_IMAGE && commandOf(obj(s)) === 'scan-worker')
  tt.ok(workers.length > 0, 'a scan worker runs')
  const workerTargets = workers.map(([n, s]) => `${n}:${Number(envOfService(obj(s)).LEAKGATE_SCAN_WORKER_METRICS_PORT ?? 0)}`)
  tt.notOk(workerTargets.some((w) => w.endsWith(':0')), 'each scan worker serves its metrics (LEAKGATE_SCAN_WORKER_METRICS_PORT)')
  tt.same((scrapeJobs.get('leakgate-scan-worker') ?? []).sort(), workerTargets.sort(), 'each scan worker on its metrics port')
  const mounted = arr(obj(services.prometheus).volumes).map(str).find((v) => v.startsWith('./prometheus:'))
  tt.ok(mounted?.endsWith(':/etc/prometheus:ro'), 'the config folder is mounted where --config.file points')
  tt.ok(arr(obj(services.prometheus).command).includes('--config.file=/etc/prometheus/prometheus.yml'), 'prometheus reads it')
})

// Without promtool the check may be skipped on a workstation, never in CI (.ci/run installs it).
const promtoolMissing = spawnSync(PROMTOOL, ['--version'], { stdio: 'ignore' }).status === 0 ? '' : `${PROMTOOL} not found: install Debian's prometheus package or set LEAKGATE_PROMTOOL`
t.test('promtool check config and check rules pass', { skip: process.env.CI ? false : promtoolMissing }, async (tt) => {
  if (promtoolMissing) {
    tt.fail(promtoolMissing)
    return
  }
  for (const args of [['check', 'config', 'prometheus.yml'], ['check', 'rules', 'alerts.yml']]) {
    const run = spawnSync(PROMTOOL, args, { cwd: join(DEPLOY, 'prometheus'), encoding: 'utf8' })
    tt.equal(run.status, 0, `promtool ${args.join(' ')}: ${run.stdout}${run.stderr}`.trim())
  }
})

t.test('Grafana: the datasource and the dashboard are provisioned where compose mounts them', async (tt) => {
  const ds = obj(arr(obj(parse(readFileSync(join(DEPLOY, 'grafana/provisioning/datasources/prometheus.yaml'), 'utf8'))).datasources)[0])
  tt.equal(new URL(str(ds.url)).hostname, 'prometheus', 'the datasource is the prometheus service')
  tt.equal(Number(new URL(str(ds.url)).port), 9090, 'on its port')
  const provider = obj(arr(obj(parse(readFileSync(join(DEPLOY, 'grafana/provisioning/dashboards/leakgate.yaml'), 'utf8'))).providers)[0])
  const mounts = arr(obj(services.grafana).volumes).map(str)
  tt.ok(mounts.includes(`./grafana/dashboards:${str(obj(provider.options).path)}:ro`), 'the dashboards folder is mounted at the provider\'s path')
  tt.ok(mounts.includes('./grafana/provisioning:/etc/grafana/provisioning:ro'), 'provisioning is mounted')
  const dashboard = obj(JSON.parse(readFileSync(join(DEPLOY, 'grafana/dashboards/leakgate.json'), 'utf8')))
  const panels = arr(dashboard.panels).map(obj).filter((p) => p.type !== 'row')
  for (const p of panels) tt.equal(obj(p.datasource).uid, ds.uid, `panel "${str(p.title)}" uses the provisioned datasource`)
  const titles = panels.map((p) => str(p.title).toLowerCase()).join('|')
  for (const want of ['requests by verdict', 'block rate', 'check latency', 'sync age', 'sync lag', 'index size', 'sightings', 'leaks by risk', 'leaks by status', 'scan jobs']) {
    tt.ok(titles.includes(want), `the dashboard has "${want}"`)
  }
})

// ---------------------------------------------------------------------------------------------------
// Kubernetes

const manifests = readdirSync(join(DEPLOY, 'kubernetes')).filter((f) => f.endsWith('.yaml')).flatMap((f) =>
  parseAllDocuments(readFileSync(join(DEPLOY, 'kubernetes', f), 'utf8')).map((d) => ({ file: f, doc: obj(d.toJS()) })))
const ofKind = (kind: string): Doc[] => manifests.filter((m) => m.doc.kind === kind).map((m) => m.doc)
const named = (kind: string, name: string): Doc => ofKind(kind).find((d) => obj(d.metadata).name === name) ?? {}

t.test('Kubernetes: control plane and nodes are configured through the same env and ports', async (tt) => {
  for (const m of manifests) tt.ok(str(m.doc.apiVersion) !== '' && str(m.doc.kind) !== '', `${m.file}: ${str(m.doc.kind)} ${str(obj(m.doc.metadata).name)}`)
  const configMaps = new Map(ofKind('ConfigMap').map((c) => [str(obj(c.metadata).name), Object.keys(obj(c.data))]))
  const secretKeys = new Set<string>()
  for (const deployment of [...ofKind('Deployment'), ...ofKind('Job')]) {
    const name = str(obj(deployment.metadata).name)
    const pod = obj(obj(deployment.spec).template)
    if (deployment.kind === 'Deployment') tt.same(obj(obj(obj(deployment.spec).selector).matchLabels), obj(obj(pod.metadata).labels), `${name}: selects its own pods`)
    for (const c of arr(obj(pod.spec).containers).map(obj)) {
      checkImage(tt, name, str(c.image))
      const names = [...arr(c.env).map((e) => str(obj(e).name))]
      for (const from of arr(c.envFrom).map(obj)) {
        const cm = str(obj(from.configMapRef).name)
        if (cm !== '') {
          tt.ok(configMaps.has(cm), `${name}: ConfigMap ${cm} is shipped`)
          names.push(...(configMaps.get(cm) ?? []))
        }
        // The Secret is the operator's (`kubectl create secret`, in its header); its keys are the documented ones.
        if (str(obj(from.secretRef).name) !== '') for (const k of ['LEAKGATE_HASH_KEY', 'LEAKGATE_ADMIN_KEY', 'LEAKGATE_NODE_KEY', 'LEAKGATE_DATABASE_URL']) names.push(k)
      }
      for (const e of arr(c.env).map(obj)) {
        const key = str(obj(obj(e.valueFrom).secretKeyRef).key)
        if (key !== '') secretKeys.add(key)
      }
      const command = str(arr(c.args)[0])
      checkLeakgateContainer(tt, name, command, names)
      const ports = new Map(arr(c.ports).map((p) => [str(obj(p).name), Number(obj(p).containerPort)]))
      const probe = (k: string): { path: string; port: number } => {
        const get = obj(obj(c[k]).httpGet)
        return { path: str(get.path), port: ports.get(str(get.port)) ?? Number(get.port) }
      }
      if (deployment.kind === 'Job') {
        tt.equal(command, 'migrate', `${name}: runs the migrations`)
        continue
      }
      if (partOf(command) === 'node') {
        tt.same(ports.get('proxy'), NODE_PORT, `${name}: proxy port is the default`)
        tt.same(ports.get('admin'), ADMIN_PORT, `${name}: admin port is the default`)
        tt.same(probe('readinessProbe'), { path: '/readyz', port: ADMIN_PORT }, `${name}: ready on the admin port's /readyz`)
        tt.same(probe('livenessProbe'), { path: '/healthz', port: ADMIN_PORT }, `${name}: alive on the admin port's /healthz`)
      } else {
        tt.same(ports.get('http'), CP_PORT, `${name}: API port is the default`)
        tt.same(probe('readinessProbe'), { path: '/readyz', port: CP_PORT }, `${name}: ready on /readyz`)
        tt.same(probe('livenessProbe'), { path: '/healthz', port: CP_PORT }, `${name}: alive on /healthz`)
      }
      for (const [k, v] of Object.entries(obj(obj(pod.metadata).annotations))) {
        if (k === 'prometheus.io/port') tt.ok([...ports.values()].includes(Number(v)) && Number(v) !== NODE_PORT, `${name}: scraped on a port it serves /metrics on`)
      }
    }
  }
  for (const key of secretKeys) tt.ok(CP_ENV.has(key) || NODE_ENV.has(key), `secret key ${key} is an env name`)

  const cp = named('Deployment', 'leakgate-control-plane')
  const node = named('Deployment', 'leakgate-node')
  tt.ok(Number(obj(cp.spec).replicas) >= 2, 'the control plane runs replicas')
  const pdb = named('PodDisruptionBudget', 'leakgate-control-plane')
  tt.same(obj(obj(pdb.spec).selector).matchLabels, obj(obj(obj(cp.spec).template).metadata).labels, 'the PDB covers the control plane\'s pods')
  const hpa = named('HorizontalPodAutoscaler', 'leakgate-node')
  tt.same(obj(obj(hpa.spec).scaleTargetRef), { apiVersion: 'apps/v1', kind: 'Deployment', name: 'leakgate-node' }, 'the HPA scales the nodes')
  tt.equal(str(obj(obj(arr(obj(hpa.spec).metrics)[0]).resource).name), 'cpu', 'on CPU')
  for (const [svc, deployment] of [['leakgate-control-plane', cp], ['leakgate-node', node]] as const) {
    const service = named('Service', svc)
    tt.same(obj(obj(service.spec).selector), obj(obj(obj(obj(deployment.spec).template).metadata).labels), `Service ${svc} selects the pods`)
    const containerPorts = arr(obj(arr(obj(obj(obj(obj(deployment.spec).template).spec)).containers)[0]).ports).map((p) => str(obj(p).name))
    for (const p of arr(obj(service.spec).ports).map(obj)) tt.ok(containerPorts.includes(str(p.targetPort)), `Service ${svc}: target port ${str(p.targetPort)} is the container's`)
  }
  // The nodes reach the control plane through its Service, at its port.
  const nodeConfig = obj(named('ConfigMap', 'leakgate-node').data)
  const cpUrl = new URL(str(nodeConfig.LEAKGATE_CONTROL_PLANE))
  tt.equal(cpUrl.hostname, 'leakgate-control-plane', 'nodes follow the control plane\'s Service')
  tt.equal(Number(cpUrl.port), Number(obj(arr(obj(named('Service', 'leakgate-control-plane').spec).ports)[0]).port), 'at its port')
})

// ---------------------------------------------------------------------------------------------------
// The metrics the dashboard and the alerts use, against the real parts

/** PromQL's words that are not metric names. */
const PROMQL_WORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan'])

/**
 * The metric names a PromQL expression reads: identifiers that are not functions (followed by `(`),
 * keywords, label names (inside `{…}` or a `by (…)` list), durations (`[…]`), strings or numbers.
 */
function metricNamesOf(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\w+/g, ' ')
  const names: string[] = []
  for (const m of bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const before = bare[m.index - 1] ?? ''
    const after = bare.slice(m.index + m[0].length).trimStart()
    if (/[0-9.]/.test(before) || after.startsWith('(') || PROMQL_WORDS.has(m[0].toLowerCase())) continue
    names.push(m[0])
  }
  return names
}

t.test('the PromQL tokenizer finds metric names and nothing else', async (tt) => {
  tt.same(metricNamesOf('histogram_quantile(0.99, sum by (le) (rate(x_bucket{verdict=~"pass|monitor"}[5m])))'), ['x_bucket'])
  tt.same(metricNamesOf('scalar(max(a)) - b > 0 and on (instance) c offset 5m'), ['a', 'b', 'c'])
  tt.same(metricNamesOf('sum(up{job="j"}) == 0 or absent(up{job="j"})'), ['up', 'up'])
  tt.same(metricNamesOf('rate(m[$__rate_interval]) / 1e-9'), ['m'])
})

const dashboardExprs = arr(obj(JSON.parse(readFileSync(join(DEPLOY, 'grafana/dashboards/leakgate.json'), 'utf8'))).panels)
  .flatMap((p) => arr(obj(p).targets).map((target) => ({ where: `panel "${str(obj(p).title)}"`, expr: str(obj(target).expr) })))
const alertRules = arr(obj(parse(readFileSync(join(DEPLOY, 'prometheus/alerts.yml'), 'utf8'))).groups).flatMap((g) => arr(obj(g).rules).map(obj))
const ruleExprs = alertRules.map((r) => ({ where: `alert ${str(r.alert)}`, expr: str(r.expr) }))

t.test('the alert rules cover what an operator must hear about', async (tt) => {
  const names = alertRules.map((r) => str(r.alert))
  for (const want of ['LeakgateNodeIndexStale', 'LeakgateNodeSyncErrors', 'LeakgateSightingsDropped', 'LeakgateControlPlaneDown', 'LeakgateScanJobsFailing']) tt.ok(names.includes(want), want)
  // Jobs named in rules and panels are the scrape config's.
  for (const { where, expr } of [...ruleExprs, ...dashboardExprs]) {
    for (const m of expr.matchAll(/job=~?"([^"]+)"/g)) {
      const re = new RegExp(`^(?:${m[1]!})$`)
      tt.ok([...scrapeJobs.keys()].some((j) => re.test(j)), `${where}: job ${m[1]} is scraped`)
    }
  }
})

/** `name → type` from the `# TYPE` lines of Prometheus text. */
function typesOf(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]))
}

/** Whether `name` is a series of an exposed metric (a histogram's _bucket, _sum and _count included). */
function exposedIn(types: Map<string, string>, name: string): boolean {
  if (types.has(name)) return true
  const base = /^(.*)_(?:bucket|sum|count)$/.exec(name)?.[1]
  return base !== undefined && (types.get(base) === 'histogram' || types.get(base) === 'summary')
}

t.test('every metric in the dashboard and the alert rules is exposed by a real control plane or node', async (tt) => {
  const stack = new Stack()
  tt.teardown(stack.close)
  const { node, cp, keys } = await startDeployment(stack)
  await waitFor('the node to be ready', async () => (await fetch(`${node.adminUrl}/readyz`)).ok)
  await (await fetch(`${node.url}/anything`)).arrayBuffer()
  // A scan that fails (nothing listens there), so the scan counter has moved.
  const started = await cpFetch<{ id: number }>(cp.url, keys.admin, '/v1/scans', { method: 'POST', body: { source: { type: 'git', url: 'http://127.0.0.1:9/none.git' } } })
  tt.equal(started.status, 202, 'a scan starts')
  await waitFor('the scan to end', async () => (await cpFetch<{ status: string }>(cp.url, keys.admin, `/v1/scans/${started.body.id}`)).body.status !== 'running')

  const cpText = await (await fetch(`${cp.url}/metrics`)).text()
  const nodeText = await (await fetch(`${node.adminUrl}/metrics`)).text()
  tt.match(cpText, /^leakgate_cp_scans_total\{status="failed"\} 1$/m, 'the failed scan is counted')
  tt.match(cpText, /^leakgate_cp_scans_total\{status="done"\} 0$/m, 'done scans have a series from the start')
  const types = new Map([...typesOf(cpText), ...typesOf(nodeText)])
  // `up` is Prometheus's own, per scrape target.
  types.set('up', 'gauge')
  const used = [...dashboardExprs, ...ruleExprs]
  tt.ok(used.length > 20, `read the queries (${used.length})`)
  for (const { where, expr } of used) {
    const names = metricNamesOf(expr)
    tt.ok(names.length > 0, `${where}: names a metric`)
    // The scan worker's own metrics: checked against a real worker below.
    for (const name of names.filter((n) => !n.startsWith(WORKER_PREFIX))) tt.ok(exposedIn(types, name), `${where}: ${name} is exposed`)
  }
})

/** The scan worker's metrics (it takes its jobs from PostgreSQL: the check needs a test cluster). */
const WORKER_PREFIX = 'leakgate_scan_worker_'

t.test('every scan-worker metric in the dashboard and the alert rules is exposed by a real `leakgate scan-worker`', withPostgres, async (tt) => {
  const admin = generateKey()
  const env = {
    LEAKGATE_DATABASE_URL: await freshDatabase(tt),
    LEAKGATE_DATA_DIR: tempDir(tt, 'leakgate-kit-worker-'),
    LEAKGATE_ADMIN_KEY: admin,
    LEAKGATE_SCAN_JOBS: JSON.stringify({ retryLimit: 0, retryDelaySeconds: 1, heartbeatSeconds: 1 }),
  }
  const plane = await spawnPlane(tt, env)
  const port = await freePort()
  const worker = spawn(process.execPath, ['--import', new URL('../scripts/register-ts.js', import.meta.url).href, 'cli.ts', 'scan-worker', '--metrics-port', String(port), '--host', '127.0.0.1'], {
    cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  worker.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')))
  worker.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')))
  tt.teardown(() => { if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL') })
  await waitFor('the scan worker to start', async () => {
    if (worker.exitCode !== null) throw new Error(`the scan worker exited:\n${out}`)
    return out.includes('scan worker ready')
  }, 60_000)
  // A scan that fails (nothing listens there), taken by the worker.
  const started = await request(`${plane.url}/v1/scans`, admin, 'POST', { source: { type: 'git', url: 'http://127.0.0.1:9/none.git' } })
  tt.equal(started.status, 202, 'a scan is queued')
  const id = (started.json() as { id: number }).id
  await waitFor('the worker to fail the scan', async () => ((await request(`${plane.url}/v1/scans/${id}`, admin)).json() as { status: string }).status === 'failed', 60_000)

  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  tt.match(text, /^leakgate_scan_worker_jobs_taken_total 1$/m, 'the job it took is counted')
  tt.match(text, /^leakgate_scan_worker_jobs_ended_total\{outcome="failed"\} 1$/m, 'and its failure')
  tt.match(text, /^leakgate_scan_worker_jobs_ended_total\{outcome="done"\} 0$/m, 'done jobs have a series from the start')
  tt.match(text, /^leakgate_scan_worker_jobs_running 0$/m, 'nothing runs now')
  tt.match(text, /^leakgate_scan_worker_scan_duration_seconds_count\{outcome="failed"\} 1$/m, 'its duration is observed')
  tt.match(text, /^leakgate_build_info\{version="[^"]+"\} 1$/m, 'the build is named')
  tt.equal((await fetch(`http://127.0.0.1:${port}/elsewhere`)).status, 404, 'it serves /metrics only')
  const types = typesOf(text)
  let checked = 0
  for (const { where, expr } of [...dashboardExprs, ...ruleExprs]) {
    for (const name of metricNamesOf(expr).filter((n) => n.startsWith(WORKER_PREFIX))) {
      checked++
      tt.ok(exposedIn(types, name), `${where}: ${name} is exposed`)
    }
  }
  tt.ok(checked > 0, `the kit reads the worker's metrics (${checked} uses)`)
})

/** A TCP port free now (the worker is told it rather than picking one). */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

// ---------------------------------------------------------------------------------------------------
// nginx files and the health check, against real parts

const nginxSkip = existsSync(NGINX) ? false : `nginx is not installed at ${NGINX} (Debian package nginx)`

t.test('the shipped nginx files: a load balancer in front of a real control plane, the demo API behind a real node', { skip: nginxSkip }, async (tt) => {
  const stack = new Stack()
  tt.teardown(stack.close)
  const { cp, keys } = await startDeployment(stack)
  const cpPort = new URL(cp.url).port
  // nginx runs as nobody when the tests run as root: its cache folder must be writable to it.
  const cacheDir = tempDir(stack, 'leakgate-nginx-cache-')
  chmodSync(cacheDir, 0o777)
  const lb = await startNginx(stack, (listen) => {
    const out = readFileSync(join(DEPLOY, 'nginx/control-plane-lb.conf'), 'utf8')
      .replace(/server cp-[12]:8080/g, `server 127.0.0.1:${cpPort}`)
      .replace(/listen 8080;/, `listen 127.0.0.1:${listen};`)
      .replace(/proxy_cache_path \S+/, `proxy_cache_path ${cacheDir}`)
    if (/cp-[12]|listen 8080|\/var\/cache/.test(out)) throw new Error('control-plane-lb.conf: its addresses and cache folder were not all found')
    return out
  })
  tt.equal((await fetch(`${lb.url}/readyz`)).status, 200, 'the control plane is ready through nginx')
  tt.equal((await fetch(`${lb.url}/metrics`)).status, 404, '/metrics is not on the balanced port')
  tt.equal((await cpFetch(lb.url, keys.admin, '/v1/me')).status, 200, 'the API answers through nginx')
  tt.equal((await fetch(`${lb.url}/v1/sync/snapshot/1`)).status, 401, 'a snapshot without a key is refused, cached or not')
  tt.not((await fetch(`${lb.url}/v1/sync/snapshot/1`, { headers: { authorization: `Bearer ${keys.node}` } })).status, 401, 'a node key gets through to the control plane')

  const demo = await startNginx(stack, (listen) => readFileSync(join(DEPLOY, 'nginx/demo-api.conf'), 'utf8').replace(/listen 8090;/, `listen 127.0.0.1:${listen};`))
  const node = await startNode(stack, lb.url, demo.url, keys.node)
  const res = await fetch(`${node.url}/v1/items?x=1`)
  tt.equal(res.status, 200, 'a request through a node reaches the demo API')
  tt.same(await res.json(), { ok: true, method: 'GET', path: '/v1/items', leakgateVerdict: '' }, 'which answers JSON')
})

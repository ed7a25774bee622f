// throwaway: times store.leaks.list for the bench's searches on a PostgreSQL database (argv[2]).
import { performance } from 'node:perf_hooks'
import { Store } from './control-plane/store/store.js'
const store = await Store.openConfigured({ dataDir: '/tmp/leadq', databaseUrl: process.argv[2] as string })
const qs: Array<[string, Record<string, string>]> = [
  ['config', { q: 'config' }], ['settings open hits', { q: 'settings', status: 'open', sort: 'hits' }],
  ['rare repo', { q: 'org-7/repo-1900' }], ['absent', { q: 'zqxjv' }], ['ghp_', { q: 'ghp_' }],
  ['open rubygems lastSeen', { status: 'open', kind: 'rubygems-key', sort: 'lastSeenAt' }],
  ['open pastebin hits', { status: 'open', source: 'pastebin', sort: 'hits' }],
  ['open rotation updated', { status: 'open', rotation: 'requested', sort: 'updatedAt' }],
  ['open high hits', { status: 'open', risk: 'high', sort: 'hits' }],
]
for (let round = 0; round < Number(process.argv[3] ?? 3); round++) {
  for (const [name, q] of qs) {
    const t0 = performance.now()
    const page = await store.leaks.list({ limit: 50, ...q } as never)
    console.log(round, name.padEnd(26), (performance.now() - t0).toFixed(1).padStart(8), 'ms', page.total, page.totalIsLowerBound ?? '', page.items.length)
  }
}
await store.close()

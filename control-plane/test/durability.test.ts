import t from 'tap'
import { generateKey } from '../store/keys.js'
import { tempDir } from './harness.js'
import { request, spawnPlane } from './process.js'

t.test('a leak acknowledged with 201 survives a kill -9 of the control plane', async (t) => {
  const dataDir = tempDir(t)
  const admin = generateKey()
  const env = { LEAKGATE_DATA_DIR: dataDir, LEAKGATE_ADMIN_KEY: admin, LEAKGATE_LOG_LEVEL: 'info' }
  const first = await spawnPlane(t, env)
  const ids: number[] = []
  for (let i = 0; i < 5; i++) {
    const res = await request(`${first.url}/v1/leaks`, admin, 'POST', { title: `durable ${i}`, tokens: [{ value: `durable-token-${i}-abcdefgh` }] })
    t.equal(res.status, 201)
    ids.push((res.json() as { id: number }).id)
  }
  const decided = await request(`${first.url}/v1/leaks/${ids[0]}`, admin, 'PATCH', { action: 'block', comment: 'before the crash' })
  t.equal(decided.status, 200)
  // No pause: the kill lands right after the last acknowledgement.
  await first.kill('SIGKILL')
  t.equal(first.child.signalCode, 'SIGKILL')

  const second = await spawnPlane(t, env)
  for (const [i, id] of ids.entries()) {
    const res = await request(`${second.url}/v1/leaks/${id}`, admin)
    t.equal(res.status, 200, `leak ${id} is there after the restart`)
    t.equal((res.json() as { title: string }).title, `durable ${i}`)
  }
  const blocked = (await request(`${second.url}/v1/leaks/${ids[0]}`, admin)).json() as { action: string; decisions: unknown[] }
  t.equal(blocked.action, 'block', 'the acknowledged decision survived too')
  t.equal(blocked.decisions.length, 2)
  const changes = (await request(`${second.url}/v1/sync/changes?since=0`, admin)).json() as { revision: number }
  t.equal(changes.revision, 6, 'and the revision log with it')
  await second.kill('SIGTERM')
  t.equal(second.child.exitCode, 0, 'SIGTERM closes cleanly')
})

/** Where the public sources' fake servers listen. */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Teardown } from '../../../test/support.js'

/**
 * Starts `server` on an ephemeral port of 127.0.0.1 and answers its base URL; at `t`'s teardown its
 * connections are cut (sources keep theirs alive) and it is closed.
 */
export async function listenOnLoopback(t: Teardown, server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

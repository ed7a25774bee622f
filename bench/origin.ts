/**
 * A fast origin for proxy benchmarks: answers every request with a small JSON body over keep-alive,
 * after reading the request body. Run alone (`node --import ./scripts/register-ts.js bench/origin.ts [port]`) it prints its URL.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'

const BODY = Buffer.from(JSON.stringify({ ok: true, items: [1, 2, 3], note: 'a small answer from the bench origin' }))

/** Starts the origin on `port` (0: any) of 127.0.0.1. */
export async function startOrigin(port = 0): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': BODY.length })
      res.end(BODY)
    })
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const { port: p } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${p}`,
    server,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const origin = await startOrigin(Number(process.argv[2] ?? 0))
  console.log(JSON.stringify({ url: origin.url }))
}

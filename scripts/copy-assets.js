// Copies what tsc does not: the console's static files, into dist/.
import { cpSync, existsSync } from 'node:fs'

const assets = [['control-plane/console/static', 'dist/control-plane/console/static']]
for (const [from, to] of assets) {
  if (existsSync(from)) cpSync(from, to, { recursive: true })
}

/**
 * The line a node logs when one of its ports cannot be bound: which port, which option sets it, and
 * why in the operator's words. Shared by the single process (server.ts) and a multi-process node's
 * primary (workers.ts), which says it for a worker that could not listen.
 */
import { optionName } from '../lib/config.js'
import { nodeConfigSchema, type NodeConfig } from './config.js'

/** The options naming a port of the node. */
export type PortOption = 'port' | 'adminPort' | 'checkPort'

// Why a listen failed, in the operator's words; other codes keep the system's message.
const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'the port is already in use by another process',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'the address is not one of this machine\'s',
}

/** The fields and message of the fatal line for a port that `err` (a listen error) refused. */
export function listenFailure(key: PortOption, config: Readonly<NodeConfig>, err: { code?: string | undefined; message?: string | undefined }): { fields: Record<string, unknown>; msg: string } {
  const host = key === 'adminPort' ? config.adminHost : config.host
  const port = key === 'adminPort' ? config.adminPort : key === 'port' ? config.port : config.checkPort
  const why = (err.code === undefined ? undefined : LISTEN_ERRORS[err.code]) ?? err.message ?? 'unknown error'
  const hostKey = key === 'adminPort' ? 'adminHost' : 'host'
  return {
    fields: { err: { code: err.code, message: err.message }, host, port },
    msg: `cannot listen on ${host}:${port}: ${why}; set the ${optionName(nodeConfigSchema, key)} or the ${optionName(nodeConfigSchema, hostKey)}. Exiting`,
  }
}

/** What every route plugin of the control plane is given. */
import type { ControlPlaneConfig } from './config.js'
import type { ControlPlaneMetrics } from './metrics.js'
import type { ListOptions } from './store/leak-list.js'
import type { Store } from './store/store.js'
import type { SyncService } from './sync.js'

/** The options each `control-plane/routes/*.ts` plugin (its `default` export) is registered with. */
export interface RouteContext {
  config: Readonly<ControlPlaneConfig>
  store: Store
  sync: SyncService
  metrics: ControlPlaneMetrics
  /** How the leak list answers (`ControlPlaneDeps.leakList`; the store's defaults when empty). */
  leakList: ListOptions
}

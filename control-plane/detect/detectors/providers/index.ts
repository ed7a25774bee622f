/**
 * Every table-driven provider detector, gathered from the groups (split by provider name so that
 * each file stays readable).
 */
import type { ProviderSpec } from '../provider-spec.js'
import { SPECS as A_D } from './a-d.js'
import { SPECS as E_L } from './e-l.js'
import { SPECS as M_R } from './m-r.js'
import { SPECS as S_Z } from './s-z.js'

/** The provider specs, in name order. */
export const PROVIDER_SPECS: readonly ProviderSpec[] = [...A_D, ...E_L, ...M_R, ...S_Z]

/**
 * Provider detectors, providers named S-Z (by the provider's name; digits go with A-D).
 * See ../provider-spec.ts for what a spec holds and how its samples are written.
 */
import type { ProviderSpec } from '../provider-spec.js'

/** The specs of this group. */
export const SPECS: ProviderSpec[] = []

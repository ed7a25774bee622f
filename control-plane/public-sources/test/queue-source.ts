/** A public source a test feeds by hand. */
import type { PublicSource, PublicUnit, SourceBatch, SourcePosition } from '../source.js'

/** A source serving each unit pushed to it once, in order: a real PublicSource the test feeds. */
export class QueueSource implements PublicSource {
  readonly id = 'queue'
  readonly leakSource = 'public'
  readonly units: PublicUnit[] = []

  async read(position: SourcePosition): Promise<SourceBatch> {
    const from = position.cursor === null ? 0 : Number(position.cursor)
    const units = this.units.slice(from)
    return { units, next: String(from + units.length), state: {}, more: false }
  }
}

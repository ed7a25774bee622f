/**
 * Live updates for the console: the events recorded with each change (the outbox, store/events.ts),
 * followed by one poll of the store per process however many consoles are open, and handed to each
 * follower from where it stands. Replicas share the store, so a console connected to one replica sees
 * the changes made through every other.
 *
 * Followers get an event's id, type, leak id and time only: a console reloads what it shows, with its
 * own key, so nothing reaches it that its key could not read.
 *
 * On PostgreSQL two writers may commit events out of id order; a follower past the later id misses the
 * earlier one. For live updates that is harmless: the next event (or the console's own reload) shows
 * the change, and webhook deliveries do not read events this way.
 */
import type { EventType, EventLog, StoredEvent } from './store/events.js'

/** What a follower is told of an event. */
export interface LiveEvent {
  id: number
  type: EventType
  leakId: number | null
  at: string
}

/** One follower: where it stands, and how it is handed events (or told to reload everything). */
interface Follower {
  after: number
  send(events: LiveEvent[]): void
  reset(latest: number): void
}

/** How LiveEvents follows the store. */
export interface LiveEventsOptions {
  /** Time between polls while anyone follows. */
  intervalMs: number
  /** Events read a poll; a follower further behind than this is told to reload instead of replayed. */
  batch: number
  /** Called when a poll fails (the next one retries). */
  onError(err: unknown): void
}

/** Follows the events table for the streams open in this process. */
export class LiveEvents {
  readonly #log: EventLog
  readonly #options: LiveEventsOptions
  readonly #followers = new Set<Follower>()
  #timer: NodeJS.Timeout | undefined
  #polling = false
  #closed = false

  constructor(log: EventLog, options: LiveEventsOptions) {
    this.#log = log
    this.#options = options
  }

  /** How many follow now. */
  get followers(): number {
    return this.#followers.size
  }

  /**
   * Follows from `lastEventId` (a reconnecting console's Last-Event-ID: what it missed is replayed) or
   * from now. Returns the id it starts after and a function that stops following.
   */
  async follow(lastEventId: number | undefined, send: Follower['send'], reset: Follower['reset']): Promise<{ after: number; stop: () => void }> {
    const latest = await this.#log.latestId()
    // Too far behind (or an id this store never gave): a reload is cheaper than a replay.
    const resume = lastEventId !== undefined && lastEventId <= latest && latest - lastEventId <= this.#options.batch
    const follower: Follower = { after: resume ? lastEventId : latest, send, reset }
    if (lastEventId !== undefined && !resume) reset(latest)
    this.#followers.add(follower)
    this.#schedule(0)
    return { after: follower.after, stop: () => { this.#followers.delete(follower) } }
  }

  /** Stops polling; followers are left to the streams that own them. */
  close(): void {
    this.#closed = true
    clearTimeout(this.#timer)
    this.#followers.clear()
  }

  #schedule(ms: number): void {
    if (this.#closed || this.#polling || this.#followers.size === 0) return
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => void this.#poll(), ms)
    this.#timer.unref()
  }

  async #poll(): Promise<void> {
    this.#polling = true
    let full = false
    try {
      let from = Infinity
      for (const f of this.#followers) from = Math.min(from, f.after)
      if (from === Infinity) return
      const events = await this.#log.after(from, this.#options.batch)
      full = events.length === this.#options.batch
      const last = events.at(-1)
      if (last === undefined) return
      const live = events.map(toLive)
      for (const f of this.#followers) {
        const mine = live.filter((e) => e.id > f.after)
        f.after = Math.max(f.after, last.id)
        if (mine.length > 0) f.send(mine)
      }
    } catch (err) {
      this.#options.onError(err)
    } finally {
      this.#polling = false
      // A full batch means more are waiting: read on at once.
      this.#schedule(full ? 0 : this.#options.intervalMs)
    }
  }
}

function toLive(event: StoredEvent): LiveEvent {
  return { id: event.id, type: event.type, leakId: event.leakId, at: event.at }
}

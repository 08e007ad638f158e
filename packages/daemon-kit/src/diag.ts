// Named `node:diagnostics_channel` channels (undici's lib/core/diagnostics.js pattern). The daemons
// publish lifecycle events here; tests and tools subscribe and wait on them instead of parsing logs.
// Publishing costs nothing when nobody subscribes. Messages are plain objects that must never contain
// key material (a subscriber might log them).
import diagnosticsChannel from 'node:diagnostics_channel'

export const DiagChannel = {
  // key server
  KS_STARTED: 'gdoi:ks:started',
  KS_MEMBER_REGISTERED: 'gdoi:ks:member-registered',
  KS_MEMBER_REFUSED: 'gdoi:ks:member-refused',
  KS_MEMBER_REMOVED: 'gdoi:ks:member-removed',
  KS_KEK_CREATED: 'gdoi:ks:kek-created',
  KS_TEK_CREATED: 'gdoi:ks:tek-created',
  KS_PUSH_SENT: 'gdoi:ks:push-sent',
  KS_PUSH_RETRANSMIT: 'gdoi:ks:push-retransmit',
  KS_ACK_RECEIVED: 'gdoi:ks:ack-received',
  KS_STATE_SAVED: 'gdoi:ks:state-saved',
  // group member
  GM_STARTED: 'gdoi:gm:started',
  GM_REGISTRATION_STARTED: 'gdoi:gm:registration-started',
  GM_REGISTERED: 'gdoi:gm:registered',
  GM_REGISTRATION_FAILED: 'gdoi:gm:registration-failed',
  GM_REREGISTER: 'gdoi:gm:reregister',
  GM_KEK_INSTALLED: 'gdoi:gm:kek-installed',
  GM_TEK_INSTALLED: 'gdoi:gm:tek-installed',
  GM_TEK_EXPIRED: 'gdoi:gm:tek-expired',
  GM_REKEY_RECEIVED: 'gdoi:gm:rekey-received',
  GM_REKEY_REJECTED: 'gdoi:gm:rekey-rejected',
  GM_ACK_SENT: 'gdoi:gm:ack-sent',
  GM_STOPPED: 'gdoi:gm:stopped',
  GM_KS_FAILOVER: 'gdoi:gm:ks-failover',
  GM_KEK_RETIRED: 'gdoi:gm:kek-retired',
  GM_TEK_ACTIVATED: 'gdoi:gm:tek-activated',
  GM_PUSH_ACCEPTED: 'gdoi:gm:push-accepted',
  GM_PUSH_REJECTED: 'gdoi:gm:push-rejected',
  GM_RELOADED: 'gdoi:gm:reloaded',
  // both
  IKE_ESTABLISHED: 'gdoi:ike:established',
  IKE_FAILED: 'gdoi:ike:failed',
  DECODE_ERROR: 'gdoi:decode-error',
  CONTROL_REQUEST: 'gdoi:control:request',
} as const
export type DiagChannel = (typeof DiagChannel)[keyof typeof DiagChannel]
/** A listed name, or another `gdoi:…` channel a component defines for itself. */
export type DiagChannelName = DiagChannel | `gdoi:${string}`

/** What every message may carry; daemons add more fields (never keys). */
export interface DiagMessage {
  readonly group?: string
  readonly peer?: string
  readonly seq?: number
  readonly spi?: string | number
  readonly [field: string]: unknown
}

/** Publishes `msg` on `channel` when somebody listens. */
export function publish(channel: DiagChannelName, msg: DiagMessage): void {
  const ch = diagnosticsChannel.channel(channel)
  if (ch.hasSubscribers) ch.publish(msg)
}

export function subscribe(channel: DiagChannelName, fn: (msg: DiagMessage) => void): () => void {
  const listener = (m: unknown): void => fn(m as DiagMessage)
  diagnosticsChannel.subscribe(channel, listener)
  return () => {
    diagnosticsChannel.unsubscribe(channel, listener)
  }
}

export class DiagTimeoutError extends Error {
  override name = 'DiagTimeoutError'
  readonly code = 'ERR_DIAG_TIMEOUT'
  readonly channel: string
  constructor(channel: string, timeoutMs: number) {
    super(`no matching message on ${channel} within ${timeoutMs} ms`)
    this.channel = channel
  }
}

export interface WaitForOptions {
  /** Timer source for the timeout (default real setTimeout). With a fake clock, the timeout fires
   *  when fake time passes it. */
  readonly setTimer?: (ms: number, fn: () => void) => () => void
}

/** Resolves with the first message on `channel` for which `predicate` holds (any message when omitted);
 *  rejects with DiagTimeoutError after `timeoutMs`. Subscribe *before* triggering the event. */
export function waitFor(
  channel: DiagChannelName,
  predicate: (msg: DiagMessage) => boolean = () => true,
  timeoutMs = 5000,
  opts: WaitForOptions = {},
): Promise<DiagMessage> {
  return new Promise((resolve, reject) => {
    let cancelTimer = (): void => {}
    const unsubscribe = subscribe(channel, (msg) => {
      let ok: boolean
      try {
        ok = predicate(msg)
      } catch (err) {
        unsubscribe()
        cancelTimer()
        reject(err instanceof Error ? err : new Error(String(err)))
        return
      }
      if (!ok) return
      unsubscribe()
      cancelTimer()
      resolve(msg)
    })
    const onTimeout = (): void => {
      unsubscribe()
      reject(new DiagTimeoutError(channel, timeoutMs))
    }
    if (opts.setTimer) {
      cancelTimer = opts.setTimer(timeoutMs, onTimeout)
    } else {
      const h = setTimeout(onTimeout, timeoutMs)
      cancelTimer = () => clearTimeout(h)
    }
  })
}

/** Records every message on the given channels until `stop()` (for asserting an order of events). */
export function collect(channels: readonly DiagChannelName[]): {
  readonly events: ReadonlyArray<{ readonly channel: DiagChannelName; readonly msg: DiagMessage }>
  stop(): void
} {
  const events: Array<{ channel: DiagChannelName; msg: DiagMessage }> = []
  const unsubs = channels.map((channel) => subscribe(channel, (msg) => events.push({ channel, msg })))
  return {
    events,
    stop: () => {
      for (const u of unsubs) u()
    },
  }
}

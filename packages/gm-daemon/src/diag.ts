// diagnostics_channel events of the group member (tests and tools wait on these instead of parsing
// logs). Every name is one of daemon-kit's DiagChannel names (the `gdoi:gm:*` list is kept there, so
// tools can subscribe without importing gm-daemon). Every message carries `gm` (this member's local
// address:port) and `group`, so several members in one process can be told apart. Messages never
// contain key material.
import diagnosticsChannel from 'node:diagnostics_channel'
import { DiagChannel, type DiagMessage } from '@gdoi/daemon-kit'

export const GmChannel = {
  STARTED: DiagChannel.GM_STARTED,
  STOPPED: DiagChannel.GM_STOPPED,
  REGISTRATION_STARTED: DiagChannel.GM_REGISTRATION_STARTED,
  REGISTERED: DiagChannel.GM_REGISTERED,
  REGISTRATION_FAILED: DiagChannel.GM_REGISTRATION_FAILED,
  /** One key server did not work out; the next one in the list is tried. */
  KS_FAILOVER: DiagChannel.GM_KS_FAILOVER,
  REREGISTER: DiagChannel.GM_REREGISTER,
  KEK_INSTALLED: DiagChannel.GM_KEK_INSTALLED,
  KEK_RETIRED: DiagChannel.GM_KEK_RETIRED,
  TEK_INSTALLED: DiagChannel.GM_TEK_INSTALLED,
  /** A TEK became the outbound SA of its policy (activation time delay elapsed). */
  TEK_ACTIVATED: DiagChannel.GM_TEK_ACTIVATED,
  TEK_EXPIRED: DiagChannel.GM_TEK_EXPIRED,
  /** An accepted push; published on both names (push-accepted is the same event as rekey-received). */
  PUSH_ACCEPTED: DiagChannel.GM_PUSH_ACCEPTED,
  REKEY_RECEIVED: DiagChannel.GM_REKEY_RECEIVED,
  PUSH_REJECTED: DiagChannel.GM_PUSH_REJECTED,
  REKEY_REJECTED: DiagChannel.GM_REKEY_REJECTED,
  ACK_SENT: DiagChannel.GM_ACK_SENT,
  IKE_ESTABLISHED: DiagChannel.IKE_ESTABLISHED,
  IKE_FAILED: DiagChannel.IKE_FAILED,
  DECODE_ERROR: DiagChannel.DECODE_ERROR,
  RELOADED: DiagChannel.GM_RELOADED,
} as const
export type GmChannel = (typeof GmChannel)[keyof typeof GmChannel]

/** Publishes when somebody listens (free otherwise). */
export function publishGm(channel: GmChannel, msg: DiagMessage): void {
  const ch = diagnosticsChannel.channel(channel)
  if (ch.hasSubscribers) ch.publish(msg)
}

/** Subscribes to a GM channel (the same as daemon-kit's `subscribe`, typed to the GM's names). */
export function subscribeGm(channel: GmChannel, fn: (msg: DiagMessage) => void): () => void {
  const listener = (m: unknown): void => fn(m as DiagMessage)
  diagnosticsChannel.subscribe(channel, listener)
  return () => {
    diagnosticsChannel.unsubscribe(channel, listener)
  }
}

/** Resolves with the first message on `channel` matching `predicate`; rejects after `timeoutMs` (real time). */
export function waitForGm(channel: GmChannel, predicate: (msg: DiagMessage) => boolean = () => true, timeoutMs = 5000): Promise<DiagMessage> {
  return new Promise((resolve, reject) => {
    const unsubscribe = subscribeGm(channel, (msg) => {
      if (!predicate(msg)) return
      unsubscribe()
      clearTimeout(timer)
      resolve(msg)
    })
    const timer = setTimeout(() => {
      unsubscribe()
      reject(new Error(`no matching message on ${channel} within ${timeoutMs} ms`))
    }, timeoutMs)
  })
}

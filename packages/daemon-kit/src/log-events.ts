// Stable event names for log lines. Every lifecycle log line carries `event: LogEvent.X` so users and
// scripts can match on it instead of on message text (which may change). They mirror the syslog
// messages a Cisco GET VPN router prints, so people who know `%GDOI-5-GM_REGS_COMPL` find their way.
//
//   log.info({ event: LogEvent.REGISTRATION_COMPLETE, group: 'GETVPN-GRP', ks: '10.0.0.1:848' }, 'registration complete')
//
// Names are part of the public interface: add new ones, never rename or reuse one.

export const EVENT_FIELD = 'event'

export const LogEvent = {
  // Daemon lifecycle
  DAEMON_STARTED: 'gdoi.daemon.started',
  DAEMON_STOPPING: 'gdoi.daemon.stopping',
  CONFIG_LOADED: 'gdoi.config.loaded',
  CONFIG_WARNING: 'gdoi.config.warning',
  CONFIG_RELOADED: 'gdoi.config.reloaded',
  CONFIG_RELOAD_FAILED: 'gdoi.config.reload-failed',
  CONTROL_REQUEST: 'gdoi.control.request',
  STATE_SAVED: 'gdoi.state.saved',
  STATE_LOADED: 'gdoi.state.loaded',
  /** A shared state store (etcd) stopped answering / answers again. */
  STORE_UNAVAILABLE: 'gdoi.store.unavailable',
  STORE_AVAILABLE: 'gdoi.store.available',

  // Key-server cluster (etcd)
  CLUSTER_PRIMARY: 'gdoi.cluster.primary',
  CLUSTER_FOLLOWER: 'gdoi.cluster.follower',
  CLUSTER_FENCED: 'gdoi.cluster.fenced',
  CLUSTER_LEASE: 'gdoi.cluster.lease',
  CLUSTER_SYNC: 'gdoi.cluster.sync',
  /** This key server's group policy (ACL, transform, lifetimes, …) differs from the primary's; it serves the primary's. */
  CLUSTER_POLICY_MISMATCH: 'gdoi.cluster.policy-mismatch',

  // Phase 1 (IKEv1 Main Mode on UDP 848)
  IKE_ESTABLISHED: 'gdoi.ike.established',
  IKE_FAILED: 'gdoi.ike.failed',
  IKE_EXPIRED: 'gdoi.ike.expired',
  /** Half-open SAs waiting for MM3 evicted for new MM1s (table full: a flood); rate-limited, `evicted` = how many. */
  IKE_HALF_OPEN_EVICTED: 'gdoi.ike.half-open-evicted',

  // Registration (GROUPKEY-PULL)
  REGISTRATION_STARTED: 'gdoi.registration.started',
  REGISTRATION_COMPLETE: 'gdoi.registration.complete',
  REGISTRATION_FAILED: 'gdoi.registration.failed',
  REREGISTER: 'gdoi.reregister',
  MEMBER_ADDED: 'gdoi.member.added',
  MEMBER_REFUSED: 'gdoi.member.refused',
  MEMBER_REMOVED: 'gdoi.member.removed',

  // Keys
  KEK_CREATED: 'gdoi.kek.created',
  TEK_CREATED: 'gdoi.tek.created',
  KEK_INSTALLED: 'gdoi.kek.installed',
  TEK_INSTALLED: 'gdoi.tek.installed',
  POLICY_INSTALLED: 'gdoi.policy.installed',
  KEK_EXPIRED: 'gdoi.kek.expired',
  TEK_EXPIRED: 'gdoi.tek.expired',
  SIGNING_KEY_GENERATED: 'gdoi.signing-key.generated',
  SIGNING_KEY_LOADED: 'gdoi.signing-key.loaded',

  // Rekey (GROUPKEY-PUSH) and acknowledgements
  REKEY_SENT: 'gdoi.rekey.sent',
  REKEY_RETRANSMIT: 'gdoi.rekey.retransmit',
  REKEY_RECEIVED: 'gdoi.rekey.received',
  REKEY_REJECTED: 'gdoi.rekey.rejected',
  REKEY_NOT_RECEIVED: 'gdoi.rekey.not-received',
  REKEY_ACK: 'gdoi.rekey.ack',
  REKEY_ACK_MISSING: 'gdoi.rekey.ack-missing',
  DELETE_RECEIVED: 'gdoi.delete.received',

  // Untrusted input
  DECODE_ERROR: 'gdoi.decode.error',
  /** A decodable datagram dropped before any exchange (unknown SA, from another peer, …); `reason` says which. */
  DATAGRAM_DROPPED: 'gdoi.datagram.dropped',
  /** Datagrams over the configured receive-size cap, dropped before decoding (rate-limited, `dropped` = how many). */
  DATAGRAM_OVERSIZED: 'gdoi.datagram.oversized',
} as const
export type LogEvent = (typeof LogEvent)[keyof typeof LogEvent]

/** The IOS syslog message (or show/debug output) each event corresponds to, where IOS has one. */
export const CISCO_EQUIVALENT: Readonly<Partial<Record<LogEvent, string>>> = {
  [LogEvent.IKE_ESTABLISHED]: 'ISAKMP SA in state QM_IDLE (show crypto isakmp sa)',
  [LogEvent.REGISTRATION_STARTED]: 'GM: "Registration to KS … started" (debug crypto gdoi gm)',
  [LogEvent.REGISTRATION_COMPLETE]: '%GDOI-5-GM_REGS_COMPL: Registration to KS … complete for group …',
  [LogEvent.REREGISTER]: '%GDOI-4-GM_RE_REGISTER: The IPSec SA created for group … may have expired … Re-register to KS',
  [LogEvent.MEMBER_ADDED]: '%GDOI-5-KS_REGS_COMPL: KS completed successful registration in group … with GM …',
  [LogEvent.MEMBER_REFUSED]: '%GDOI-1-UNAUTHORIZED_IDENTITY: Group … received registration from unauthorized identity …',
  [LogEvent.KEK_INSTALLED]: '%GDOI-5-SA_KEK_UPDATED: SA KEK was updated',
  [LogEvent.TEK_INSTALLED]: '%GDOI-5-SA_TEK_UPDATED: SA TEK was updated',
  [LogEvent.POLICY_INSTALLED]: '%GDOI-5-GM_INSTALL_POLICIES_SUCCESS: SUCCESS: Installation of Reg/Rekey policies from KS …',
  [LogEvent.REKEY_SENT]: '%GDOI-5-KS_SEND_UNICAST_REKEY / %GDOI-5-KS_SEND_MCAST_REKEY: Sending … Rekey for group … with seq # N',
  [LogEvent.REKEY_RECEIVED]: '%GDOI-5-GM_RECV_REKEY: Received Rekey for group … from … with seq # N',
  [LogEvent.REKEY_NOT_RECEIVED]: '%GDOI-4-GM_REKEY_NOT_RECD: GM did not receive rekey from KS … in allotted time',
  [LogEvent.REKEY_ACK]: 'show crypto gdoi: "Rekey ACKs sent" (GM) / acknowledgement received (KS)',
  [LogEvent.DELETE_RECEIVED]: '%GDOI-4-GM_RECV_DELETE: GM received delete-msg from KS in group …',
}

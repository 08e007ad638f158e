// The group member's configuration after validation: every field present, every default applied.
// Produced by `loadGmConfig()` from YAML or from a pasted Cisco IOS configuration. The group's policy
// (ACL, transforms, lifetimes) is not here: it comes from the key server at registration.
import type { Endpoint, GroupIdentity, IkeConfig, LogConfig } from '@gdoi/daemon-kit'
import type { MetricsConfig } from '@gdoi/daemon-kit/metrics-config'

export interface GmConfig {
  readonly group: { readonly name: string; readonly identity: GroupIdentity }
  /** Tried in order (IOS `server address ipv4` lines; COOP key servers). Port default 848. */
  readonly keyServers: readonly Endpoint[]
  /** Local UDP address/port (default 0.0.0.0:848); the address GMs register from. */
  readonly local: Endpoint
  readonly ike: IkeConfig
  /** The TUN device of the data plane. `enabled: false` (YAML `tun: none`) runs the control plane
   *  only: registration and rekeys, no ESP (tests, key-only members, no root). */
  readonly tun: { readonly enabled: boolean; readonly name: string; readonly mtuBytes: number; readonly offload: boolean }
  /** Kernel routing into and out of the TUN (src/routing.ts, README "Routing"). Absent: on whenever the
   *  TUN is, with the defaults (table 8480 + 2k / +1, rule preferences 8480 + 10k …, k = the TUN name's
   *  trailing number). `routing: none` leaves the kernel's routing alone (the user routes). */
  readonly routing?: { readonly enabled: boolean; readonly table?: number; readonly preference?: number }
  /** Data-plane behaviour (README "Fail-close"). Absent: fail-open, as Cisco's default.
   *  `failClose`: traffic an ACL permit entry covers is dropped while no SA is there (counted as
   *  "no sa" drops), from start-up until registration; with kernel routing, blackhole routes keep it
   *  blocked when the process dies (a clean stop removes them). `blockBeforeRegistration`: destinations
   *  blocked from start-up until the first ACL is downloaded (the ACL is unknown until then). */
  readonly dataPlane?: {
    readonly failClose: boolean
    readonly blockBeforeRegistration?: readonly string[]
    /** Sealed ESP on a raw socket (default true when kernel routing is on). */
    readonly espSocket?: boolean
    /** Its firewall mark; default routing.ts espMarkFor(the rule preference). */
    readonly espMark?: number
  }
  /** The interface the group applies to (IOS `crypto map` on an interface): where multicast rekeys are
   *  joined and protected traffic leaves. null = decided by routing. */
  readonly interface: string | null
  /** Root-only control socket for `gdoi-gm status`. Default /run/gdoi/gm.sock. */
  readonly controlSocket: string
  /** Wireshark key log (contains keys; written 0600), or null. */
  readonly keylog: string | null
  readonly log: LogConfig
  /** Re-register this long before the KEK/TEK expires when no rekey came, minus a random
   *  0..jitterSec so that a whole group does not hit the KS at once. */
  readonly reregister: { readonly beforeExpirySec: number; readonly jitterSec: number }
  /** Main Mode and GROUPKEY-PULL requests unanswered for `intervalSec` are sent again, at most `count`
   *  times (default 7 s × 5, Cisco's reference, spec §1.3). A shorter interval registers faster through
   *  loss or a key server busy with a flood; it also multiplies the load of a group restarting at once. */
  readonly retransmit: { readonly intervalSec: number; readonly count: number }
  /** Answer KEK_ACK_REQUESTED with RFC 8263 ACKs ('rfc8263', default), or never ('none'). */
  readonly rekeyAck: 'rfc8263' | 'none'
  /** Control-plane datagrams larger than `maxDatagramBytes` are dropped before decoding (default
   *  16384; daemon-kit size-cap.ts says why), counted as `decodeErrors.oversized`. */
  readonly limits: { readonly maxDatagramBytes: number }
  /** Prometheus endpoint (`metrics: { listen: 127.0.0.1:9849 }`); absent: none. `--metrics` wins over
   *  it. Read at start: a reload does not move the endpoint. */
  readonly metrics?: MetricsConfig
}

export const GM_DEFAULTS = {
  localAddress: '0.0.0.0',
  port: 848,
  tunName: 'gdoi0',
  mtuBytes: 1400,
  controlSocket: '/run/gdoi/gm.sock',
  reregisterBeforeExpirySec: 60,
  reregisterJitterSec: 10,
  retransmitIntervalSec: 7,
  retransmitCount: 5,
} as const

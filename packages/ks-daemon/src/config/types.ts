// The key server's configuration after validation: every field present, every default applied.
// Produced by `loadKsConfig()` from YAML or from a pasted Cisco IOS configuration.
import type {
  AclEntry,
  Endpoint,
  EspTransformConfig,
  GroupIdentity,
  IkeConfig,
  KekAlgorithmName,
  LogConfig,
  Prefix,
  Secret,
} from '@gdoi/daemon-kit'
import { DEFAULT_MAX_DATAGRAM_BYTES } from '@gdoi/daemon-kit'
import type { MetricsConfig } from '@gdoi/daemon-kit/metrics-config'

export interface KsConfig {
  /** UDP address/port for IKE and GDOI (default 0.0.0.0:848). Also the source of unicast and
   *  multicast rekeys (IOS `server local` / `address ipv4 A`). */
  readonly listen: Endpoint
  /** Persistent state (ks-state.json, generated RSA keys); created 0700. Default /var/lib/gdoi/ks. */
  readonly stateDir: string
  /** Root-only control socket for `gdoi-ks status`. Default /run/gdoi/ks.sock. */
  readonly controlSocket: string
  readonly log: LogConfig
  /** Wireshark key log (contains keys; written 0600), or null. */
  readonly keylog: string | null
  readonly ike: IkeConfig
  readonly groups: readonly KsGroupConfig[]
  readonly limits: KsLimitsConfig
  readonly compat: KsCompatConfig
  /** Where the group state lives: the local state file (default) or etcd (several key servers). */
  readonly store: KsStoreConfig
  /** Prometheus endpoint (`metrics: { listen: 127.0.0.1:9848 }`); absent: none. `--metrics` wins over
   *  it. Read at start: a reload does not move the endpoint. */
  readonly metrics?: MetricsConfig
}

/** `store:` — the embedded state file (default, nothing to install) or an etcd cluster shared by
 *  several key servers (README "Clustering on etcd"). */
export type KsStoreConfig = FileStoreConfig | EtcdStoreConfig

export interface FileStoreConfig {
  readonly kind: 'file'
}

export interface EtcdStoreConfig {
  readonly kind: 'etcd'
  /** etcd client URLs, e.g. http://10.0.0.5:2379 (all members of the cluster). */
  readonly endpoints: readonly string[]
  /** Key prefix of this key-server cluster (default /gdoi/ks/); several clusters can share one etcd. */
  readonly prefix: string
  /** AES-256-GCM key (32 bytes) that encrypts the key material before it goes to etcd; the same on
   *  every key server of the cluster. */
  readonly keyEncryptionKey: Secret
  /** Lease of the primary and of each instance's registration (default 10 s): a dead primary is
   *  replaced within this time. */
  readonly leaseTtlSec: number
  /** This instance's name in the cluster (default: host name + listen address). */
  readonly instanceName: string | null
  /** How long one etcd request may take before the store counts as unavailable (default 3 s). */
  readonly requestTimeoutSec: number
  /** Client TLS (https endpoints): the CA that signed etcd's certificate, and this key server's
   *  client certificate + key when etcd runs with --client-cert-auth. null: plain http. */
  readonly tls: EtcdTlsConfig | null
  /** etcd user/password (etcd `auth enable`); null: no authentication. */
  readonly auth: EtcdAuthConfig | null
}

export interface EtcdTlsConfig {
  /** PEM of the CA certificate(s) etcd's server certificate chains to (read at load time). */
  readonly ca: Uint8Array
  readonly caFile: string
  /** PEM client certificate chain and its private key (0600), or null when etcd asks for none. */
  readonly cert: Uint8Array | null
  readonly certFile: string | null
  readonly key: Secret | null
  readonly keyFile: string | null
}

export interface EtcdAuthConfig {
  readonly user: string
  /** From passwordFile (0600) or passwordEnv; never inline in the configuration. */
  readonly password: Secret
  /** Where the password came from (for messages): `file /etc/gdoi/etcd.pw` or `env GDOI_ETCD_PASSWORD`. */
  readonly source: string
}

export interface KsLimitsConfig {
  /** Main Modes in progress at once (default 10000). When full, a new MM1 evicts the oldest half-open SA
   *  still waiting for MM3 (a spoofed one never sends it); only when none is, the MM1 is dropped. */
  readonly maxHalfOpenSa: number
  /** An unfinished Main Mode or GROUPKEY-PULL is abandoned after this long (default 120). */
  readonly exchangeTimeoutSec: number
  /** Datagrams larger than this are dropped before decoding (default 16384; daemon-kit size-cap.ts). */
  readonly maxDatagramBytes: number
}

/** Switches for test captures and older peers (spec §8.2, §5.2). Leave the defaults in production. */
export interface KsCompatConfig {
  /** SAT ID Data Length width: 1 (RFC 6407, default) or 2 (what tshark 4.0 parses). */
  readonly idLengthWidth: 1 | 2
  /** Push signature: 'rfc' (DigestInfo, RFC 6407 §5.3.6.1, default) or 'bare' (gdoid). */
  readonly pushSignature: 'rfc' | 'bare'
}

export interface KsGroupConfig {
  readonly name: string
  /** PULL1 ID: `{ kind: 'number' }` is sent as ID_KEY_ID (4 bytes), `address` as ID_IPV4_ADDR. */
  readonly identity: GroupIdentity
  /** Traffic policy (permit = encrypt, deny = bypass), in order. */
  readonly acl: readonly AclEntry[]
  /** Default `esp-aes 256 esp-sha-hmac`. */
  readonly transform: EspTransformConfig
  /** TEK (IPsec SA) lifetime, default 3600. */
  readonly tekLifetimeSec: number
  readonly kek: KekConfig
  /** null: no KEK/SAK is sent (no `rekey authentication` in IOS): GMs get TEKs only and re-register. */
  readonly rekey: RekeyConfig | null
  /** GAP payload (ATD/DTD), or null to send none. */
  readonly gap: GapConfig | null
  /** GMs allowed to register (phase-1 peer address), or null for any authenticated peer. */
  readonly authorization: readonly Prefix[] | null
  /** NUMBER_OF_SID_BITS for counter-mode (GCM) TEKs: 8, 12 or 16 (default 16). */
  readonly senderIdBits: 8 | 12 | 16
}

export interface KekConfig {
  /** Default aes-256-cbc. */
  readonly algorithm: KekAlgorithmName
  /** Default 86400. */
  readonly lifetimeSec: number
}

export type SigningKeyConfig =
  | { readonly source: 'generate'; readonly bits: 2048 | 3072 | 4096; readonly label: string }
  | { readonly source: 'file'; readonly path: string; readonly label: string }

export interface RekeyConfig {
  /** Default unicast (IOS default is multicast; the IOS parser follows IOS). */
  readonly transport: 'unicast' | 'multicast'
  /** SAK DST ID / push destination for multicast; null for unicast. */
  readonly multicastAddress: string | null
  /** Default 10. */
  readonly retransmitPeriodSec: number
  /** Retransmissions after the first push (default 2). */
  readonly retransmitCount: number
  readonly signingKey: SigningKeyConfig
  /** SIG_HASH_ALGORITHM, default sha1. */
  readonly sigHash: 'sha1' | 'sha256'
  /**
   * RFC 8263 KEK_ACK_REQUESTED (REKEY_ACK_KEK_SHA256), or none. Default by transport: 'rfc8263' for
   * unicast (each GM acknowledges; three unacknowledged pushes in a row drop it from the rekey list —
   * the standard stand-in for Cisco's proprietary unicast ACK), 'none' for multicast.
   */
  readonly ack: 'rfc8263' | 'none'
}

export interface GapConfig {
  readonly activationDelaySec: number
  readonly deactivationDelaySec: number
}

export const KS_DEFAULTS = {
  listenAddress: '0.0.0.0',
  port: 848,
  stateDir: '/var/lib/gdoi/ks',
  controlSocket: '/run/gdoi/ks.sock',
  tekLifetimeSec: 3600,
  kekLifetimeSec: 86400,
  retransmitPeriodSec: 10,
  retransmitCount: 2,
  signingKeyBits: 2048,
  signingKeyLabel: 'gdoi-rekey',
  senderIdBits: 16,
  maxHalfOpenSa: 10_000,
  exchangeTimeoutSec: 120,
  maxDatagramBytes: DEFAULT_MAX_DATAGRAM_BYTES,
  etcdPrefix: '/gdoi/ks/',
  etcdLeaseTtlSec: 10,
  etcdRequestTimeoutSec: 3,
} as const

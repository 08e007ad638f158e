// KsStore on etcd: several gdoi-ks instances share one group state (README "Clustering on etcd").
// Loaded only when `store: { kind: etcd }` is configured (run.ts imports this file dynamically), so a
// single key server never loads the etcd client.
//
// Layout under the configured prefix P (default /gdoi/ks/):
//   P check                   sealed constant: proves every instance has the same keyEncryptionKey
//   P leader                  {id, lease, sinceMs}, bound to the primary's lease (the election)
//   P instances/<id>          {id, listen, pid, policy digests, …}, bound to that instance's lease
//                             (status: who is up, whose configuration matches the primary's policy)
//   P groups/<group>          {seq, kekSpi, teks, push, policy, sealed}: KEK, TEKs, SID counter and
//                             signing-key reference sealed with AES-256-GCM (seal.ts); the plain fields
//                             are public values for operators (etcdctl get) and never used for
//                             decisions, except `policy`: the primary's group policy (cluster-policy.ts)
//   P members/<group>/<a:p>   one member (address, identity, ACK state; no secrets)
//   P signing/<label>         the push-signing RSA key (PKCS#8 PEM), sealed
//   P sids/<group>            next free RFC 6054 sender ID (blocks are reserved by compare-and-swap)
//
// Roles. Every instance holds a lease (TTL store.leaseTtlSec) that it keeps alive itself (every TTL/3).
// The primary is the instance whose lease holds `P leader` (created with a txn "create revision == 0").
// Fencing: everything the primary writes about keys and SEQs is one txn conditioned on `P leader`
// still having the create revision it had when this instance won — a primary whose lease expired (the
// key is gone) or that was replaced (another create revision) writes nothing, so the rekey code never
// sends the push (it sends only after the SEQ is saved). Locally the primary also steps down once its
// lease may have expired (last keepalive sent + TTL) without an answer from etcd.
// Followers write only members (registrations); they see keys and SEQs through a watch on P.
//
// Connection: `store.tls` (CA, client certificate) and `store.auth` (etcd user + password) go to every
// client this store makes. etcd's refusals are classified (errorKind): a wrong password or missing
// permission is not "etcd is down", and a TLS handshake etcd rejects shows up in grpc-js only as
// "UNAVAILABLE: No connection established", so on a failed connect a plain TLS probe names the cause.
import { hostname } from 'node:os'
import { connect as tlsConnect } from 'node:tls'
import { createPrivateKey, generateKeyPair } from 'node:crypto'
import { promisify } from 'node:util'
import { castGrpcError, Etcd3, EtcdAuthenticationFailedError, EtcdInvalidAuthTokenError, EtcdLeaseInvalidError, EtcdPermissionDeniedError, type IOptions, type Lease } from 'etcd3'
import type { Logger } from '@gdoi/daemon-kit'
import { LogEvent } from '@gdoi/daemon-kit'
import type { EtcdStoreConfig, SigningKeyConfig } from '../config/types.js'
import { decodeState, encodeState } from './state-codec.js'
import { createSealer, type Sealer } from './seal.js'
import { describeSigningKey, loadSigningKey as loadSigningKeyFile, type SigningKey, SigningKeyError } from './rsa-key.js'
import { KS_STATE_VERSION, StoreError, type GroupState, type KsState, type KsStore, type MemberState } from './types.js'
import { isPublishedPolicy, type PublishedPolicy } from '../cluster-policy.js'

const generateKeyPairAsync = promisify(generateKeyPair)

const CHECK_PLAINTEXT = 'gdoi-ks cluster key check v1'
/** Member writes per txn (etcd's default --max-txn-ops is 128). */
const MAX_OPS_PER_TXN = 100
/** Endpoint health is polled this often (status, metrics). */
const HEALTH_POLL_MS = 5000

/** The last push of a group, kept with the group so that a new primary can retransmit it (same SEQ,
 *  same bytes) when the old one died in the middle of its retransmissions. The bytes are what went on
 *  the wire: encrypted under the KEK and signed. */
export interface PushRecord {
  readonly kind: 'tek-rekey' | 'kek-rekey'
  readonly kekSpi: string
  readonly seq: number
  readonly atMs: number
  /** How long retransmissions of this push go on (retransmitCount × period). */
  readonly windowMs: number
  readonly bytes: string
}

export interface ClusterEvents {
  /** This instance became primary (true) or stopped being primary (false). */
  role(primary: boolean, reason: string): void
  /** Another instance wrote a group's keys/SEQ (members: empty, see member()). */
  groupState(group: string, state: GroupState, push: PushRecord | null): void
  /** A member was written (null: removed) by another instance. */
  member(group: string, key: string, member: MemberState | null): void
  /** etcd answers again (true) or stopped answering (false). */
  availability(available: boolean): void
  /** One etcd request failed (counted by kind: the key server's `store.error.<kind>` counters). */
  storeError?(kind: EtcdErrorKind): void
}

/** Why an etcd request failed: `auth` wrong user/password, `permission` the user may not touch the
 *  prefix, `tls` the TLS handshake failed (certificate refused or not trusted), `unavailable` no answer. */
export type EtcdErrorKind = 'auth' | 'permission' | 'tls' | 'unavailable'

export function etcdErrorKind(err: unknown): EtcdErrorKind {
  if (err instanceof EtcdAuthenticationFailedError || err instanceof EtcdInvalidAuthTokenError) return 'auth'
  if (err instanceof EtcdPermissionDeniedError) return 'permission'
  const text = err instanceof Error ? err.message : String(err)
  if (/authentication failed|invalid auth token|user name is empty/i.test(text)) return 'auth'
  if (/permission denied/i.test(text)) return 'permission'
  if (/certificate|handshake|SSL|TLS|alert/i.test(text)) return 'tls'
  return 'unavailable'
}

/** etcd3 client options from the store configuration: hosts, timeouts, TLS credentials, password auth. */
export function etcdClientOptions(cfg: EtcdStoreConfig, hosts: string | string[]): IOptions {
  const timeoutMs = cfg.requestTimeoutSec * 1000
  const tls = cfg.tls
  return {
    hosts,
    dialTimeout: timeoutMs,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeoutMs }),
    ...(tls !== null
      ? {
          credentials: {
            rootCertificate: Buffer.from(tls.ca),
            ...(tls.cert !== null && tls.key !== null ? { certChain: Buffer.from(tls.cert), privateKey: Buffer.from(tls.key.reveal()) } : {}),
          },
        }
      : {}),
    ...(cfg.auth !== null ? { auth: { username: cfg.auth.user, password: Buffer.from(cfg.auth.password.reveal()).toString('utf8') } } : {}),
  }
}

/**
 * What a TLS handshake with the first https endpoint says, with this store's CA and client
 * certificate: undefined when it succeeds (and the server does not reject us right after), else the
 * reason ("certificate unknown" alert from etcd, "unable to verify the first certificate", …).
 */
export function probeTls(cfg: EtcdStoreConfig, timeoutMs = 2000, endpoint?: string): Promise<string | undefined> {
  const tls = cfg.tls
  const url = endpoint ?? cfg.endpoints.find((e) => e.startsWith('https://'))
  if (tls === null || url === undefined) return Promise.resolve(undefined)
  const u = new URL(url)
  return new Promise((resolve) => {
    let done = false
    const finish = (why: string | undefined): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      sock.destroy()
      resolve(why)
    }
    const sock = tlsConnect({
      host: u.hostname.replace(/^\[|\]$/g, ''),
      port: Number(u.port || 2379),
      ca: Buffer.from(tls.ca),
      ...(tls.cert !== null && tls.key !== null ? { cert: Buffer.from(tls.cert), key: Buffer.from(tls.key.reveal()) } : {}),
      ALPNProtocols: ['h2'],
      ...(/^[\d.]+$|:/.test(u.hostname) ? {} : { servername: u.hostname }),
    })
    // TLS 1.3: a client certificate the server refuses is reported after the client's handshake is
    // done, so wait a moment for the alert before calling it a success.
    sock.once('secureConnect', () => setTimeout(() => finish(undefined), 300))
    sock.once('error', (err: Error) => finish(tlsReason(err.message)))
    const timer = setTimeout(() => finish(`no answer within ${timeoutMs} ms`), timeoutMs)
  })
}

export interface ClusterInstanceInfo {
  readonly id: string
  readonly listen: string
  readonly host: string
  readonly pid: number
  readonly startedAtMs: number
  /** Digest of each group's policy in this instance's own configuration (cluster-policy.ts). */
  readonly policy?: Readonly<Record<string, string>>
}

export interface EndpointHealth {
  readonly endpoint: string
  readonly healthy: boolean
  readonly version: string | null
  /** This member is the etcd (raft) leader. */
  readonly raftLeader: boolean
  readonly error: string | null
  readonly checkedAtMs: number | null
}

export interface ClusterInfo {
  readonly backend: 'etcd'
  readonly instance: string
  readonly primary: boolean
  readonly primaryId: string | null
  readonly primarySinceMs: number | null
  readonly leaseId: string | null
  readonly leaseTtlSec: number
  readonly lastKeepaliveMs: number | null
  /** Until when this instance's lease is certainly alive (last keepalive sent + TTL). */
  readonly leaseValidUntilMs: number | null
  readonly available: boolean
  readonly availableSinceMs: number
  readonly lastError: string | null
  readonly lastErrorKind: EtcdErrorKind | null
  /** Failed etcd requests since start, by kind. */
  readonly errors: Readonly<Record<EtcdErrorKind, number>>
  /** `https` when store.tls is set; the etcd user when store.auth is. */
  readonly security: { readonly tls: boolean; readonly clientCert: boolean; readonly user: string | null }
  readonly endpoints: readonly EndpointHealth[]
  readonly instances: readonly ClusterInstanceInfo[]
  readonly keyFingerprint: string
  readonly prefix: string
  readonly fencedWrites: number
  readonly fenceFailures: number
}

/** What a clustered key server needs from its store beyond KsStore. */
export interface ClusterStore extends KsStore {
  readonly kind: 'etcd'
  readonly instanceId: string
  readonly isPrimary: boolean
  /** Starts the lease keepalive, the watch and the election; events arrive through `events`. */
  start(events: ClusterEvents): Promise<void>
  /** Tries to become primary now (true when this instance is primary afterwards). */
  campaign(): Promise<boolean>
  /** Stops being primary locally (the lease and key stay until they expire or close()). */
  stepDown(reason: string): void
  /** The push about to be saved, written with the group's next record. */
  notePush(group: string, push: PushRecord): void
  /** The last push saved for a group (a new primary finishes its retransmissions). */
  lastPush(group: string): PushRecord | undefined
  /** The group's keys as last written to / read from etcd (members empty), without asking etcd. */
  committedGroup(group: string): GroupState | undefined
  /** The push-signing key: `file` from the file, `generate` from etcd (generated once, by whoever is first). */
  signingKey(cfg: SigningKeyConfig): Promise<SigningKey>
  /** `count` consecutive sender IDs no other instance will hand out: [first, first + count). */
  reserveSids(group: string, count: number): Promise<number>
  info(): ClusterInfo
  /** A crash, for tests: stops everything without revoking the lease (the primary key stays until TTL). */
  abandon(): Promise<void>
  /** The digests of this instance's own group policies, published with its instance record. */
  setPolicyDigests(digests: Readonly<Record<string, string>>): Promise<void>
  /** Where the primary's policy of a group comes from when this instance writes the group record. */
  publishPolicy(source: (group: string) => PublishedPolicy | undefined): void
  /** The policy the primary published with the group record (as last read or written). */
  primaryPolicy(group: string): PublishedPolicy | undefined
}

export interface EtcdStoreOptions {
  readonly config: EtcdStoreConfig
  /** host:port the key server listens on (instance name default and status). */
  readonly listen: string
  readonly log: Logger
  /** Tests: milliseconds clock (default Date.now). Leases are real time in any case. */
  readonly nowMs?: () => number
}

interface GroupRecord {
  readonly v: 1
  readonly writer: string
  readonly savedAtMs: number
  readonly seq: number | null
  readonly kekSpi: string | null
  readonly teks: readonly number[]
  readonly push: PushRecord | null
  /** The writer's group policy (absent in records written before policies were published). */
  readonly policy?: PublishedPolicy | null
  readonly sealed: string
}

interface LeaderValue {
  readonly id: string
  readonly lease: string
  readonly sinceMs: number
}

function errText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}

function parseJson<T>(buf: Buffer | undefined | null): T | undefined {
  if (buf === undefined || buf === null || buf.length === 0) return undefined
  try {
    return JSON.parse(buf.toString('utf8')) as T
  } catch {
    return undefined
  }
}

/** Connects, checks the key-encryption key against the cluster's, and returns the store (not started). */
export async function openEtcdStore(opts: EtcdStoreOptions): Promise<ClusterStore> {
  const s = new EtcdStore(opts)
  try {
    await s.connect()
  } catch (err) {
    await s.close().catch(() => {})
    throw err
  }
  return s
}

class EtcdStore implements ClusterStore {
  readonly kind = 'etcd' as const
  readonly instanceId: string
  readonly #cfg: EtcdStoreConfig
  readonly #p: string
  readonly #log: Logger
  readonly #now: () => number
  readonly #client: Etcd3
  readonly #sealer: Sealer
  readonly #listen: string
  readonly #startedAtMs: number
  #events: ClusterEvents | undefined
  #closed = false

  // lease / election
  #lease: Lease | undefined
  #leaseId: string | null = null
  #lastKeepaliveMs: number | null = null
  #validUntilMs: number | null = null
  #primary = false
  #leaderCreateRev: string | null = null
  #leader: LeaderValue | undefined
  #tick: NodeJS.Timeout | undefined
  /** One client per endpoint for the lease keepalives (and health), the index of the last that answered. */
  #kaClients: Etcd3[] = []
  #kaIndex = 0
  #campaigning: Promise<boolean> | undefined
  #watcher: { cancel(): Promise<void> } | undefined

  // availability
  #available = true
  #availableSinceMs: number
  #lastError: string | null = null
  #lastErrorKind: EtcdErrorKind | null = null
  readonly #errors: Record<EtcdErrorKind, number> = { auth: 0, permission: 0, tls: 0, unavailable: 0 }
  /** etcd refuses this instance's credentials (set by a failed request, cleared by the health poll). */
  #credentialError: unknown

  // policy (cluster-policy.ts)
  #policyDigests: Readonly<Record<string, string>> = {}
  #policySource: ((group: string) => PublishedPolicy | undefined) | undefined
  readonly #primaryPolicy = new Map<string, PublishedPolicy>()
  readonly #committedPolicy = new Map<string, string>()
  #endpoints = new Map<string, EndpointHealth>()
  #healthClients: Etcd3[] = []
  #healthTimer: NodeJS.Timeout | undefined

  // what etcd holds (as far as this instance knows)
  readonly #committedCore = new Map<string, string>()
  readonly #known = new Map<string, Map<string, string>>()
  readonly #instances = new Map<string, ClusterInstanceInfo>()
  readonly #ownRevisions = new Set<string>()
  /** Member values being written by us (their watch echo is ignored). */
  readonly #inflight = new Map<string, string>()
  readonly #pendingPush = new Map<string, PushRecord>()
  readonly #lastPush = new Map<string, PushRecord>()
  #fencedWrites = 0
  #fenceFailures = 0

  // save coalescing
  #pending: { state: KsState; waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> } | undefined
  #saving: Promise<void> | undefined

  constructor(opts: EtcdStoreOptions) {
    this.#cfg = opts.config
    this.#p = opts.config.prefix
    this.#log = opts.log.child({ c: 'store' })
    this.#now = opts.nowMs ?? Date.now
    this.#listen = opts.listen
    this.#startedAtMs = Date.now()
    this.instanceId = opts.config.instanceName ?? `${hostname()}/${opts.listen}`
    this.#availableSinceMs = Date.now()
    this.#sealer = createSealer(opts.config.keyEncryptionKey.reveal())
    this.#client = new Etcd3(etcdClientOptions(opts.config, [...opts.config.endpoints]))
    this.#kaClients = opts.config.endpoints.map((e) => new Etcd3(etcdClientOptions(opts.config, e)))
  }

  /**
   * The TTL asked of etcd: one second less than leaseTtlSec (from 3 s on). etcd revokes expired leases
   * in a loop that runs every 500 ms, and the watch and the election take a few milliseconds more: with
   * the second in hand, a new primary is elected within leaseTtlSec of the old one's last renewal.
   */
  get #grantTtl(): number {
    return this.#cfg.leaseTtlSec >= 3 ? this.#cfg.leaseTtlSec - 1 : this.#cfg.leaseTtlSec
  }

  get isPrimary(): boolean {
    return this.#primary
  }

  // ---- connection, key check -------------------------------------------------------------------

  async connect(): Promise<void> {
    const key = `${this.#p}check`
    let existing: string | null
    try {
      existing = await this.#client.get(key).string()
    } catch (err) {
      throw await connectError(this.#cfg, err)
    }
    if (existing === null) {
      const sealed = this.#sealer.seal(Buffer.from(CHECK_PLAINTEXT), key)
      const r = await this.#client.if(key, 'Create', '==', 0).then(this.#client.put(key).value(sealed)).else(this.#client.get(key)).commit()
      if (!r.succeeded) existing = r.responses[0]?.response_range.kvs[0]?.value.toString('utf8') ?? null
    }
    if (existing !== null) {
      let ok = false
      try {
        ok = Buffer.from(this.#sealer.open(existing, key)).toString() === CHECK_PLAINTEXT
      } catch {
        ok = false
      }
      if (!ok) {
        throw new StoreError(
          'ERR_STATE_KEY',
          `the keyEncryptionKey (fingerprint ${this.#sealer.fingerprint}) is not the one the key servers under ${this.#p} use; every instance needs the same key`,
        )
      }
    }
    await this.#grantLease()
  }

  async #grantLease(): Promise<void> {
    const lease = this.#client.lease(this.#grantTtl, { autoKeepAlive: false })
    lease.on('lost', () => {}) // we watch keepalive answers ourselves
    const sent = Date.now()
    const id = await lease.grant()
    this.#lease = lease
    this.#leaseId = id
    this.#lastKeepaliveMs = Date.now()
    this.#validUntilMs = sent + this.#grantTtl * 1000
    await this.#putInstance()
    this.#log.info({ event: LogEvent.CLUSTER_LEASE, instance: this.instanceId, lease: id, ttlSec: this.#grantTtl }, 'cluster lease granted')
  }

  /** This instance's record under P instances/, bound to its lease (who is up, its policy digests). */
  async #putInstance(): Promise<void> {
    if (this.#leaseId === null) return
    const info: ClusterInstanceInfo = { id: this.instanceId, listen: this.#listen, host: hostname(), pid: process.pid, startedAtMs: this.#startedAtMs, policy: this.#policyDigests }
    await this.#client.put(`${this.#p}instances/${this.instanceId}`).value(JSON.stringify(info)).lease(this.#leaseId)
  }

  async setPolicyDigests(digests: Readonly<Record<string, string>>): Promise<void> {
    this.#policyDigests = { ...digests }
    try {
      await this.#putInstance()
    } catch (err) {
      // Written with the next lease grant at the latest; status shows the old digests meanwhile.
      this.#setAvailable(false, err)
    }
  }

  publishPolicy(source: (group: string) => PublishedPolicy | undefined): void {
    this.#policySource = source
  }

  primaryPolicy(group: string): PublishedPolicy | undefined {
    return this.#primaryPolicy.get(group)
  }

  #notePolicy(group: string, rec: GroupRecord): void {
    if (isPublishedPolicy(rec.policy)) {
      this.#primaryPolicy.set(group, rec.policy)
      this.#committedPolicy.set(group, JSON.stringify(rec.policy))
    }
  }

  /**
   * `count`: a failed request (counted, reported); false for a keepalive not sent because etcd refuses
   * our credentials. Credential failures (auth, permission, tls) are remembered until an authenticated
   * request succeeds again (health poll): lease keepalives are not checked against the user by etcd,
   * so their success proves nothing about whether this instance can still write.
   */
  #setAvailable(ok: boolean, err?: unknown, count = true): void {
    if (!ok) {
      const kind = etcdErrorKind(err)
      this.#lastError = errText(err)
      this.#lastErrorKind = kind
      if (kind !== 'unavailable') this.#credentialError = err
      if (count) {
        this.#errors[kind]++
        this.#events?.storeError?.(kind)
      }
    }
    if (ok === this.#available) return
    this.#available = ok
    this.#availableSinceMs = Date.now()
    if (ok) this.#log.info({ event: LogEvent.STORE_AVAILABLE, endpoints: this.#cfg.endpoints }, 'etcd answers again')
    else {
      const why =
        this.#lastErrorKind === 'auth' ? `etcd refuses the credentials of user ${this.#cfg.auth?.user ?? '(none)'} (password from ${this.#cfg.auth?.source ?? 'nowhere'})`
        : this.#lastErrorKind === 'permission' ? `etcd user ${this.#cfg.auth?.user ?? '(none)'} may not read/write ${this.#p} (etcdctl role grant-permission … --prefix=true readwrite ${this.#p})`
        : this.#lastErrorKind === 'tls' ? 'the TLS connection to etcd fails (store.tls: CA, client certificate)'
        : 'etcd does not answer'
      this.#log.error({ event: LogEvent.STORE_UNAVAILABLE, endpoints: this.#cfg.endpoints, kind: this.#lastErrorKind, err: this.#lastError }, `${why}: keys stay as they are, no rekey is sent`)
    }
    this.#events?.availability(ok)
  }

  // ---- start: keepalive, watch, election ----------------------------------------------------------

  async start(events: ClusterEvents): Promise<void> {
    this.#events = events
    const w = await this.#client.watch().prefix(this.#p).create()
    w.on('put', (kv) => this.#onPut(kv.key.toString('utf8'), kv.value, kv.mod_revision, kv.create_revision))
    w.on('delete', (kv) => this.#onDelete(kv.key.toString('utf8'), kv.mod_revision))
    // A watch stream that breaks (an etcd member died under it) reconnects to another member and resumes
    // from its last revision; availability is judged by requests, not by the stream. After a break the
    // key server re-syncs anyway (availability(true) → follower re-reads the state).
    let broken = false
    w.on('disconnected', (err) => {
      broken = true
      this.#log.debug({ err: errText(err) }, 'etcd watch disconnected; reconnecting')
    })
    w.on('connected', () => {
      if (!broken) return
      broken = false
      this.#events?.availability(true)
    })
    w.on('error', (err) => this.#log.warn({ err: errText(err) }, 'etcd watch error'))
    this.#watcher = w
    // Who is up and who leads, now (the watch reports changes from here on).
    const all = await this.#client.getAll().prefix(`${this.#p}instances/`).exec()
    for (const kv of all.kvs) {
      const v = parseJson<ClusterInstanceInfo>(kv.value)
      if (v !== undefined) this.#instances.set(v.id, v)
    }
    const leader = await this.#client.get(`${this.#p}leader`).string()
    this.#leader = leader !== null ? (JSON.parse(leader) as LeaderValue) : undefined
    this.#schedule()
    this.#startHealth()
  }

  #schedule(): void {
    if (this.#closed) return
    const every = Math.max(300, Math.floor((this.#grantTtl * 1000) / 3))
    this.#tick = setTimeout(() => void this.#keepalive().finally(() => this.#schedule()), every)
  }

  async #renew(): Promise<void> {
    if (this.#lease === undefined) {
      try {
        await this.#grantLease()
        this.#setAvailable(true)
      } catch (err) {
        this.#setAvailable(false, err)
        return
      }
    } else {
      // A keepalive that fails (an etcd member died under the stream) is tried again at once, with a
      // deadline short enough that the lease cannot run out while we wait.
      // Each attempt goes to one member (its own connection), starting with the one that answered
      // last, so a dead member costs one short deadline, not the lease.
      const deadlineMs = Math.min(this.#cfg.requestTimeoutSec * 1000, Math.max(250, (this.#grantTtl * 1000) / 4))
      const n = this.#kaClients.length
      let lastErr: unknown
      for (let attempt = 0; attempt < n + 1 && !this.#closed; attempt++) {
        const i = (this.#kaIndex + attempt) % n
        const client = this.#kaClients[i]
        if (client === undefined || this.#leaseId === null) break
        const sent = Date.now()
        try {
          const ttl = await keepaliveOnce(client, this.#leaseId, sent + deadlineMs)
          if (ttl <= 0) throw new EtcdLeaseInvalidError(this.#leaseId)
          this.#kaIndex = i
          this.#lastKeepaliveMs = Date.now()
          this.#validUntilMs = sent + ttl * 1000
          this.#setAvailable(true)
          return
        } catch (err) {
          if (err instanceof EtcdLeaseInvalidError || /lease not found/.test(String((err as Error).message))) throw new EtcdLeaseInvalidError(this.#leaseId)
          lastErr = err
        }
      }
      throw lastErr ?? new Error('no etcd endpoint')
    }
  }

  async #keepalive(): Promise<void> {
    if (this.#closed) return
    try {
      // An instance whose credentials etcd refuses lets its lease run out rather than keep it alive:
      // as primary it could not save a push anyway, and without its lease another key server (with
      // working credentials) can become primary. Once the health poll gets through again, it renews
      // (or, the lease being gone, takes a new one).
      if (this.#credentialError !== undefined) this.#setAvailable(false, this.#credentialError, false)
      else await this.#renew()
    } catch (err) {
      if (err instanceof EtcdLeaseInvalidError) {
        this.#log.warn({ event: LogEvent.CLUSTER_LEASE, instance: this.instanceId, lease: this.#leaseId, lost: true }, 'cluster lease expired (etcd was out of reach longer than the TTL)')
        this.#lease = undefined
        this.#leaseId = null
        this.#validUntilMs = null
        if (this.#primary) this.stepDown('lease expired')
        this.#setAvailable(true)
        return this.#keepalive()
      }
      this.#setAvailable(false, err)
    }
    if (this.#primary && (this.#validUntilMs === null || Date.now() >= this.#validUntilMs)) this.stepDown('lease may have expired: etcd out of reach')
    if (!this.#primary && this.#lease !== undefined && this.#available && (this.#leader === undefined || this.#leader.lease === this.#leaseId)) {
      await this.campaign().catch(() => false)
    }
  }

  campaign(): Promise<boolean> {
    this.#campaigning ??= this.#campaign().finally(() => (this.#campaigning = undefined))
    return this.#campaigning
  }

  async #campaign(): Promise<boolean> {
    if (this.#closed || this.#lease === undefined || this.#leaseId === null) return false
    if (this.#primary) return true
    const key = `${this.#p}leader`
    const value: LeaderValue = { id: this.instanceId, lease: this.#leaseId, sinceMs: this.#now() }
    const c = this.#client
    let r
    try {
      r = await c.if(key, 'Create', '==', 0).then(c.put(key).value(JSON.stringify(value)).lease(this.#leaseId)).else(c.get(key)).commit()
    } catch (err) {
      this.#setAvailable(false, err)
      return false
    }
    let createRev: string | null = null
    if (r.succeeded) {
      createRev = r.header.revision
      this.#leader = value
    } else {
      const kv = r.responses[0]?.response_range.kvs[0]
      const cur = parseJson<LeaderValue>(kv?.value)
      this.#leader = cur
      if (kv !== undefined && cur !== undefined && cur.id === this.instanceId && cur.lease === this.#leaseId) createRev = kv.create_revision
    }
    if (createRev === null) return false
    this.#leaderCreateRev = createRev
    this.#primary = true
    this.#log.info({ event: LogEvent.CLUSTER_PRIMARY, instance: this.instanceId, lease: this.#leaseId, revision: createRev }, 'this key server is the primary')
    this.#events?.role(true, 'elected')
    return true
  }

  stepDown(reason: string): void {
    if (!this.#primary) return
    this.#primary = false
    this.#leaderCreateRev = null
    this.#log.warn({ event: LogEvent.CLUSTER_FOLLOWER, instance: this.instanceId, reason }, 'this key server is no longer the primary: no more rekeys from here')
    this.#events?.role(false, reason)
  }

  // ---- watch ---------------------------------------------------------------------------------------

  #onPut(key: string, value: Buffer, modRev: string, _createRev: string): void {
    if (!key.startsWith(this.#p)) return
    const rel = key.slice(this.#p.length)
    if (rel === 'leader') {
      const v = parseJson<LeaderValue>(value)
      this.#leader = v
      if (this.#primary && v !== undefined && (v.id !== this.instanceId || v.lease !== this.#leaseId)) this.stepDown(`${v.id} is primary now`)
      return
    }
    if (rel.startsWith('instances/')) {
      const v = parseJson<ClusterInstanceInfo>(value)
      if (v !== undefined) this.#instances.set(v.id, v)
      return
    }
    if (this.#ownRevisions.has(modRev)) return
    if (rel.startsWith('groups/')) {
      const group = rel.slice('groups/'.length)
      const rec = parseJson<GroupRecord>(value)
      // Our own write (its echo may come before the txn's answer): nothing new.
      if (rec === undefined || rec.writer === this.instanceId) return
      let core: { state: GroupState; json: string }
      try {
        core = this.#openGroup(key, group, rec)
      } catch (err) {
        this.#log.error({ group, err: errText(err) }, 'a group record in etcd does not open; ignored')
        return
      }
      this.#committedCore.set(group, core.json)
      if (rec.push !== null) this.#lastPush.set(group, rec.push)
      this.#notePolicy(group, rec)
      if (this.#primary) this.stepDown(`${rec.writer} wrote the keys of ${group}`)
      this.#events?.groupState(group, core.state, rec.push)
      return
    }
    if (rel.startsWith('members/')) {
      const [group, mk] = splitMember(rel)
      if (group === undefined || mk === undefined) return
      const json = value.toString('utf8')
      const known = this.#knownOf(group)
      if (known.get(mk) === json || this.#inflight.get(`${group}/${mk}`) === json) return // our own write
      const m = decodeMember(json)
      if (m === undefined) return
      known.set(mk, json)
      this.#events?.member(group, mk, m)
    }
  }

  #onDelete(key: string, modRev: string): void {
    if (!key.startsWith(this.#p)) return
    const rel = key.slice(this.#p.length)
    if (rel === 'leader') {
      this.#leader = undefined
      if (this.#primary) this.stepDown('the primary key was deleted (lease expired or revoked)')
      else void this.campaign().catch(() => false)
      return
    }
    if (rel.startsWith('instances/')) {
      this.#instances.delete(rel.slice('instances/'.length))
      return
    }
    if (this.#ownRevisions.has(modRev)) return
    if (rel.startsWith('members/')) {
      const [group, mk] = splitMember(rel)
      if (group === undefined || mk === undefined) return
      this.#knownOf(group).delete(mk)
      this.#events?.member(group, mk, null)
    }
  }

  #knownOf(group: string): Map<string, string> {
    let m = this.#known.get(group)
    if (m === undefined) {
      m = new Map()
      this.#known.set(group, m)
    }
    return m
  }

  // ---- load / save ---------------------------------------------------------------------------------

  #openGroup(key: string, group: string, rec: GroupRecord): { state: GroupState; json: string } {
    let plain: Uint8Array
    try {
      plain = this.#sealer.open(rec.sealed, key)
    } catch (err) {
      throw new StoreError('ERR_STATE_KEY', (err as Error).message, { cause: err })
    }
    const json = Buffer.from(plain).toString('utf8')
    plain.fill(0)
    const parsed = JSON.parse(json) as unknown
    const st = decodeState({ version: KS_STATE_VERSION, savedAtMs: rec.savedAtMs, groups: { [group]: parsed } }, `etcd ${key}`)
    const g = st.groups[group]
    if (g === undefined) throw new StoreError('ERR_STATE_CORRUPT', `etcd ${key}: no group`)
    return { state: g, json }
  }

  async load(): Promise<KsState | undefined> {
    if (this.#closed) throw new StoreError('ERR_STATE_CLOSED', 'store is closed')
    let kvs
    try {
      kvs = (await this.#client.getAll().prefix(this.#p).exec()).kvs
    } catch (err) {
      this.#setAvailable(false, err)
      throw new StoreError('ERR_STATE_UNAVAILABLE', `etcd does not answer: ${errText(err)}`, { cause: err })
    }
    const groups: Record<string, GroupState> = {}
    const members = new Map<string, MemberState[]>()
    let savedAtMs = 0
    this.#known.clear()
    for (const kv of kvs) {
      const key = kv.key.toString('utf8')
      const rel = key.slice(this.#p.length)
      if (rel.startsWith('groups/')) {
        const group = rel.slice('groups/'.length)
        const rec = parseJson<GroupRecord>(kv.value)
        if (rec === undefined) throw new StoreError('ERR_STATE_CORRUPT', `etcd ${key} is not JSON`)
        const core = this.#openGroup(key, group, rec)
        groups[group] = core.state
        this.#committedCore.set(group, core.json)
        if (rec.push !== null) this.#lastPush.set(group, rec.push)
        this.#notePolicy(group, rec)
        savedAtMs = Math.max(savedAtMs, rec.savedAtMs)
      } else if (rel.startsWith('members/')) {
        const [group, mk] = splitMember(rel)
        if (group === undefined || mk === undefined) continue
        const json = kv.value.toString('utf8')
        const m = decodeMember(json)
        if (m === undefined) continue
        this.#knownOf(group).set(mk, json)
        const list = members.get(group) ?? []
        list.push(m)
        members.set(group, list)
      }
    }
    this.#setAvailable(true)
    if (Object.keys(groups).length === 0) return undefined
    const out: Record<string, GroupState> = {}
    for (const [name, g] of Object.entries(groups)) out[name] = { ...g, members: members.get(name) ?? [] }
    return { version: KS_STATE_VERSION, savedAtMs, groups: out }
  }

  /** The last push of each group as etcd has it (for a new primary). */
  lastPush(group: string): PushRecord | undefined {
    return this.#lastPush.get(group)
  }

  committedGroup(group: string): GroupState | undefined {
    const json = this.#committedCore.get(group)
    if (json === undefined) return undefined
    return decodeState({ version: KS_STATE_VERSION, savedAtMs: 0, groups: { [group]: JSON.parse(json) as unknown } }, 'committed state').groups[group]
  }

  notePush(group: string, push: PushRecord): void {
    this.#pendingPush.set(group, push)
  }

  save(state: KsState): Promise<void> {
    if (this.#closed) return Promise.reject(new StoreError('ERR_STATE_CLOSED', 'store is closed'))
    return new Promise<void>((resolve, reject) => {
      if (this.#pending === undefined) this.#pending = { state, waiters: [] }
      this.#pending.state = state // a later snapshot contains everything an earlier one had
      this.#pending.waiters.push({ resolve, reject })
      this.#saving ??= this.#drain()
    })
  }

  async #drain(): Promise<void> {
    while (this.#pending !== undefined) {
      const job = this.#pending
      this.#pending = undefined
      try {
        await this.#write(job.state)
        for (const w of job.waiters) w.resolve()
      } catch (err) {
        for (const w of job.waiters) w.reject(err)
      }
    }
    this.#saving = undefined
  }

  async #write(state: KsState): Promise<void> {
    const c = this.#client
    const groupOps: Array<ReturnType<Etcd3['put']>> = []
    const committed: Array<[string, string]> = []
    const pushes: Array<[string, PushRecord]> = []
    const policies: Array<[string, PublishedPolicy]> = []
    const memberPuts: Array<{ group: string; key: string; json: string }> = []
    const memberDels: Array<{ group: string; key: string }> = []
    for (const [name, g] of Object.entries(state.groups)) {
      const enc = (encodeState({ version: KS_STATE_VERSION, savedAtMs: state.savedAtMs, groups: { [name]: g } }) as { groups: Record<string, Record<string, unknown>> }).groups[name] ?? {}
      const { members: encMembers, ...core } = enc
      const coreJson = JSON.stringify({ ...core, members: [] })
      const push = this.#pendingPush.get(name)
      this.#pendingPush.delete(name) // a push whose save fails is never sent: it must not be recorded later
      if (push !== undefined && !this.#primary) throw new StoreError('ERR_STATE_FENCED', 'not the primary: no push from here')
      const policy = this.#primary ? this.#policySource?.(name) : undefined
      const policyJson = policy !== undefined ? JSON.stringify(policy) : undefined
      if (this.#primary && (coreJson !== this.#committedCore.get(name) || push !== undefined || (policyJson !== undefined && policyJson !== this.#committedPolicy.get(name)))) {
        const key = `${this.#p}groups/${name}`
        const rec: GroupRecord = {
          v: 1,
          writer: this.instanceId,
          savedAtMs: state.savedAtMs,
          seq: g.kek?.seq ?? null,
          kekSpi: g.kek !== null ? Buffer.from(g.kek.spi).toString('hex') : null,
          teks: g.teks.map((t) => t.spi),
          push: push ?? this.#lastPush.get(name) ?? null,
          policy: policy ?? null,
          sealed: this.#sealer.seal(Buffer.from(coreJson), key),
        }
        groupOps.push(c.put(key).value(JSON.stringify(rec)))
        committed.push([name, coreJson])
        if (policy !== undefined) policies.push([name, policy])
        if (push !== undefined) pushes.push([name, push])
      }
      const known = this.#knownOf(name)
      const present = new Set<string>()
      for (const m of (encMembers as unknown[] | undefined) ?? []) {
        const mm = m as MemberState
        const mk = `${mm.address}:${mm.port}`
        present.add(mk)
        const json = JSON.stringify(m)
        if (known.get(mk) !== json) memberPuts.push({ group: name, key: mk, json })
      }
      if (this.#primary) for (const mk of known.keys()) if (!present.has(mk)) memberDels.push({ group: name, key: mk })
    }

    // Keys and SEQs: one fenced transaction (the rekey code sends nothing until it succeeded).
    if (groupOps.length > 0) {
      if (!this.#primary || this.#leaderCreateRev === null) throw new StoreError('ERR_STATE_FENCED', 'not the primary')
      if (this.#validUntilMs === null || Date.now() >= this.#validUntilMs) {
        this.stepDown('lease may have expired: etcd out of reach')
        throw new StoreError('ERR_STATE_FENCED', 'the lease may have expired')
      }
      let r
      try {
        r = await c.if(`${this.#p}leader`, 'Create', '==', this.#leaderCreateRev).then(...groupOps).commit()
      } catch (err) {
        this.#setAvailable(false, err)
        throw new StoreError('ERR_STATE_UNAVAILABLE', `etcd does not answer: ${errText(err)}`, { cause: err })
      }
      this.#setAvailable(true)
      if (!r.succeeded) {
        this.#fenceFailures++
        this.#log.warn({ event: LogEvent.CLUSTER_FENCED, instance: this.instanceId }, 'write refused by etcd: this key server is not the primary any more (nothing sent)')
        this.stepDown('fenced: the primary key changed')
        throw new StoreError('ERR_STATE_FENCED', 'the primary key changed: another key server is primary')
      }
      this.#fencedWrites++
      this.#ownRevisions.add(r.header.revision)
      for (const [name, json] of committed) this.#committedCore.set(name, json)
      for (const [name, p] of pushes) this.#lastPush.set(name, p)
      for (const [name, p] of policies) {
        this.#primaryPolicy.set(name, p)
        this.#committedPolicy.set(name, JSON.stringify(p))
      }
    }

    // Members: best effort. A registration completes while etcd is away; what could not be written is
    // written by a later save (the diff is against what etcd is known to hold).
    const ops: Array<{ op: ReturnType<Etcd3['put']> | ReturnType<Etcd3['delete']>; apply: () => void }> = [
      ...memberPuts.map((m) => ({ op: c.put(`${this.#p}members/${m.group}/${m.key}`).value(m.json), apply: () => this.#knownOf(m.group).set(m.key, m.json) })),
      ...memberDels.map((m) => ({ op: c.delete().key(`${this.#p}members/${m.group}/${m.key}`), apply: () => this.#knownOf(m.group).delete(m.key) })),
    ]
    for (const m of memberPuts) this.#inflight.set(`${m.group}/${m.key}`, m.json)
    for (let i = 0; i < ops.length; i += MAX_OPS_PER_TXN) {
      const batch = ops.slice(i, i + MAX_OPS_PER_TXN)
      try {
        const r = await c.if(`${this.#p}check`, 'Create', '>', 0).then(...batch.map((b) => b.op)).commit()
        this.#ownRevisions.add(r.header.revision)
        for (const b of batch) b.apply()
        this.#setAvailable(true)
      } catch (err) {
        this.#setAvailable(false, err)
        this.#log.warn({ err: errText(err), members: ops.length - i }, 'member list not written to etcd (written with a later save)')
        break
      }
    }
    for (const m of memberPuts) if (this.#inflight.get(`${m.group}/${m.key}`) === m.json) this.#inflight.delete(`${m.group}/${m.key}`)
    if (this.#ownRevisions.size > 1000) {
      const keep = [...this.#ownRevisions].slice(-200)
      this.#ownRevisions.clear()
      for (const r of keep) this.#ownRevisions.add(r)
    }
  }

  // ---- signing key, sender IDs ---------------------------------------------------------------------

  async signingKey(cfg: SigningKeyConfig): Promise<SigningKey> {
    if (cfg.source === 'file') return loadSigningKeyFile(cfg.path, cfg.label)
    const key = `${this.#p}signing/${cfg.label}`
    const where = `etcd:${key}`
    const fromSealed = (sealed: string, created: boolean): SigningKey => {
      const pem = this.#sealer.open(sealed, key)
      try {
        const k = describeSigningKey(createPrivateKey(Buffer.from(pem)), cfg.label, where, created)
        if (k.bits !== cfg.bits) throw new SigningKeyError(`${where} holds a ${k.bits}-bit key but the configuration asks for ${cfg.bits} bits`)
        return k
      } finally {
        pem.fill(0)
      }
    }
    const existing = await this.#client.get(key).string()
    if (existing !== null) return fromSealed(existing, false)
    const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: cfg.bits, publicExponent: 0x10001 })
    const pem = Buffer.from(privateKey.export({ format: 'pem', type: 'pkcs8' }))
    const sealed = this.#sealer.seal(pem, key)
    pem.fill(0)
    const r = await this.#client.if(key, 'Create', '==', 0).then(this.#client.put(key).value(sealed)).else(this.#client.get(key)).commit()
    if (r.succeeded) return fromSealed(sealed, true)
    const theirs = r.responses[0]?.response_range.kvs[0]?.value.toString('utf8')
    if (theirs === undefined) throw new SigningKeyError(`${where}: lost the race to create it but cannot read it`)
    return fromSealed(theirs, false)
  }

  async reserveSids(group: string, count: number): Promise<number> {
    const key = `${this.#p}sids/${group}`
    const c = this.#client
    for (let attempt = 0; attempt < 20; attempt++) {
      const r = await c.get(key).exec()
      const kv = r.kvs[0]
      const next = kv === undefined ? 1 : Number(kv.value.toString('utf8'))
      const cond = kv === undefined ? c.if(key, 'Create', '==', 0) : c.if(key, 'Mod', '==', kv.mod_revision)
      const t = await cond.then(c.put(key).value(String(next + count))).commit()
      if (t.succeeded) return next
    }
    throw new StoreError('ERR_STATE_UNAVAILABLE', `could not reserve sender IDs for ${group} (contention)`)
  }

  // ---- health, status ------------------------------------------------------------------------------

  #startHealth(): void {
    const timeoutMs = this.#cfg.requestTimeoutSec * 1000
    void timeoutMs
    this.#healthClients = this.#kaClients
    for (const e of this.#cfg.endpoints) this.#endpoints.set(e, { endpoint: e, healthy: false, version: null, raftLeader: false, error: null, checkedAtMs: null })
    const poll = async (): Promise<void> => {
      await Promise.all(
        this.#cfg.endpoints.map(async (e, i) => {
          const client = this.#healthClients[i]
          if (client === undefined) return
          try {
            const s = await client.maintenance.status({})
            // etcd checks neither Status nor lease keepalives against the user: a read under the prefix
            // is what proves that our credentials (password, permissions, certificate) still work.
            if (this.#cfg.auth !== null) await client.get(`${this.#p}check`).exec()
            this.#endpoints.set(e, { endpoint: e, healthy: true, version: s.version, raftLeader: s.leader === s.header.member_id, error: null, checkedAtMs: Date.now() })
            this.#credentialError = undefined // an authenticated request went through
          } catch (err) {
            let cause = err
            // grpc reports a refused TLS handshake as UNAVAILABLE: ask the endpoint ourselves.
            if (etcdErrorKind(err) === 'unavailable' && this.#cfg.tls !== null && e.startsWith('https://')) {
              const why = await probeTls(this.#cfg, 2000, e)
              if (why !== undefined && etcdErrorKind(new Error(why)) === 'tls') cause = new Error(`TLS to ${e} fails: ${why}`)
            }
            this.#endpoints.set(e, { endpoint: e, healthy: false, version: null, raftLeader: false, error: errText(cause).slice(0, 200), checkedAtMs: Date.now() })
            if (etcdErrorKind(cause) !== 'unavailable') this.#setAvailable(false, cause)
          }
        }),
      )
    }
    const loop = (): void => {
      if (this.#closed) return
      void poll().finally(() => {
        if (!this.#closed) this.#healthTimer = setTimeout(loop, HEALTH_POLL_MS)
      })
    }
    loop()
  }

  info(): ClusterInfo {
    return {
      backend: 'etcd',
      instance: this.instanceId,
      primary: this.#primary,
      primaryId: this.#leader?.id ?? null,
      primarySinceMs: this.#leader?.sinceMs ?? null,
      leaseId: this.#leaseId,
      leaseTtlSec: this.#cfg.leaseTtlSec,
      lastKeepaliveMs: this.#lastKeepaliveMs,
      leaseValidUntilMs: this.#validUntilMs,
      available: this.#available,
      availableSinceMs: this.#availableSinceMs,
      lastError: this.#lastError,
      lastErrorKind: this.#lastErrorKind,
      errors: { ...this.#errors },
      security: { tls: this.#cfg.tls !== null, clientCert: this.#cfg.tls?.cert != null, user: this.#cfg.auth?.user ?? null },
      endpoints: [...this.#endpoints.values()],
      instances: [...this.#instances.values()].sort((a, b) => a.id.localeCompare(b.id)),
      keyFingerprint: this.#sealer.fingerprint,
      prefix: this.#p,
      fencedWrites: this.#fencedWrites,
      fenceFailures: this.#fenceFailures,
    }
  }

  // ---- close ---------------------------------------------------------------------------------------

  async #stop(revoke: boolean): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#tick !== undefined) clearTimeout(this.#tick)
    if (this.#healthTimer !== undefined) clearTimeout(this.#healthTimer)
    await this.#saving?.catch(() => {})
    await this.#watcher?.cancel().catch(() => {})
    if (revoke && this.#lease !== undefined) {
      // Graceful: the lease goes, and with it the primary key: another instance takes over at once.
      await this.#lease.revoke({ deadline: Date.now() + 2000 }).catch(() => {})
    } else {
      this.#lease?.release()
    }
    this.#primary = false
    for (const h of this.#kaClients) h.close()
    this.#client.close()
  }

  close(): Promise<void> {
    return this.#stop(true)
  }

  abandon(): Promise<void> {
    return this.#stop(false)
  }
}

/** One LeaseKeepAlive round trip on `client` (one endpoint); resolves with the TTL etcd granted (0: the
 *  lease is gone). */
async function keepaliveOnce(client: Etcd3, leaseId: string, deadline: number): Promise<number> {
  const stream = await client.leaseClient.leaseKeepAlive({ deadline })
  try {
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('lease keepalive timed out')), Math.max(1, deadline - Date.now()))
      stream.on('data', (res: { TTL: string }) => {
        clearTimeout(timer)
        resolve(Number(res.TTL))
      })
      stream.on('error', (err: Error) => {
        clearTimeout(timer)
        reject(castGrpcError(err)) // "requested lease not found" → EtcdLeaseInvalidError
      })
      stream.write({ ID: leaseId })
    })
  } finally {
    stream.end()
  }
}

/** OpenSSL's "…:ssl3_read_bytes:sslv3 alert bad certificate:…" → what an operator can act on. */
function tlsReason(message: string): string {
  const text = message.replace(/\s+/g, ' ')
  const alert = /alert ([a-z ]+?)(?::|$)/i.exec(text)?.[1]
  if (alert !== undefined) {
    const who = /bad certificate|unknown ca|certificate required|certificate unknown|unsupported certificate|certificate revoked|certificate expired/i.test(alert) ? ': etcd does not accept this client certificate' : ''
    return `etcd sent the TLS alert "${alert}"${who}`
  }
  return text.slice(0, 300)
}

/** A failed first request, as a typed StoreError that says what to fix. */
async function connectError(cfg: EtcdStoreConfig, err: unknown): Promise<StoreError> {
  const where = cfg.endpoints.join(', ')
  const kind = etcdErrorKind(err)
  if (kind === 'auth') {
    return new StoreError('ERR_STATE_AUTH', `etcd (${where}) refuses user ${cfg.auth?.user ?? '(none)'}: wrong password (from ${cfg.auth?.source ?? 'nowhere'}) or no such user${cfg.auth === null ? '; etcd has auth enabled: set store.auth' : ''}`, { cause: err })
  }
  if (kind === 'permission') {
    return new StoreError('ERR_STATE_AUTH', `etcd user ${cfg.auth?.user ?? '(none)'} may not read ${cfg.prefix}: grant it readwrite on the prefix (etcdctl role grant-permission ROLE --prefix=true readwrite ${cfg.prefix})`, { cause: err })
  }
  if (cfg.tls !== null) {
    const why = await probeTls(cfg)
    if (why !== undefined && etcdErrorKind(new Error(why)) === 'tls') return new StoreError('ERR_STATE_TLS', `TLS to etcd (${where}) fails: ${why} (check store.tls: caFile ${cfg.tls.caFile}${cfg.tls.certFile !== null ? `, certFile ${cfg.tls.certFile}` : ', no client certificate'})`, { cause: err })
  }
  return new StoreError('ERR_STATE_UNAVAILABLE', `etcd (${where}) does not answer: ${errText(err)}`, { cause: err })
}

/**
 * Reads what `gdoi-ks export-key` needs from etcd without joining the cluster (no lease, no
 * election): the key check (is this the cluster's keyEncryptionKey?) and a sealed signing key.
 */
export async function readSigningKeyFromEtcd(cfg: EtcdStoreConfig, label: string): Promise<SigningKey> {
  const client = new Etcd3(etcdClientOptions(cfg, [...cfg.endpoints]))
  const sealer = createSealer(cfg.keyEncryptionKey.reveal())
  try {
    const checkKey = `${cfg.prefix}check`
    let check: string | null
    try {
      check = await client.get(checkKey).string()
    } catch (err) {
      throw await connectError(cfg, err)
    }
    if (check === null) throw new SigningKeyError(`no key server has used etcd under ${cfg.prefix} yet (no ${checkKey}); start one first`)
    let ok = false
    try {
      ok = Buffer.from(sealer.open(check, checkKey)).toString() === CHECK_PLAINTEXT
    } catch {
      ok = false
    }
    if (!ok) throw new StoreError('ERR_STATE_KEY', `the keyEncryptionKey (fingerprint ${sealer.fingerprint}) is not the one the key servers under ${cfg.prefix} use`)
    const key = `${cfg.prefix}signing/${label}`
    const sealed = await client.get(key).string()
    if (sealed === null) throw new SigningKeyError(`etcd:${key} does not exist (it is generated by the first key server that starts with signingKey: generate, label ${label})`)
    const pem = sealer.open(sealed, key)
    try {
      return describeSigningKey(createPrivateKey(Buffer.from(pem)), label, `etcd:${key}`, false)
    } finally {
      pem.fill(0)
    }
  } finally {
    client.close()
  }
}

function splitMember(rel: string): [string | undefined, string | undefined] {
  const rest = rel.slice('members/'.length)
  const i = rest.indexOf('/')
  if (i < 0) return [undefined, undefined]
  return [rest.slice(0, i), rest.slice(i + 1)]
}

function decodeMember(json: string): MemberState | undefined {
  try {
    const st = decodeState({ version: KS_STATE_VERSION, savedAtMs: 0, groups: { g: { kek: null, teks: [], members: [JSON.parse(json)], senderIdNext: 1, signingKey: null } } }, 'etcd member')
    return st.groups['g']?.members[0]
  } catch {
    return undefined
  }
}

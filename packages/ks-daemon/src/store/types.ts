// What the key server must remember across restarts, behind one small interface. `file-store.ts`
// keeps it in a JSON file; `etcd-store.ts` shares it between key servers (a `ClusterStore`, cluster.ts).
//
// Key fields hold `KeyBytes` (Uint8Array marked with `asKey`): they never reach a log line or a
// status answer, and `hex()` refuses them.
import type { EspTransformConfig, KekAlgorithmName, KeyBytes } from '@gdoi/daemon-kit'

export const KS_STATE_VERSION = 1

export interface KsState {
  readonly version: typeof KS_STATE_VERSION
  /** When this state was saved (clock ms). */
  readonly savedAtMs: number
  /** Per group, by group name. */
  readonly groups: Readonly<Record<string, GroupState>>
}

export interface GroupState {
  /** The current rekey SA; null when the group has none (no `rekey`). */
  readonly kek: KekState | null
  /** Live TEKs, oldest first (current and upcoming overlap during a rollover). */
  readonly teks: readonly TekState[]
  readonly members: readonly MemberState[]
  /** Next RFC 6054 sender ID to hand out (counter-mode TEKs). */
  readonly senderIdNext: number
  /** Which RSA key signed this group's pushes; a different key after a restart means the GMs
   *  can't verify pushes any more (they must re-register). */
  readonly signingKey: SigningKeyRef | null
}

export interface KekState {
  /** KEK SPI = the rekey SA's ICOOKIE ‖ RCOOKIE (16 bytes). */
  readonly spi: Uint8Array
  readonly algorithm: KekAlgorithmName
  /** KEK_ALGORITHM_KEY as sent in the KD payload: IV ‖ key. */
  readonly algorithmKey: KeyBytes
  readonly createdMs: number
  readonly expiresMs: number
  /** Last SEQ used (PULL4 / GROUPKEY-PUSH); the next push uses seq + 1. */
  readonly seq: number
}

export interface TekState {
  readonly spi: number
  readonly transform: EspTransformConfig
  /** TEK_ALGORITHM_KEY (GCM: key ‖ 4-byte salt). */
  readonly encKey: KeyBytes
  /** TEK_INTEGRITY_KEY; null for GCM. */
  readonly authKey: KeyBytes | null
  readonly createdMs: number
  readonly expiresMs: number
}

export interface MemberState {
  /** Where the member registered from (unicast pushes go here). */
  readonly address: string
  readonly port: number
  /** Its phase-1 identity, as text (`ipv4 10.0.1.2`, `fqdn gm1.example`). */
  readonly identity: string
  readonly registeredAtMs: number
  /** Consecutive pushes without an acknowledgement (only counted when ACKs are requested). */
  readonly missedPushes: number
  /** SEQ of the last push it acknowledged, or null. */
  readonly lastAckSeq: number | null
  /** Sender IDs granted in its last PULL4 (counter-mode TEKs only). */
  readonly senderIds: readonly number[]
}

export interface SigningKeyRef {
  readonly label: string
  /** PEM file holding the private key (0600). The key itself is never in the state. */
  readonly path: string
  readonly bits: number
  /** SHA-256 of the DER SubjectPublicKeyInfo, hex. */
  readonly spkiSha256: string
}

/** One member's new value (null: removed) for an incremental write (KsStore.saveMembers). */
export interface MemberChange {
  readonly group: string
  /** `address:port` (groups.ts memberKey). */
  readonly key: string
  readonly member: MemberState | null
  /** The group's senderIdNext after the change (sender IDs granted with a registration are durable with it). */
  readonly senderIdNext: number
}

export interface KsStore {
  /** The saved state, or undefined on first start. Throws StoreError ERR_STATE_CORRUPT /
   *  ERR_STATE_VERSION rather than ever returning a partial state. */
  load(): Promise<KsState | undefined>
  /** Replaces the saved state atomically (all or nothing, durable when the promise resolves).
   *  Saves are applied in call order. */
  save(state: KsState): Promise<void>
  /** Optional incremental write of member records (a registration storm must not rewrite every member
   *  per registration): durable when the promise resolves, applied in call order with save(); a later
   *  load() returns the last save()d state with these changes applied. */
  saveMembers?(changes: readonly MemberChange[]): Promise<void>
  /** With saveMembers: true when the incremental records have grown enough that the next write should
   *  be a full save() (which starts them over). */
  readonly membersJournalFull?: () => boolean
  /** Waits for pending saves and releases the store (file lock). */
  close(): Promise<void>
}

export type StoreErrorCode =
  | 'ERR_STATE_CORRUPT'
  | 'ERR_STATE_VERSION'
  | 'ERR_STATE_IO'
  | 'ERR_STATE_LOCKED'
  | 'ERR_STATE_CLOSED'
  /** Shared store: this instance is not (or no longer) the primary; nothing was written. */
  | 'ERR_STATE_FENCED'
  /** Shared store: etcd did not answer; nothing is known to be written. */
  | 'ERR_STATE_UNAVAILABLE'
  /** Shared store: the key-encryption key does not open what the cluster stored. */
  | 'ERR_STATE_KEY'
  /** Shared store: etcd refuses this key server's user/password, or its user lacks permission. */
  | 'ERR_STATE_AUTH'
  /** Shared store: the TLS connection to etcd fails (CA, client certificate). */
  | 'ERR_STATE_TLS'

export class StoreError extends Error {
  override name = 'StoreError'
  readonly code: StoreErrorCode
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

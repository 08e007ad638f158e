// A key server for the GM tests, built directly from @gdoi/wire's sans-I/O pieces (Main Mode
// responder, GROUPKEY-PULL key server, buildPush, verifyAck) over a daemon-kit transport. Not the
// ks-daemon: just enough KS to drive a real member through registration, rekeys, KEK rollover and
// ACKs, and to forge the bad pushes a member must drop.
import { createHash, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { decodeHeader, ExchangeType, idIpv4 } from '@gdoi/wire'
import {
  buildPush,
  createResponder,
  HashMemory,
  initPullKeyServer,
  stepPullKeyServer,
  stepResponder,
  verifyAck,
  type AckVerdict,
  type BuildPushInput,
  type ExchangeCtx,
  type GapPolicy,
  type GroupKeys,
  type GroupPolicy,
  type KekKeys,
  type KekPolicy,
  type MainModeResponder,
  type Phase1Proposal,
  type PullKeyServer,
  type PullRegistration,
  type PushDelete,
  type TekKeys,
  type RsaCredentials,
  type TekPolicy,
  type VerifyPeerCert,
} from '@gdoi/wire/exchange/index'
import { splitKekKey } from '@gdoi/wire/crypto/index'
import type { Endpoint, Transport } from '@gdoi/daemon-kit'

export const PSK_TEXT = 'gdoi-test-psk-DO-NOT-LOG'
export const LAB_PROPOSAL: Phase1Proposal = { encryption: 'aes256', hash: 'sha1', auth: 'psk', group: 2, lifetimeSec: 86400 }

/** One signing key per process (RSA generation is slow). */
let signer: { priv: KeyObject; spki: Uint8Array } | undefined
export function signingKey(): { priv: KeyObject; spki: Uint8Array } {
  signer ??= (() => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    return { priv: privateKey, spki: new Uint8Array(createPublicKey(privateKey).export({ type: 'spki', format: 'der' })) }
  })()
  return signer
}

let forger: KeyObject | undefined
export function forgingKey(): KeyObject {
  forger ??= generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
  return forger
}

export const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** Deterministic bytes from a label. */
export function bytesOf(label: string, n: number): Uint8Array {
  const out = new Uint8Array(n)
  for (let i = 0, c = 0; i < n; c++) {
    const d = createHash('sha256').update(`${label}/${c}`).digest()
    out.set(d.subarray(0, Math.min(32, n - i)), i)
    i += 32
  }
  return out
}

export function tekPolicy(spi: number, opts: { lifetimeSec?: number; src?: string; dst?: string } = {}): TekPolicy {
  const [sa, sl] = (opts.src ?? '10.1.0.0/16').split('/')
  const [da, dl] = (opts.dst ?? '10.2.0.0/16').split('/')
  return {
    spi,
    selector: {
      protocol: 0,
      src: { address: { kind: 'prefix', address: sa ?? '', prefixLength: Number(sl) }, port: 0 },
      dst: { address: { kind: 'prefix', address: da ?? '', prefixLength: Number(dl) }, port: 0 },
    },
    transform: { cipher: 'aes-cbc', keyBits: 256, integrity: 'sha1' },
    lifetimeSec: opts.lifetimeSec ?? 3600,
    encapsulation: 'tunnel',
  }
}

export function tekKeys(spi: number): TekKeys {
  return { spi, encKey: bytesOf(`tek-enc-${spi}`, 32), authKey: bytesOf(`tek-auth-${spi}`, 20) }
}

export interface KekState {
  readonly policy: KekPolicy
  readonly keys: KekKeys
  seq: number
}

export function newKek(label: string, ksAddress: string, opts: { lifetimeSec?: number; ackRequested?: number; dst?: string } = {}): KekState {
  const spi = bytesOf(`kek-spi-${label}`, 16)
  return {
    policy: {
      spi,
      algorithm: 'aes',
      keyBits: 128,
      lifetimeSec: opts.lifetimeSec ?? 86400,
      sigHash: 'sha256',
      sigAlgorithm: 'rsa',
      sigKeyBits: 2048,
      transport: { protocol: 17, src: { address: ksAddress, port: 848 }, dst: { address: opts.dst ?? '0.0.0.0', port: 848 } },
      ...(opts.ackRequested !== undefined ? { ackRequested: opts.ackRequested } : { ackRequested: 1 }),
    },
    keys: { spi, algorithmKey: bytesOf(`kek-key-${label}`, 32), signingPublicKey: signingKey().spki },
    seq: 0,
  }
}

export interface TestKsOptions {
  readonly address: string
  readonly groupNumber?: number
  /** No KEK at all (the KS has no rekey key: re-registration only). */
  readonly noKek?: boolean
  readonly kek?: { lifetimeSec?: number; ackRequested?: number; dst?: string }
  readonly teks?: readonly TekPolicy[]
  readonly gap?: GapPolicy
  readonly proposals?: readonly Phase1Proposal[]
  /** SAK/SAT ID Data Length width in PULL2 and pushes (2 = the Wireshark/DigiCert form). */
  readonly idLengthWidth?: 1 | 2
  /** Push signature form ('bare' = the gdoid reference implementation). */
  readonly sigForm?: 'rfc' | 'bare'
  /** Certificate authentication (proposals must then use auth 'rsa'). */
  readonly rsa?: { readonly credentials: RsaCredentials; readonly verifyPeerCert: VerifyPeerCert }
}

export interface ReceivedAck {
  readonly verdict: AckVerdict
  readonly from: Endpoint
}

export class TestKeyServer {
  readonly transport: Transport
  readonly address: string
  readonly ctx: ExchangeCtx
  readonly mm = new Map<string, MainModeResponder>()
  readonly pulls = new Map<string, PullKeyServer>()
  readonly replay = new HashMemory()
  readonly ackMemory = new HashMemory()
  readonly registrations: { reg: PullRegistration; from: Endpoint }[] = []
  readonly acks: ReceivedAck[] = []
  /** Every datagram received, with its exchange type. */
  readonly received: { exchange: number; from: Endpoint; bytes: Uint8Array }[] = []
  /** Drop everything (a dead KS). */
  silent = false
  kek: KekState | undefined
  /** KEKs that pushes were sent under, newest last (ACK verification needs old ones too). */
  readonly kekHistory: KekState[] = []
  teks: TekPolicy[]
  gap: GapPolicy | undefined
  readonly groupNumber: number
  readonly #proposals: readonly Phase1Proposal[]
  readonly #o: TestKsOptions
  #kekCounter = 0

  constructor(transport: Transport, o: TestKsOptions, nowMs: () => number = () => 0) {
    this.transport = transport
    this.address = o.address
    this.groupNumber = o.groupNumber ?? 1234
    let c = 0
    this.ctx = { rng: (n) => bytesOf(`ks-${o.address}-${c++}`, n), nowMs }
    this.kek = o.noKek === true ? undefined : newKek(`${o.address}-0`, o.address, o.kek)
    if (this.kek !== undefined) this.kekHistory.push(this.kek)
    this.teks = [...(o.teks ?? [tekPolicy(0x1001)])]
    this.gap = o.gap
    this.#proposals = o.proposals ?? [LAB_PROPOSAL]
    this.#o = o
    transport.onDatagram((bytes, from) => this.#receive(bytes, from))
  }

  get policy(): GroupPolicy {
    return { ...(this.kek !== undefined ? { kek: this.kek.policy } : {}), ...(this.gap !== undefined ? { gap: this.gap } : {}), teks: this.teks }
  }

  get keys(): GroupKeys {
    return { ...(this.kek !== undefined ? { kek: this.kek.keys } : {}), teks: [...new Set(this.teks.map((t) => t.spi))].map(tekKeys) }
  }

  /** Forget every phase-1 SA (a KS restart). */
  forgetSessions(): void {
    this.mm.clear()
    this.pulls.clear()
  }

  #receive(bytes: Uint8Array, from: Endpoint): void {
    let h
    try {
      h = decodeHeader(bytes)
    } catch {
      return
    }
    this.received.push({ exchange: h.exchange, from, bytes: bytes.slice() })
    if (this.silent) return
    const cky = toHex(h.icookie)
    switch (h.exchange) {
      case ExchangeType.IDENTITY_PROTECTION: {
        const rsa = this.#o.rsa
        const st =
          this.mm.get(cky) ??
          createResponder(
            {
              proposals: this.#proposals,
              pskFor: () => new TextEncoder().encode(PSK_TEXT),
              localId: idIpv4(this.address),
              ...(rsa !== undefined ? { rsa: rsa.credentials, verifyPeerCert: rsa.verifyPeerCert } : {}),
            },
            from.address,
          )
        const [next, actions] = stepResponder(st, { type: 'datagram', bytes }, this.ctx)
        this.mm.set(cky, next)
        this.#send(actions, from)
        return
      }
      case ExchangeType.GROUPKEY_PULL: {
        const mm = this.mm.get(cky)
        if (mm?.s !== 'done') return
        const key = `${cky}/${h.messageId}`
        const st =
          this.pulls.get(key) ??
          initPullKeyServer({
            sa: mm.sa,
            replay: this.replay,
            ...(this.#o.idLengthWidth !== undefined ? { idLengthWidth: this.#o.idLengthWidth } : {}),
            groups: {
              lookup: (id) =>
                toHex(id.data) === this.groupNumber.toString(16).padStart(8, '0')
                  ? { ok: true, policyNow: this.policy, keysNow: this.keys, seq: this.kek?.seq ?? 0 }
                  : { ok: false, error: 'unknown-group' },
            },
          })
        const [next, actions] = stepPullKeyServer(st, { type: 'datagram', bytes }, this.ctx)
        this.pulls.set(key, next)
        for (const a of actions) if (a.type === 'registered') this.registrations.push({ reg: a.registration, from })
        this.#send(actions, from)
        return
      }
      case ExchangeType.GROUPKEY_PUSH_ACK: {
        const verdict = verifyAck(
          bytes,
          (spi) => {
            const k = this.kekHistory.find((x) => toHex(x.policy.spi) === toHex(spi))
            if (k === undefined) return undefined
            return { ...(k.policy.ackRequested !== undefined ? { ackRequested: k.policy.ackRequested } : {}), baseKey: splitKekKey('aes-128-cbc', k.keys.algorithmKey).key }
          },
          { memory: this.ackMemory, nowMs: this.ctx.nowMs() },
        )
        this.acks.push({ verdict, from })
        return
      }
      default:
        return
    }
  }

  #send(actions: readonly { readonly type: string }[], to: Endpoint): void {
    for (const a of actions) if (a.type === 'send' && 'bytes' in a && a.bytes instanceof Uint8Array) this.transport.send(a.bytes, to)
  }

  // ---- pushes -----------------------------------------------------------------------------------

  #current(): KekState {
    if (this.kek === undefined) throw new Error('this KS has no KEK')
    return this.kek
  }

  /** A push under the current KEK (or `under`), signed with the KS key unless `signWith` forges it. */
  buildPush(input: Omit<BuildPushInput, 'kek' | 'seq' | 'signingKey' | 'sigHash'> & { seq?: number; under?: KekState; signWith?: KeyObject }): Uint8Array {
    const k = input.under ?? this.#current()
    const seq = input.seq ?? ++k.seq
    const { under: _u, signWith, seq: _s, ...rest } = input
    return buildPush({
      ...rest,
      kek: { spi: k.policy.spi, cipher: 'aes-128-cbc', algorithmKey: k.keys.algorithmKey },
      seq,
      signingKey: signWith ?? signingKey().priv,
      sigHash: k.policy.sigHash,
      ...(this.#o.sigForm !== undefined ? { sigForm: this.#o.sigForm } : {}),
      ...(this.#o.idLengthWidth !== undefined ? { idLengthWidth: this.#o.idLengthWidth } : {}),
    })
  }

  /** TEK rollover: a new TEK (same selectors) joins the policy; the push carries only the new SAT. */
  tekRollover(spi: number, opts: { lifetimeSec?: number; gap?: GapPolicy; deleteOld?: number[] } = {}): Uint8Array {
    const t = tekPolicy(spi, { ...(opts.lifetimeSec !== undefined ? { lifetimeSec: opts.lifetimeSec } : {}) })
    this.teks = [...this.teks.filter((x) => !(opts.deleteOld ?? []).includes(x.spi)), t]
    const gap = opts.gap ?? this.gap
    return this.buildPush({
      policy: { ...(gap !== undefined ? { gap } : {}), teks: [t] },
      keys: { teks: [tekKeys(spi)] },
      ...(opts.deleteOld !== undefined ? { deletes: [{ kind: 'tek', spis: opts.deleteOld }] satisfies PushDelete[] } : {}),
    })
  }

  /** KEK rollover: new SAK + KEK keys (and the current TEKs, RFC 6407 §5.6.1) encrypted under the old KEK. */
  kekRollover(opts: { lifetimeSec?: number; ackRequested?: number; dst?: string } = {}): Uint8Array {
    const old = this.#current()
    const next = newKek(`${this.address}-${++this.#kekCounter}`, this.address, opts)
    const bytes = this.buildPush({
      policy: { kek: next.policy, teks: this.teks },
      keys: { kek: next.keys, teks: this.keys.teks },
      under: old,
    })
    this.kek = next
    this.kekHistory.push(next)
    return bytes
  }

  sendTo(bytes: Uint8Array, to: Endpoint): void {
    this.transport.send(bytes, to)
  }
}

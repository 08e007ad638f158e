// End to end in memory, the way the daemons will drive the state machines: Main Mode (PSK, AES-256,
// SHA-1, MODP-1536 — the lab policy) → GROUPKEY-PULL → GROUPKEY-PUSH → RFC 8263 ACK, for two GMs.
// The "daemons" below route datagrams by exchange type and (cookies, M-ID), as STYLE.md describes.
import t from 'tap'
import { createPrivateKey, createPublicKey } from 'node:crypto'
import { ExchangeType } from '../../src/constants.js'
import { decodeHeader } from '../../src/header.js'
import {
  buildAck,
  buildPush,
  createInitiator,
  createResponder,
  EMPTY_PUSH_MEMBER_STATE,
  HashMemory,
  initPullKeyServer,
  initPullMember,
  installKekFromPull,
  processPush,
  stepInitiator,
  stepPullKeyServer,
  stepPullMember,
  stepResponder,
  verifyAck,
  type ExchangeCtx,
  type GroupKeys,
  type GroupPolicy,
  type MainModeInitiator,
  type MainModeResponder,
  type Phase1Proposal,
  type Phase1Sa,
  type PullKeyServer,
  type PullMember,
  type PullRegistration,
  type PullResult,
  type PushMemberState,
  type SenderIds,
} from '../../src/exchange/index.js'
import { splitKekKey } from '../../src/crypto/push.js'
import { idIpv4, sent, testCtx, toHex } from './exchange-helpers.js'
import { KS_SIGNING_KEY_PEM } from './test-keys.js'

const PSK = new TextEncoder().encode('MYISAKMPKEY')
const lab: Phase1Proposal = { encryption: 'aes256', hash: 'sha1', auth: 'psk', group: 5, lifetimeSec: 86400 }
const KS_ADDRESS = '192.0.2.1'
const signingKey = createPrivateKey(KS_SIGNING_KEY_PEM)
const kekSpi = Uint8Array.from({ length: 16 }, (_, i) => 0x30 + i)
const kekKey = { spi: kekSpi, algorithmKey: Uint8Array.from({ length: 48 }, (_, i) => i), signingPublicKey: new Uint8Array(createPublicKey(signingKey).export({ type: 'spki', format: 'der' })) }

const tek = (spi: number) => ({
  spi,
  selector: { protocol: 0, src: { address: { kind: 'prefix' as const, address: '10.0.0.0', prefixLength: 8 }, port: 0 }, dst: { address: { kind: 'prefix' as const, address: '10.0.0.0', prefixLength: 8 }, port: 0 } },
  transform: { cipher: 'aes-gcm-16' as const, keyBits: 256 },
  lifetimeSec: 3600,
  encapsulation: 'tunnel' as const,
})
const tekKey = (spi: number) => ({ spi, encKey: new Uint8Array(36).fill(spi & 0xff) })

/** The KS "daemon": Main Mode responders by ICOOKIE, PULL sessions by (ICOOKIE, M-ID), one group. */
class KeyServer {
  readonly ctx: ExchangeCtx = testCtx([], 'ks')
  readonly mm = new Map<string, MainModeResponder>()
  readonly pulls = new Map<string, PullKeyServer>()
  readonly replay = new HashMemory()
  readonly ackMemory = new HashMemory()
  readonly members: PullRegistration[] = []
  readonly acks: { seq: number; member: string }[] = []
  policy: GroupPolicy = { kek: { spi: kekSpi, algorithm: 'aes', keyBits: 256, lifetimeSec: 86400, sigHash: 'sha256', sigAlgorithm: 'rsa', sigKeyBits: 2048, transport: { protocol: 17, src: { address: KS_ADDRESS, port: 848 }, dst: { address: '239.192.0.1', port: 848 } }, ackRequested: 1 }, teks: [tek(0x1001)] }
  keys: GroupKeys = { kek: kekKey, teks: [tekKey(0x1001)] }
  seq = 0
  sidCounter = 0

  receive(bytes: Uint8Array, from: string): Uint8Array[] {
    const h = decodeHeader(bytes)
    const cky = toHex(h.icookie)
    switch (h.exchange) {
      case ExchangeType.IDENTITY_PROTECTION: {
        const st = this.mm.get(cky) ?? createResponder({ proposals: [lab], pskFor: () => PSK, localId: idIpv4(KS_ADDRESS) }, from)
        const [next, actions] = stepResponder(st, { type: 'datagram', bytes }, this.ctx)
        this.mm.set(cky, next)
        return sent(actions)
      }
      case ExchangeType.GROUPKEY_PULL: {
        const mm = this.mm.get(cky)
        if (mm?.s !== 'done') return []
        const key = `${cky}/${h.messageId}`
        const st = this.pulls.get(key) ?? initPullKeyServer({
          sa: mm.sa,
          replay: this.replay,
          groups: {
            lookup: (id) => (toHex(id.data) === '000004d2' ? { ok: true, policyNow: this.policy, keysNow: this.keys, seq: this.seq } : { ok: false, error: 'unknown-group' }),
            allocateSids: (_p, count): SenderIds => ({ bits: 16, values: Array.from({ length: count }, () => ++this.sidCounter) }),
          },
        })
        const [next, actions] = stepPullKeyServer(st, { type: 'datagram', bytes }, this.ctx)
        this.pulls.set(key, next)
        for (const a of actions) if (a.type === 'registered') this.members.push(a.registration)
        return sent(actions)
      }
      case ExchangeType.GROUPKEY_PUSH_ACK: {
        const v = verifyAck(
          bytes,
          (spi) => (toHex(spi) === toHex(kekSpi) ? { ackRequested: 1, baseKey: splitKekKey('aes-256-cbc', kekKey.algorithmKey).key } : undefined),
          { memory: this.ackMemory, nowMs: this.ctx.nowMs() },
        )
        if (v.ok && v.memberAddress === from) this.acks.push({ seq: v.seq, member: from })
        return []
      }
      default:
        return []
    }
  }

  /** TEK rollover: new TEK 0x1002 next to 0x1001, pushed under the current KEK. */
  rekey(): Uint8Array {
    this.policy = { ...this.policy, teks: [tek(0x1001), tek(0x1002)] }
    this.keys = { ...this.keys, teks: [tekKey(0x1001), tekKey(0x1002)] }
    this.seq += 1
    return buildPush({
      kek: { spi: kekSpi, cipher: 'aes-256-cbc', algorithmKey: kekKey.algorithmKey },
      seq: this.seq,
      policy: { teks: [tek(0x1002)] },
      keys: { teks: [tekKey(0x1002)] },
      signingKey,
      sigHash: 'sha256',
    })
  }
}

/** The GM "daemon": Main Mode, then PULL, then pushes. */
class Member {
  readonly ctx: ExchangeCtx
  mm: MainModeInitiator
  pull?: PullMember
  result?: PullResult
  push: PushMemberState = EMPTY_PUSH_MEMBER_STATE
  readonly address: string
  constructor(address: string, seed = address) {
    this.address = address
    this.ctx = testCtx([], `gm-${seed}`)
    this.mm = createInitiator({ proposals: [lab], psk: PSK, localId: idIpv4(address) })
  }

  start(): Uint8Array[] {
    const [st, actions] = stepInitiator(this.mm, { type: 'start' }, this.ctx)
    this.mm = st
    return sent(actions)
  }

  receive(bytes: Uint8Array): Uint8Array[] {
    const h = decodeHeader(bytes)
    if (h.exchange === ExchangeType.IDENTITY_PROTECTION) {
      const [st, actions] = stepInitiator(this.mm, { type: 'datagram', bytes }, this.ctx)
      this.mm = st
      if (st.s === 'done' && this.pull === undefined) return [...sent(actions), ...this.startPull(st.sa)]
      return sent(actions)
    }
    if (h.exchange === ExchangeType.GROUPKEY_PULL || h.exchange === ExchangeType.INFORMATIONAL) {
      if (this.pull === undefined) return []
      const [st, actions] = stepPullMember(this.pull, { type: 'datagram', bytes }, this.ctx)
      this.pull = st
      for (const a of actions) {
        if (a.type === 'pull-done') {
          this.result = a.result
          this.push = installKekFromPull(this.push, a.result)
        }
      }
      return sent(actions)
    }
    if (h.exchange === ExchangeType.GROUPKEY_PUSH) {
      const r = processPush(this.push, bytes)
      this.push = r.state
      if (!('accepted' in r) || r.accepted.ack === undefined) return []
      return [buildAck({ kekSpi: r.accepted.kekSpi, ackRequested: r.accepted.ack.ackRequested, baseKey: r.accepted.ack.baseKey, seq: r.accepted.seq, member: this.address })]
    }
    return []
  }

  startPull(sa: Phase1Sa): Uint8Array[] {
    const [st, actions] = stepPullMember(initPullMember({ sa, groupId: { kind: 'number', value: 1234 } }), { type: 'start' }, this.ctx)
    this.pull = st
    return sent(actions)
  }
}

/** Ping-pong between one GM and the KS until both are quiet. */
function converse(ks: KeyServer, gm: Member, first: Uint8Array[]): number {
  let toKs = first
  let n = 0
  for (let round = 0; round < 20 && toKs.length > 0; round++) {
    const toGm = toKs.flatMap((b) => ks.receive(b, gm.address))
    toKs = toGm.flatMap((b) => gm.receive(b))
    n += toGm.length
  }
  return n
}

t.test('two GMs: Main Mode → PULL (GCM: one SID each) → push → ACKs', (t) => {
  const ks = new KeyServer()
  const gms = [new Member('192.0.2.10'), new Member('192.0.2.11')]
  for (const gm of gms) {
    converse(ks, gm, gm.start()) // MM1..MM6, PULL1..PULL4
    t.equal(gm.mm.s, 'done', `${gm.address}: phase 1 up`)
    t.equal(gm.pull?.s, 'done', `${gm.address}: registered`)
    t.equal(gm.result?.seq, 0)
    t.same(gm.push.keks.map((k) => toHex(k.spi)), [toHex(kekSpi)], `${gm.address}: KEK installed`)
  }
  t.same(
    ks.members.map((m) => [toHex(m.peerId.data), m.sids?.values]),
    [
      ['c000020a', [1]],
      ['c000020b', [2]],
    ],
    'each registration recorded once, with its own sender ID',
  )
  t.same(
    gms.map((g) => g.result?.keys.sids?.values),
    [[1], [2]],
  )

  // PUSH SEQ 1 (TEK rollover) to the group <--   ACKs -->
  const pushBytes = ks.rekey()
  for (const gm of gms) {
    const replies = gm.receive(pushBytes)
    t.equal(replies.length, 1, `${gm.address}: one ACK`)
    for (const r of replies) ks.receive(r, gm.address)
    t.equal(gm.push.keks[0]?.lastSeq, 1)
    t.same(gm.receive(pushBytes), [], `${gm.address}: retransmitted push dropped, no second ACK`)
  }
  t.same(ks.acks, [
    { seq: 1, member: '192.0.2.10' },
    { seq: 1, member: '192.0.2.11' },
  ])

  // a GM that re-registers after the push gets PULL4 SEQ 1 and the current TEKs
  const again = new Member('192.0.2.10', 'later')
  converse(ks, again, again.start())
  t.equal(again.result?.seq, 1)
  t.same(again.result?.policy.teks.map((x) => x.spi), [0x1001, 0x1002])
  t.same(again.result?.keys.sids?.values, [3], 'fresh SID on every PULL')
  t.end()
})

// The compact forms the key server keeps per member: packed idle SAs (packed-sa.ts), finished PULL
// answers (answer-cache.ts) and the deadline heap (deadline-queue.ts).
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { createFakeClock } from '@gdoi/daemon-kit'
import { idIpv4 } from '@gdoi/wire'
import type { Phase1Sa } from '@gdoi/wire/exchange/index'
import { SaProfiles, packSa, packedExpireAtMs, unpackSa } from '../src/packed-sa.js'
import { AnswerCache } from '../src/answer-cache.js'
import { DeadlineQueue } from '../src/deadline-queue.js'

const bytes = (n: number): Uint8Array => new Uint8Array(randomBytes(n))

function sa(extra: Partial<Phase1Sa> = {}): Phase1Sa {
  return {
    role: 'responder',
    icookie: bytes(8),
    rcookie: bytes(8),
    hash: 'sha1',
    cipher: { name: 'aes-256-cbc', keyBytes: 32, blockBytes: 16 },
    skeyid: bytes(20),
    skeyidD: bytes(20),
    skeyidA: bytes(20),
    skeyidE: bytes(20),
    encKey: bytes(32),
    lastBlock: bytes(16),
    localId: idIpv4('127.0.1.1'),
    peerId: idIpv4('127.0.1.11'),
    lifetimeSec: 86400,
    establishedAtMs: 1_700_000_000_123,
    ...extra,
  } as Phase1Sa
}

t.test('a packed SA unpacks to what the exchanges read; SKEYID and SKEYID_d are not kept', (t) => {
  const profiles = new SaProfiles()
  for (const s of [sa(), sa({ peerPublicKey: bytes(294), hash: 'sha256', skeyidA: bytes(32), skeyidE: bytes(32) } as Partial<Phase1Sa>)]) {
    const peer = { address: '127.10.3.4', port: 50123 }
    const packed = packSa(profiles, { sa: s, peer, createdMs: 1_700_000_000_000, establishedMs: 1_700_000_000_100, expireAtMs: 1_700_086_400_100 })
    if (packed === undefined) throw new Error('not packed')
    t.ok(packed.length < 200 + (s.peerPublicKey?.length ?? 0), `compact (${packed.length} bytes)`)
    t.equal(packedExpireAtMs(packed), 1_700_086_400_100)
    const x = unpackSa(profiles, packed)
    t.same(x.peer, peer)
    t.equal(x.createdMs, 1_700_000_000_000)
    t.equal(x.establishedMs, 1_700_000_000_100)
    const { skeyid: _a, skeyidD: _b, ...want } = s
    const { skeyid, skeyidD, ...got } = x.sa
    t.same(got, want)
    t.equal(skeyid.length + skeyidD.length, 0)
  }
  t.end()
})

t.test('answers: a byte-identical repeat gets the response, other bytes nothing; expiry', (t) => {
  const c = new AnswerCache()
  const req = bytes(120)
  const res = bytes(700)
  c.add('k', 7, req, res, 1000)
  c.add('k', 8, bytes(100), bytes(10), 2000)
  const r = c.lookup('k', 7, req, 500)
  t.equal(r?.kind, 'repeat')
  t.same(r?.kind === 'repeat' ? r.response : undefined, res)
  t.same(c.lookup('k', 7, bytes(120), 500), { kind: 'other' })
  t.equal(c.lookup('k', 9, req, 500), undefined, 'unknown exchange')
  c.expire('k', 1000)
  t.equal(c.lookup('k', 7, req, 500), undefined, 'expired')
  t.equal(c.lookup('k', 8, bytes(1), 1500)?.kind, 'other', 'the later one stays')
  c.expire('k', 2000)
  t.notOk(c.has('k'))
  t.end()
})

t.test('deadline heap fires in time order, one timer, after growth and shrinking', (t) => {
  const clock = createFakeClock(0)
  const fired: string[] = []
  const q = new DeadlineQueue(clock, (key, sub, at) => fired.push(`${key}/${sub}@${at}`))
  const n = 1000
  for (let i = 0; i < n; i++) {
    const at = ((i * 7919) % n) + 1
    q.add(`k${i}`, i % 3 === 0 ? -1 : 0xfffffff0, at)
  }
  t.equal(q.size, n)
  clock.advance(n / 2)
  t.equal(fired.length, n / 2)
  q.compact((key) => Number(key.slice(1)) % 2 === 0)
  clock.advance(n)
  const times = fired.map((f) => Number(f.split('@')[1]))
  t.same(times, [...times].sort((a, b) => a - b), 'in time order')
  t.ok(fired.every((f) => /\/(-1|4294967280)@/.test(f)), 'subs kept exactly (M-IDs up to 2^32)')
  t.equal(q.size, 0)
  t.end()
})

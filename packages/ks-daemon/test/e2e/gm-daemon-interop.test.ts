// gdoi-ks with the real group member (@gdoi/gm-daemon startGroupMember, control plane only) on the
// memory network with a fake clock: three GMs register, two TEK rekeys and a KEK rollover are pushed
// and acknowledged (RFC 8263), and every GM ends with the key server's SPIs. Skipped when the
// gm-daemon package cannot be loaded.
import t from 'tap'
import { createLogger, createLogSink, LogEvent } from '@gdoi/daemon-kit'
import { memoryLab } from '../helpers/ks-fixture.js'

const GROUP = 'GETVPN-GRP'

const gmYaml = (address: string): string => `
group: { name: GETVPN-GRP, identity: { number: 1234 } }
keyServers: [127.0.1.1]
local: { address: ${address}, port: 848 }
tun: none
controlSocket: /tmp/gdoi-interop-unused.sock
log: { level: debug, format: json }
ike:
  policies:
    - { priority: 10, encryption: aes-256, hash: sha1, group: 5, authentication: pre-share }
  preSharedKeys:
    - { peer: 127.0.1.1, key: GETVPN-LAB-TEST-KEY }
`

let gmDaemon: typeof import('@gdoi/gm-daemon') | undefined
let gmConfig: typeof import('@gdoi/gm-daemon/config/load') | undefined
let why = ''
try {
  gmDaemon = await import('@gdoi/gm-daemon')
  gmConfig = await import('@gdoi/gm-daemon/config/load')
} catch (err) {
  why = `@gdoi/gm-daemon not loadable: ${String(err).slice(0, 200)}`
}

t.test('gdoi-ks ⇄ gm-daemon: registration, TEK rekeys, KEK rollover, ACKs', { skip: gmDaemon === undefined ? why : false }, async (t) => {
  if (gmDaemon === undefined || gmConfig === undefined) return
  const lab = await memoryLab({ ack: 'rfc8263', kekLifetimeSec: 600 })
  const sink = createLogSink()
  const log = createLogger({ level: 'debug', format: 'json', destination: sink.stream })
  const gms: Awaited<ReturnType<NonNullable<typeof gmDaemon>['startGroupMember']>>[] = []
  for (const a of ['127.0.1.11', '127.0.1.12', '127.0.1.13']) {
    const config = gmConfig.parseGmConfig(gmYaml(a), { path: '/tmp/gm.yaml' }).config
    gms.push(await gmDaemon.startGroupMember({ config, transport: lab.net.attach(a), clock: lab.clock, log, retransmit: { intervalMs: 1000, maxTries: 5 } }))
  }
  t.teardown(async () => {
    for (const g of gms) await g.close()
    await lab.close()
  })
  for (let i = 0; i < 100 && (lab.ks.status().groups[0]?.members.length ?? 0) < 3; i++) await lab.run(200)
  t.equal(lab.ks.status().groups[0]?.members.length, 3, 'three gm-daemons registered')
  t.ok(gms.every((g) => g.status().registration.status === 'Registered'))

  await lab.ks.rekey(GROUP, 'tek')
  await lab.run(1000)
  await lab.ks.rekey(GROUP, 'tek')
  await lab.run(1000)
  let st = lab.ks.status().groups[0]
  t.same(st?.members.map((m) => m.lastAckSeq), [2, 2, 2], 'every gm-daemon acknowledged SEQ 1 and 2')
  await lab.run(511_000) // KEK rollover at 600 − 90 s, before the GMs' re-registration (60 s + jitter)
  await lab.ks.rekey(GROUP, 'tek')
  await lab.run(1000)
  st = lab.ks.status().groups[0]
  t.equal(st?.seq, 1, 'new KEK, SEQ restarted')
  t.same(st?.members.map((m) => m.lastAckSeq), [1, 1, 1], 'every member acknowledged SEQ 1 under the new KEK')
  t.equal(st?.members.every((m) => m.missedPushes === 0), true, 'nobody missed a push')
  const ksSpis = (st?.teks ?? []).map((x) => parseInt(x.spi, 16)).sort()
  for (const g of gms) {
    const s = g.status()
    const held = [...new Set(s.ipsecSas.map((x) => x.spi))].sort()
    t.ok(ksSpis.every((spi) => held.includes(spi)), `${s.member.address} holds every live TEK (${held.length} SAs)`)
    t.equal(s.kek?.spi.toLowerCase().replace(/^0x/, ''), st?.kek?.spi.toLowerCase().replace(/^0x/, ''), `${s.member.address} uses the new KEK`)
    t.equal(s.registration.succeeded, 1, `${s.member.address} never re-registered`)
  }
  t.equal(lab.ks.status().counters['rekey.acks.rejected.bad-hash'], undefined, 'no ACK failed verification')
})

t.test('gdoi-ks ⇄ gm-daemon: a lost ACK — the KS retransmits, the GM acknowledges again, nobody is counted missing', { skip: gmDaemon === undefined ? why : false }, async (t) => {
  if (gmDaemon === undefined || gmConfig === undefined) return
  const lab = await memoryLab({ ack: 'rfc8263', retransmitPeriodSec: 10, retransmitCount: 2 })
  const sink = createLogSink()
  const log = createLogger({ level: 'debug', format: 'json', destination: sink.stream })
  const config = gmConfig.parseGmConfig(gmYaml('127.0.1.11'), { path: '/tmp/gm.yaml' }).config
  const gm = await gmDaemon.startGroupMember({ config, transport: lab.net.attach('127.0.1.11'), clock: lab.clock, log, retransmit: { intervalMs: 1000, maxTries: 5 } })
  t.teardown(async () => {
    await gm.close()
    await lab.close()
  })
  for (let i = 0; i < 100 && (lab.ks.status().groups[0]?.members.length ?? 0) < 1; i++) await lab.run(200)
  t.equal(lab.ks.status().groups[0]?.members.length, 1, 'registered')

  let lost = 0
  lab.net.setFilter((d) => {
    const ack = d.from.address === '127.0.1.11' && d.bytes[18] === 35
    if (ack && lost === 0) {
      lost++
      return false // the first ACK never reaches the key server
    }
    return true
  })
  await lab.ks.rekey(GROUP, 'tek')
  await lab.run(1000)
  t.equal(lost, 1, 'the GM acknowledged, the ACK was lost')
  t.equal(gm.status().rekeys.received, 1)
  t.same(lab.ks.status().pushesInProgress.map((p) => p.awaitingAck.length), [1], 'the KS still waits for the ACK')

  await lab.run(10_000) // one retransmission period
  t.equal(gm.status().rekeys.rejected.duplicate, 1, 'the retransmission is a duplicate for the GM')
  t.equal(gm.status().rekeys.acksResent, 1, 'and is acknowledged again')
  const st = lab.ks.status().groups[0]
  t.equal(st?.members[0]?.lastAckSeq, 1, 'the KS recorded the ACK of SEQ 1')
  t.equal(st?.members[0]?.missedPushes, 0)
  t.ok(lab.ks.status().pushesInProgress.every((p) => p.awaitingAck.length === 0), 'no push waits for an ACK any more')
  await lab.run(30_000)
  t.equal(lab.sink.lines().filter((l) => l['event'] === LogEvent.REKEY_ACK_MISSING).length, 0, 'no member counted missing')
  t.equal(lab.ks.status().groups[0]?.members.length, 1, 'still on the rekey list')
})

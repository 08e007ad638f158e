import t from 'tap'
import { inspect } from 'node:util'
import { generateKeyPairSync } from 'node:crypto'
import { createLogger, createLogSink, sanitize, isSecretField, isSecretFieldName, REDACTED } from '../src/log.js'
import { LogEvent, EVENT_FIELD, CISCO_EQUIVALENT } from '../src/log-events.js'
import { Secret, asKey, hex, isKeyMaterial, wipe } from '../src/secret.js'

const PSK = 'GETVPN-SUPER-SECRET-psk-4711'
const KEY_HEX = 'deadbeefcafebabe0011223344556677'
const keyBytes = (): Uint8Array => asKey(Uint8Array.from(Buffer.from(KEY_HEX, 'hex')))

function leaks(text: string): string[] {
  const found: string[] = []
  if (text.includes(PSK)) found.push('psk')
  if (text.includes(KEY_HEX)) found.push('key hex')
  if (text.includes(Buffer.from(KEY_HEX, 'hex').toString('base64'))) found.push('key base64')
  if (/222,\s*173,\s*190,\s*239/.test(text)) found.push('key as byte list')
  return found
}

t.test('lines are JSON with level, time, message and the event name', (t) => {
  const sink = createLogSink()
  const log = createLogger({ destination: sink.stream, level: 'debug', format: 'json', base: { daemon: 'gdoi-ks' } })
  log.info({ [EVENT_FIELD]: LogEvent.MEMBER_ADDED, group: 'GETVPN-GRP', peer: '127.0.1.11:848' }, 'member added')
  log.child({ c: 'pull' }).debug({ event: LogEvent.REGISTRATION_STARTED }, 'pull')
  log.trace('not at this level')
  const lines = sink.lines()
  t.equal(lines.length, 2)
  t.match(lines[0], { level: 30, msg: 'member added', event: 'gdoi.member.added', group: 'GETVPN-GRP', daemon: 'gdoi-ks' })
  t.match(lines[0]?.['time'], /^\d{4}-\d\d-\d\dT/)
  t.match(lines[1], { c: 'pull', event: 'gdoi.registration.started' })
  t.end()
})

t.test('a PSK or key never appears, however it is passed', (t) => {
  const sink = createLogSink()
  const log = createLogger({ destination: sink.stream, level: 'trace', format: 'json' })
  const secret = Secret.fromString(PSK)
  const kb = keyBytes()
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  // Every shape a careless log call could take:
  log.info({ psk: PSK }, 'top-level psk')
  log.info({ config: { psk: PSK } }, 'config.psk')
  log.info({ config: { ike: { preSharedKeys: [{ peer: 'any', key: secret }] } } }, 'deep Secret')
  log.info({ config: { ike: { preSharedKeys: [{ peer: 'any', key: PSK }] } } }, 'deep string key')
  log.info({ peerSecret: secret }, 'Secret under an innocent name')
  log.info({ value: secret }, 'Secret as a value')
  log.info({ kek: { spi: 'abcd', algorithmKey: kb } }, 'kek key bytes')
  log.info({ blob: kb }, 'marked key bytes under an innocent name')
  log.info({ list: [kb, { encKey: kb, authKey: Buffer.from(KEY_HEX, 'hex') }] }, 'in arrays')
  log.info({ sa: { skeyidA: Buffer.from(KEY_HEX, 'hex'), skeyidE: KEY_HEX, gxy: KEY_HEX } }, 'phase-1 keys')
  log.info({ m: new Map([['psk', PSK]]) }, 'map')
  log.info({ privateKey, signer: privateKey }, 'KeyObject')
  log.info({ holder: { toJSON: () => '[key]', secretField: KEY_HEX } }, 'keyHolder-style object')
  log.child({ psk: PSK, c: 'ike' }).info('child binding')
  log.child({ ctx: { key: kb } }).info('child binding nested')
  log.info(`interpolated Secret: ${String(secret)}`)
  log.info({ err: Object.assign(new Error('boom'), { code: 'E' }) }, 'errors still serialize')
  const text = sink.text()
  t.same(leaks(text), [], 'no secret in the output')
  const lines = sink.lines()
  t.equal(lines.length, 17)
  t.equal((lines[0] as { psk: unknown }).psk, REDACTED)
  t.match(lines[2], { config: { ike: { preSharedKeys: REDACTED } } })
  t.match(lines[5], { value: '[key]' })
  t.match(lines[7], { blob: '[key]' })
  t.match(lines[12], { holder: '[key]' })
  t.match(lines[15], { msg: 'interpolated Secret: [secret]' })
  t.match(lines[16], { err: { message: 'boom', code: 'E' } })
  t.end()
})

t.test('pretty output (pino-pretty) is just as clean', (t) => {
  const sink = createLogSink()
  const log = createLogger({ destination: sink.stream, format: 'pretty', isTty: false })
  log.info({ event: LogEvent.REKEY_SENT, seq: 3, psk: PSK, kek: { algorithmKey: keyBytes() } }, 'rekey sent')
  const text = sink.text()
  t.match(text, /rekey sent/)
  t.match(text, /gdoi\.rekey\.sent/)
  t.same(leaks(text), [])
  t.equal(sink.lines().length, 0, 'not JSON')
  t.end()
})

t.test('format auto follows the TTY', (t) => {
  const a = createLogSink()
  createLogger({ destination: a.stream, format: 'auto', isTty: false }).info('x')
  t.equal(a.lines().length, 1, 'JSON when not a TTY')
  const b = createLogSink()
  createLogger({ destination: b.stream, format: 'auto', isTty: true }).info('x')
  t.equal(b.lines().length, 0, 'pretty on a TTY')
  t.end()
})

t.test('sanitize: names, bytes, cycles, depth', (t) => {
  t.ok(isSecretFieldName('psk'))
  t.ok(isSecretFieldName('algorithmKey'))
  t.ok(isSecretFieldName('skeyidD'))
  t.ok(isSecretFieldName('preSharedKeys'))
  t.notOk(isSecretFieldName('keylog'))
  t.notOk(isSecretFieldName('keyFile'))
  t.notOk(isSecretFieldName('spi'))
  t.notOk(isSecretFieldName('keyServers'))
  for (const n of ['key', 'keys', 'privateKey', 'encKey', 'authKey', 'algorithmKey', 'skeyid', 'skeyidA', 'secret', 'password', 'KEK_ALGORITHM_KEY', 'tek-key', 'apikey', 'baseKey', 'dhPrivate', 'gxy']) {
    t.ok(isSecretFieldName(n), `${n}: secret-bearing`)
  }
  for (const n of ['atNextRekey', 'rekey', 'rekeys', 'lastRekey', 'nextRekeyAtMs', 'REKEY', 'rekeyAck', 'rekeysSent', 'keyBits', 'keyLengthBits', 'kekSpi']) {
    t.notOk(isSecretFieldName(n), `${n}: not a secret`)
  }
  t.notOk(isSecretField('tekKeys', 3), 'a count under a keys name')
  t.notOk(isSecretField('keys', 0))
  t.notOk(isSecretField('hasKey', true))
  t.ok(isSecretField('tekKeys', [1, 2]), 'but not an array of them')
  t.ok(isSecretField('encKey', 'deadbeef'))
  t.ok(isSecretField('psk', 1234), 'a numeric PSK is still a PSK')
  t.ok(isSecretField('password', false))
  const cyc: Record<string, unknown> = { a: 1 }
  cyc['self'] = cyc
  t.same(sanitize(cyc), { a: 1, self: '[circular]' })
  t.same(sanitize({ nonce: Uint8Array.from([1, 2, 3]), n: 10n }), { nonce: '[3 bytes]', n: '10' })
  let deep: unknown = 'bottom'
  for (let i = 0; i < 20; i++) deep = { d: deep }
  t.match(JSON.stringify(sanitize(deep)), /\[depth\]/)
  t.same(sanitize({ key: undefined, psk: null }), { key: undefined, psk: null }, 'absent secrets stay absent')
  t.end()
})

t.test('hex() formats plain bytes, caps long dumps, refuses key material', (t) => {
  t.equal(hex(Uint8Array.from([0, 1, 0xab])), '0001ab')
  t.equal(hex(new Uint8Array(300)), `${'00'.repeat(256)}…(+44 bytes)`)
  t.equal(hex(new Uint8Array(10), 4), '00000000…(+6 bytes)')
  const sub = Buffer.from('xxabcdxx').subarray(2, 6)
  t.equal(hex(sub), '61626364', 'respects byteOffset')
  t.throws(() => hex(keyBytes() as Uint8Array), TypeError)
  // @ts-expect-error KeyBytes are refused at compile time too
  t.throws(() => hex(asKey(new Uint8Array(1))), TypeError)
  t.throws(() => hex(Secret.fromString(PSK) as unknown as Uint8Array), TypeError)
  t.end()
})

t.test('Secret never prints and compares in constant time', (t) => {
  const s = Secret.fromString(PSK)
  t.equal(JSON.stringify({ s }), '{"s":"[secret]"}')
  t.equal(String(s), '[secret]')
  t.equal(inspect({ s }), '{ s: Secret([secret]) }')
  t.ok(s.equals(Secret.fromString(PSK)))
  t.notOk(s.equals(Secret.fromString(`${PSK}x`)))
  t.equal(Buffer.from(s.reveal()).toString(), PSK)
  t.ok(isKeyMaterial(s.reveal()))
  t.equal(s.byteLength, PSK.length)
  const k = keyBytes()
  wipe(k)
  t.ok(k.every((b) => b === 0))
  t.end()
})

t.test('event names are stable, unique and documented', (t) => {
  const names = Object.values(LogEvent)
  t.equal(new Set(names).size, names.length, 'unique')
  for (const n of names) t.match(n, /^gdoi\.[a-z0-9-]+(\.[a-z0-9-]+)*$/)
  for (const required of ['gdoi.registration.started', 'gdoi.registration.complete', 'gdoi.rekey.sent', 'gdoi.rekey.received', 'gdoi.rekey.ack', 'gdoi.reregister', 'gdoi.kek.installed', 'gdoi.tek.installed', 'gdoi.tek.expired', 'gdoi.member.added', 'gdoi.decode.error']) {
    t.ok(names.includes(required as (typeof names)[number]), required)
  }
  t.match(CISCO_EQUIVALENT[LogEvent.REGISTRATION_COMPLETE], /GM_REGS_COMPL/)
  t.end()
})

t.test('rekey words and counts reach the log; the secrets next to them do not', (t) => {
  const sink = createLogSink()
  const log = createLogger({ destination: sink.stream, level: 'debug', format: 'json' })
  const kb = keyBytes()
  log.info({ atNextRekey: '2026-01-01T00:00:00Z', rekey: 'tek', nextRekeyInSec: 90, tekKeys: 3, keys: 2, group: { kekKeys: 1, keys: 4 } }, 'schedule')
  log.info({ lastRekey: 5, rekeys: { sent: 2 }, teks: [{ spi: 1, encKey: kb, authKey: KEY_HEX, keyBits: 256 }], psk: 4711 }, 'mixed')
  log.child({ atNextRekey: 7, tekKeys: 2 }).info('child bindings')
  log.info({ m: new Map<string, unknown>([['tekKeys', 3], ['encKey', KEY_HEX]]) }, 'map')
  log.info({ keys: [KEY_HEX], key: KEY_HEX, holder: { key: Secret.fromString(PSK) } }, 'key-ish values')
  const [a, b, c, d, e] = sink.lines()
  t.match(a, { atNextRekey: '2026-01-01T00:00:00Z', rekey: 'tek', nextRekeyInSec: 90, tekKeys: 3, keys: 2, group: { kekKeys: 1, keys: 4 } })
  t.match(b, { lastRekey: 5, rekeys: { sent: 2 }, teks: [{ spi: 1, encKey: REDACTED, authKey: REDACTED, keyBits: 256 }], psk: REDACTED })
  t.match(c, { atNextRekey: 7, tekKeys: 2 })
  t.match(d, { m: { tekKeys: 3, encKey: REDACTED } })
  t.match(e, { keys: REDACTED, key: REDACTED, holder: { key: REDACTED } })
  t.same(leaks(sink.text()), [], 'no secret in the output')
  t.notOk(sink.text().includes('4711'), 'a numeric PSK is not a count')
  t.end()
})

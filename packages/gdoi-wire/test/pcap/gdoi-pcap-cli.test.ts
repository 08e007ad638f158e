// The gdoi-pcap command as a user runs it: main() in process for every path, and the real entry point
// spawned for the loopback capture. Exit status 0 / 1 / 2, text and JSON lines.
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { main, type CliIo } from '../../src/cli/gdoi-pcap-main.js'
import { writePcapUdp } from '../../src/pcap/write-pcap.js'
import { CAPTURES, ESP_KEYLOG, hex, TRACE_A, TRACE_A_KEYLOG, TRACE_B, udp } from './helpers.js'

const ENTRY = fileURLToPath(new URL('../../src/cli/gdoi-pcap.ts', import.meta.url))
const LOOPBACK = `${CAPTURES}/gdoi-gdoid-loopback.pcap`
const TABLE = `${CAPTURES}/gdoid.ikev1_decryption_table`
const ascii = (s: string): string => Buffer.from(s).toString('hex')

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

async function run(...argv: string[]): Promise<Run> {
  let stdout = ''
  let stderr = ''
  const io: CliIo = {
    readFile: (p) => new Uint8Array(readFileSync(p)),
    stdout: (s) => void (stdout += s),
    stderr: (s) => void (stderr += s),
  }
  const code = await main(argv, io)
  return { code, stdout, stderr }
}

type JsonRecord = Record<string, unknown> & { frame: number; payloads: Record<string, unknown>[]; checks: Record<string, string>; learned: Record<string, unknown>[]; errors: unknown[] }

function jsonLines(s: string): JsonRecord[] {
  return s.trimEnd().split('\n').map((l) => JSON.parse(l) as JsonRecord)
}

t.test('loopback capture with the Wireshark table (text): ten datagrams, 5–10 decrypted, TEKs listed', async (t) => {
  const r = await run('--keys', TABLE, LOOPBACK)
  t.equal(r.code, 0)
  t.equal(r.stderr, '')
  const heads = r.stdout.split('\n').filter((l) => l.startsWith('#'))
  t.equal(heads.length, 10, 'one block per datagram')
  t.same(heads.map((l) => l.includes('[decrypted]')), [false, false, false, false, true, true, true, true, true, true])
  t.match(heads[6], /^#7 {2}6\.186168 {2}127\.0\.0\.1:848 → 127\.0\.0\.2:848 {2}GROUPKEY-PULL\(32\) M-ID 0x483c11c0 flags E/)
  t.match(r.stdout, /ID KEY_ID 000004d2 \(1234\)/)
  t.match(r.stdout, /SAT ESP 0x1122aabb ESP_TRIPLE_DES/)
  t.match(r.stdout, `learned TEK 0x1122aabb ESP_TRIPLE_DES/HMAC_SHA1 enc ${ascii('ABCDEFGHIJKLMNOPQRSTUVWX')} auth ${ascii('12345678901234567890')}`)
  t.match(r.stdout, `learned TEK 0x3344ccdd ESP_TRIPLE_DES/HMAC_SHA1 enc ${ascii('FEDCBA11LKJIHG22RQPONM33')} auth ${ascii('01234567890123456789')}`)
  t.match(r.stdout, /10 datagrams, 6 of 6 encrypted decrypted, 0 with errors\n$/)
})

t.test('loopback capture with our keylog (JSON lines): required fields, hash checks ok', async (t) => {
  const dir = t.testdir({ 'a.keylog': TRACE_A_KEYLOG })
  const r = await run(LOOPBACK, '--keys', path.join(dir, 'a.keylog'), '--json')
  t.equal(r.code, 0)
  const recs = jsonLines(r.stdout)
  t.equal(recs.length, 10)
  for (const k of ['frame', 'src', 'dst', 'exchange', 'msgid', 'encrypted', 'decrypted', 'payloads', 'checks', 'errors']) {
    t.ok(recs.every((x) => k in x), `every record has ${k}`)
  }
  t.same(recs.map((x) => x.frame), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
  t.same(recs.map((x) => x.decrypted), [false, false, false, false, true, true, true, true, true, true])
  t.same(recs.slice(6).map((x) => x.checks.hash), ['ok', 'ok', 'ok', 'ok'])
  const pull1 = recs[6] as JsonRecord
  t.same([pull1.src, pull1.dst, pull1.exchange, pull1.msgid, pull1.msgidHex], ['127.0.0.1', '127.0.0.2', 32, 0x483c11c0, '0x483c11c0'])
  t.same(pull1.payloads.map((p) => p.name), ['HASH', 'NONCE', 'ID'])
  t.equal(pull1.payloads[0]?.data, 'cbcd9b402b21b9a9837189139d6bb0f73b3272e3', 'bytes as hex')
  const teks = (recs[9] as JsonRecord).learned
  t.same(teks.map((l) => [l.kind, l.spiHex, l.encKey, l.authKey]), [
    ['tek', '0x1122aabb', ascii('ABCDEFGHIJKLMNOPQRSTUVWX'), ascii('12345678901234567890')],
    ['tek', '0x3344ccdd', ascii('FEDCBA11LKJIHG22RQPONM33'), ascii('01234567890123456789')],
  ])
})

t.test('trace B with pushes (JSON): push decrypted, signature ok, SEQ ok', async (t) => {
  const dir = t.testdir({})
  const file = path.join(dir, 'b.pcap')
  const frames = [...TRACE_B.slice(0, 10), ...TRACE_B.slice(30)]
  writeFileSync(file, writePcapUdp(frames.map((f, i) => udp(f, 100 + i))))
  const r = await run('--json', '-k', TABLE, file)
  t.equal(r.code, 0)
  const pushes = jsonLines(r.stdout).filter((x) => x.exchange === 33)
  t.same(pushes.map((x) => [x.decrypted, x.checks.seq, x.checks.signature]), [[true, 'ok', 'ok'], [true, 'ok', 'ok']])
  t.same(pushes.map((x) => x.payloads.map((p) => p.name)), [['SEQ', 'SA', 'KD', 'SIG'], ['SEQ', 'SA', 'KD', 'SIG']])
})

t.test('ESP capture with ESP keys from our keylog (text): inner ICMP shown', async (t) => {
  const dir = t.testdir({ 'esp.keylog': ESP_KEYLOG })
  const r = await run(`${CAPTURES}/esp-tun-aes256-sha1.pcap`, '--keys', path.join(dir, 'esp.keylog'))
  t.equal(r.code, 0)
  t.match(r.stdout, /#1 {2}0\.000000 {2}192\.1\.2\.23 → 192\.1\.2\.45 {2}ESP SPI 0xd1234567 seq 1 {2}\[decrypted\] {2}\(icv ok\)\n {4}inner 192\.0\.2\.1 → 192\.0\.1\.1 ICMP echo-request \(type 8 code 0\), 84 bytes/)
})

t.test('no-key captures of other implementations decode with exit 0', async (t) => {
  for (const name of ['ikev1-cisco-mm-qm-nokeys.pcap', 'ikev1-natt-openswan-nokeys.pcap', 'strongswan-mm-aes256-sha1-modp1536.pcapng']) {
    const r = await run(`${CAPTURES}/${name}`)
    t.equal(r.code, 0, name)
    t.equal(r.stderr, '', name)
  }
  const cisco = jsonLines((await run('--json', `${CAPTURES}/ikev1-cisco-mm-qm-nokeys.pcap`)).stdout)
  t.same(cisco[2]?.payloads.map((p) => p.name), ['KE', 'NONCE', 'VID', 'VID', 'VID', 'VID', 'NAT-D-draft', 'NAT-D-draft'], 'Cisco payload 15 is NAT-D, not SA KEK')
  t.same(cisco.slice(6).map((x) => x.exchangeName), ['QUICK-MODE', 'QUICK-MODE', 'QUICK-MODE'])
  const ss = await run(`${CAPTURES}/strongswan-mm-aes256-sha1-modp1536.pcapng`, '--keys', `${CAPTURES}/strongswan-mm-aes256-sha1-modp1536.ikev1_decryption_table`)
  t.equal(ss.code, 0)
  t.equal(ss.stdout.split('\n').filter((l) => l.startsWith('#5 ') || l.startsWith('#6 ')).filter((l) => l.includes('[decrypted]')).length, 2, 'MM5 and MM6 decrypted')
})

t.test('exit 1 when datagrams have errors; they are listed', async (t) => {
  const dir = t.testdir({})
  const file = path.join(dir, 'bad.pcap')
  const mm1 = hex((TRACE_A[0] as (typeof TRACE_A)[number]).wire)
  const broken = new Uint8Array(mm1)
  broken[30] = 0xff
  writeFileSync(file, writePcapUdp([udp(TRACE_A[0] as (typeof TRACE_A)[number], 0), { ...udp(TRACE_A[0] as (typeof TRACE_A)[number], 1), payload: broken }]))
  const r = await run(file)
  t.equal(r.code, 1)
  t.match(r.stdout, /error ERR_BAD_LENGTH at isakmp byte 30: /)
  t.equal(r.stderr, 'gdoi-pcap: 1 datagram with errors (frame 2)\n')
  const j = await run('--json', file)
  t.equal(j.code, 1)
  t.same(jsonLines(j.stdout).map((x) => x.errors.length), [0, 1])
})

t.test('exit 2 for usage errors and unreadable files, with a one-line message', async (t) => {
  const dir = t.testdir({ 'junk.pcap': 'not a capture at all', 'bad.keylog': 'IKEV1 a91b9d5035d8fc4f zz ENC=x\n', 'bin.keylog': Buffer.from([0xff, 0xfe, 0x00]) })
  const cases: [string[], RegExp][] = [
    [[], /^gdoi-pcap: Not enough non-option arguments/],
    [['a.pcap', 'b.pcap'], /^gdoi-pcap: Unknown argument: b\.pcap/],
    [[LOOPBACK, '--frobnicate'], /^gdoi-pcap: Unknown argument: frobnicate/],
    [[LOOPBACK, '--keys'], /^gdoi-pcap: Not enough arguments following: keys/],
    [[path.join(dir, 'missing.pcap')], /^gdoi-pcap: .*missing\.pcap: cannot read: ENOENT/],
    [[path.join(dir, 'junk.pcap')], /^gdoi-pcap: .*junk\.pcap: ERR_CAPTURE_FORMAT at file byte 0: unknown magic/],
    [[LOOPBACK, '--keys', path.join(dir, 'nokeys')], /^gdoi-pcap: key file .*nokeys: ENOENT/],
    [[LOOPBACK, '--keys', path.join(dir, 'bad.keylog')], /^gdoi-pcap: key file .*bad\.keylog: line 1: rcookie: need 16 hex digits/],
    [[LOOPBACK, '--keys', path.join(dir, 'bin.keylog')], /^gdoi-pcap: key file .*bin\.keylog: not UTF-8 text/],
  ]
  for (const [argv, msg] of cases) {
    const r = await run(...argv)
    t.equal(r.code, 2, argv.join(' '))
    t.match(r.stderr, msg, argv.join(' '))
    t.equal(r.stderr.split('\n').length, 2, 'one line')
    t.equal(r.stdout, '')
  }
})

t.test('--help prints usage and exits 0', async (t) => {
  const r = await run('--help')
  t.equal(r.code, 0)
  t.match(r.stdout, /gdoi-pcap FILE \[--keys KEYFILE\]\.\.\. \[--json\]/)
  t.match(r.stdout, /--keys/)
})

t.test('the real entry point, spawned: loopback capture, exit statuses', (t) => {
  // Reuse the TypeScript loader tap runs this file with.
  const execArgv = process.execArgv.filter((a) => a.includes('@tapjs/typescript') || a.startsWith('--conditions'))
  const spawn = (...args: string[]): ReturnType<typeof spawnSync> =>
    spawnSync(process.execPath, [...execArgv, ENTRY, ...args], { encoding: 'utf8', env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' } })
  const ok = spawn('--keys', TABLE, LOOPBACK)
  t.equal(ok.status, 0, String(ok.stderr))
  t.equal(String(ok.stdout).split('\n').filter((l) => l.startsWith('#') && l.includes('[decrypted]')).length, 6)
  const usage = spawn('--nope', LOOPBACK)
  t.equal(usage.status, 2)
  t.match(String(usage.stderr), /^gdoi-pcap: Unknown argument: nope/)
  t.end()
})

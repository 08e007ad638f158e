import t from 'tap'
import { parseKsConfig, ConfigError } from '../../src/config/load.js'
import type { ConfigIssue } from '@gdoi/daemon-kit'

const LAB = `crypto isakmp policy 10
 encr aes 256
 hash sha
 authentication pre-share
 group 5
crypto isakmp key PASTED-PSK address 0.0.0.0 0.0.0.0
crypto ipsec transform-set TS esp-aes 256 esp-sha-hmac
crypto ipsec profile P
 set transform-set TS
 set security-association lifetime seconds 1800
ip access-list extended ACL
 permit ip 10.1.0.0 0.0.255.255 10.1.0.0 0.0.255.255
crypto gdoi group GRP
 identity number 1234
 server local
  rekey authentication mypubkey rsa RK
  rekey transport unicast
  sa ipsec 1
   profile P
   match address ipv4 ACL
  address ipv4 192.0.2.1
`

function parse(text: string) {
  return parseKsConfig(text, { format: 'ios', env: {}, baseDir: '/' })
}
function issues(text: string): readonly ConfigIssue[] {
  try {
    parse(text)
  } catch (err) {
    if (err instanceof ConfigError) return err.issues
    throw err
  }
  return []
}

t.test('a minimal KS config: values, IOS defaults, warning for a key without generate line', (t) => {
  const { config, warnings } = parse(LAB)
  const g = config.groups[0]
  t.same(config.listen, { address: '192.0.2.1', port: 848 })
  t.equal(g?.tekLifetimeSec, 1800)
  t.same(g?.kek, { algorithm: 'aes-256-cbc', lifetimeSec: 86400 })
  t.same(g?.rekey, {
    transport: 'unicast',
    multicastAddress: null,
    retransmitPeriodSec: 10,
    retransmitCount: 2,
    signingKey: { source: 'generate', bits: 2048, label: 'RK' },
    sigHash: 'sha1',
    ack: 'rfc8263',
  })
  t.same(warnings, [{ message: 'no "crypto key generate rsa … label RK" line: a 2048-bit key will be generated', line: 16 }])
  t.end()
})

t.test('multicast rekey (the IOS default) takes its group address from the rekey ACL', (t) => {
  const text = LAB.replace('  rekey transport unicast\n', '  rekey address ipv4 REKEY-ACL\n  rekey algorithm 3des\n  rekey lifetime seconds 7200\n  rekey retransmit 15 number 3\n  rekey sig-hash algorithm sha256\n') +
    'ip access-list extended REKEY-ACL\n permit udp host 192.0.2.1 eq 848 host 239.192.1.1 eq 848\n'
  const g = parse(text).config.groups[0]
  t.same(g?.kek, { algorithm: '3des', lifetimeSec: 7200 })
  t.match(g?.rekey, { transport: 'multicast', multicastAddress: '239.192.1.1', retransmitPeriodSec: 15, retransmitCount: 3, sigHash: 'sha256' })
  const noAddress = text.replace('  address ipv4 192.0.2.1\n', '').replace('host 192.0.2.1 eq 848', 'host 192.0.2.9 eq 848')
  t.same(parse(noAddress).config.listen, { address: '192.0.2.9', port: 848 }, 'without "address ipv4", the rekey ACL source is the KS address')
  t.same(issues(LAB.replace('  rekey transport unicast\n', '')), [
    { path: 'groups[0].rekey.multicastAddress', message: 'multicast rekey (the IOS default) needs "rekey address ipv4 ACL"; or add "rekey transport unicast"', line: 15 },
  ])
  t.same(issues(LAB.replace('  rekey transport unicast\n', '  rekey address ipv4 ACL\n')), [
    { path: 'groups[0].rekey.multicastAddress', message: 'access-list ACL: its permit line must have a multicast host destination (e.g. "permit udp host KS eq 848 host 239.192.1.1 eq 848")', line: 17 },
  ])
  t.end()
})

t.test('without rekey authentication the KS sends no KEK (rekey: null)', (t) => {
  const { config, warnings } = parse(LAB.replace('  rekey authentication mypubkey rsa RK\n', ''))
  t.equal(config.groups[0]?.rekey, null)
  t.match(warnings, [{ message: /no KEK is sent/, line: 15 }])
  t.end()
})

t.test('key generation line, authorization ACL, GCM transform, GM groups and other lines', (t) => {
  const text = `${LAB.replace('esp-aes 256 esp-sha-hmac', 'esp-gcm 256').replace('  address ipv4', '  authorization address ipv4 50\n  redundancy\n   local priority 10\n  address ipv4')}crypto key generate rsa general-keys label RK modulus 4096 exportable
access-list 50 permit 10.0.1.0 0.0.0.255
access-list 50 permit host 10.0.2.1
crypto gdoi group OTHER
 identity number 9
 server address ipv4 10.0.0.1
interface GigabitEthernet0/0
 ip address 192.0.2.1 255.255.255.0
 no shutdown
username admin privilege 15 password 0 ROUTER-PASSWORD
`
  const { config, warnings } = parse(text)
  const g = config.groups[0]
  t.same(g?.transform, { cipher: 'aes-gcm', keyBits: 256, integrity: null })
  t.same(g?.authorization, [{ address: '10.0.1.0', length: 24 }, { address: '10.0.2.1', length: 32 }])
  t.same(g?.rekey?.signingKey, { source: 'generate', bits: 4096, label: 'RK' })
  t.same(warnings.map((w) => w.message), [
    'COOP key server redundancy is not supported; ignored',
    'crypto gdoi group OTHER: a group-member group (server address); the key server ignores it',
    'ignored: "interface GigabitEthernet0/0" and the 2 lines under it',
    'ignored: "username admin privilege …"',
  ])
  t.notMatch(JSON.stringify(warnings), /ROUTER-PASSWORD|PASTED-PSK/)
  t.end()
})

// [name, text, expected issues]
const CASES: Array<[string, string, ConfigIssue[]]> = [
  ['undefined profile', LAB.replace('   profile P', '   profile NOPE'), [{ path: 'groups[0].transform', message: 'profile NOPE is not defined (crypto ipsec profile)', line: 19 }]],
  ['undefined transform set', LAB.replace(' set transform-set TS', ' set transform-set NOPE'), [{ path: 'groups[0].transform', message: 'profile P: transform set NOPE is not defined', line: 8 }]],
  ['undefined ACL', LAB.replace('match address ipv4 ACL', 'match address ipv4 NOPE'), [{ path: '', message: 'match address ipv4: access-list NOPE is not defined', line: 20 }, { path: 'groups[0].acl', message: 'sa ipsec: no "match address ipv4 ACL" line', line: 18 }]],
  ['AH transform', LAB.replace('esp-aes 256 esp-sha-hmac', 'ah-sha-hmac esp-aes 256'), [{ path: 'groups[0].transform', message: 'ah-sha-hmac: AH is refused for group SAs (ESP only)', line: 7 }]],
  ['non-contiguous wildcard', LAB.replace('10.1.0.0 0.0.255.255 10.1', '10.1.0.0 0.255.0.255 10.1'), [{ path: '', message: 'wildcard 0.255.0.255 is not contiguous; a GDOI policy can only carry a prefix', line: 12 }, { path: 'groups[0].acl', message: 'needs at least 1 entry', line: 11 }]],
  ['host bits in an ACE', LAB.replace('permit ip 10.1.0.0 0.0.255.255 10.1', 'permit ip 10.1.0.1 0.0.255.255 10.1'), [{ path: 'groups[0].acl[0].source', message: 'host bits set (did you mean 10.1.0.0/16?)', line: 12 }]],
  ['two sa ipsec blocks', LAB.replace('  address ipv4', '  sa ipsec 2\n   profile P\n   match address ipv4 ACL\n  address ipv4'), [{ path: '', message: 'only one "sa ipsec" per group is supported', line: 21 }]],
  ['no sa ipsec', LAB.replace('  sa ipsec 1\n   profile P\n   match address ipv4 ACL\n', ''), [{ path: 'groups[0].acl', message: 'no "sa ipsec N" block: the group has no traffic policy', line: 15 }]],
  ['no identity', LAB.replace(' identity number 1234\n', ''), [{ path: 'groups[0].identity', message: 'no "identity number N" or "identity address ipv4 A" line', line: 13 }]],
  ['bad rekey algorithm', LAB.replace('  rekey transport unicast', '  rekey transport unicast\n  rekey algorithm aes 192'), [{ path: 'groups[0].kek.algorithm', message: 'rekey algorithm aes 192: use aes 256, aes 128 or 3des', line: 18 }]],
  ['weak RSA key', `${LAB}crypto key generate rsa label RK modulus 1024\n`, [{ path: 'groups[0].rekey.signingKey.generate.bits', message: 'must be one of 2048, 3072, 4096', line: 22 }]],
  ['lifetime too short', LAB.replace('lifetime seconds 1800', 'lifetime seconds 5'), [{ path: 'groups[0].tekLifetimeSec', message: 'must be ≥ 10', line: 8 }]],
  ['encrypted PSK', LAB.replace('crypto isakmp key PASTED-PSK', 'crypto isakmp key 6 XXXENCXXX'), [
    { path: '', message: "crypto isakmp key: an encrypted (type 6) key can't be used; paste the clear-text key or use keyFile in YAML", line: 6 },
    { path: 'ike.preSharedKeys', message: 'a policy uses pre-share: give at least one pre-shared key' },
  ]],
  ['no isakmp policy', LAB.replace(/crypto isakmp policy 10\n( .*\n)+/, ''), [{ path: 'ike.policies', message: 'no "crypto isakmp policy" block', line: 1 }]],
  ['no KS group', 'crypto isakmp policy 10\n encr aes\n group 14\n authentication pre-share\ncrypto isakmp key K address 0.0.0.0\n', [{ path: 'groups', message: 'no "crypto gdoi group NAME" with "server local"', line: 1 }]],
  ['two addresses', LAB + LAB.replace('crypto gdoi group GRP\n identity number 1234', 'crypto gdoi group GRP2\n identity number 99').replace('192.0.2.1', '192.0.2.2').replace(/^(?!crypto gdoi|\s)[\s\S]*?(?=crypto gdoi)/, ''), [{ path: 'listen.address', message: 'address ipv4 192.0.2.2: another group uses 192.0.2.1; one key server address per daemon', line: 30 }]],
]

for (const [name, text, expected] of CASES) {
  t.test(name, (t) => {
    const got = issues(text)
    t.same(got, expected)
    t.notMatch(JSON.stringify(got), /PASTED-PSK|XXXENCXXX/, 'no key in the errors')
    t.end()
  })
}

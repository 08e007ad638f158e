import t from 'tap'
import { parseIosTree, safeEcho, IosDoc, looksLikeIos } from '../../src/config/ios-tree.js'
import { iosAccessLists, iosIkePolicies, iosPreSharedKeys } from '../../src/config/ios-common.js'
import { detectFormat } from '../../src/config/load.js'

t.test('indentation builds the tree; comments, blanks and banners are skipped', (t) => {
  const roots = parseIosTree([
    '!',
    'hostname R1',
    'banner motd ^C',
    'crypto gdoi group X',
    '  this is banner text',
    '^C',
    'crypto gdoi group G',
    ' identity number 1',
    ' server local',
    '  sa ipsec 1',
    '   profile P',
    '  address ipv4 1.1.1.1',
    '',
    'interface Gi0/0',
    '\tip address 1.1.1.1 255.255.255.0',
  ].join('\r\n'))
  t.same(roots.map((r) => [r.line, r.words.join(' ')]), [
    [2, 'hostname R1'],
    [7, 'crypto gdoi group G'],
    [14, 'interface Gi0/0'],
  ])
  const g = roots[1]
  t.same(g?.children.map((c) => c.words.join(' ')), ['identity number 1', 'server local'])
  t.same(g?.children[1]?.children.map((c) => c.words.join(' ')), ['sa ipsec 1', 'address ipv4 1.1.1.1'])
  t.same(g?.children[1]?.children[0]?.children.map((c) => c.line), [11])
  t.equal(roots[2]?.children.length, 1)
  t.end()
})

t.test('safeEcho stops before anything that may be a secret', (t) => {
  t.equal(safeEcho(['crypto', 'isakmp', 'key', 'S3CRET', 'address', '0.0.0.0']), 'crypto isakmp key …')
  t.equal(safeEcho(['username', 'admin', 'password', '0', 'S3CRET']), 'username admin password …')
  t.equal(safeEcho(['snmp-server', 'community', 'PUBLIC', 'RO']), 'snmp-server community …')
  t.equal(safeEcho(['enable', 'secret', '5', '$1$x']), 'enable secret …')
  t.equal(safeEcho(['router', 'ospf', '1']), 'router ospf 1')
  t.equal(safeEcho(['ip', 'route', '0.0.0.0', '0.0.0.0', '10.0.0.1']), 'ip route 0.0.0.0 …')
  t.end()
})

t.test('ignored lines become warnings without secrets; one per ignored block', (t) => {
  const doc = new IosDoc(['version 15.4', 'enable secret 5 $1$abcdef', 'router ospf 1', ' network 10.0.0.0 0.255.255.255 area 0', ' passive-interface default', 'crypto isakmp policy 10', ' encr aes 256', ' group 5', ' hash sha', ' fancy-option', 'end'].join('\n'))
  iosIkePolicies(doc)
  doc.reportIgnored()
  t.same(doc.warnings, [
    { message: 'ignored: "enable secret …"', line: 2 },
    { message: 'ignored: "router ospf 1" and the 2 lines under it', line: 3 },
    { message: 'ignored: "fancy-option"', line: 10 },
  ])
  t.notMatch(JSON.stringify(doc.warnings), /abcdef/)
  t.end()
})

t.test('isakmp policies: IOS defaults and unsupported values', (t) => {
  const doc = new IosDoc(['crypto isakmp policy 10', ' encr aes 256', ' group 14', 'crypto isakmp policy 20', ' encr des', ' hash md5', ' authentication rsa-encr', 'crypto isakmp policy 30', ' hash sha256', 'crypto isakmp policy 0', ' encr 3des'].join('\n'))
  const p = iosIkePolicies(doc)
  t.same(p[0], { priority: 10, encryption: 'aes-256', group: 14, authentication: 'rsa-sig' }, 'IOS default authentication is rsa-sig')
  t.same(doc.issues, [
    { path: 'ike.policies[1].encryption', message: 'encr des: not supported (use aes 256, aes 128 or 3des)', line: 5 },
    { path: 'ike.policies[1].hash', message: 'hash md5: not supported (use sha or sha256)', line: 6 },
    { path: 'ike.policies[1].authentication', message: 'authentication rsa-encr: not supported (use pre-share or rsa-sig)', line: 7 },
    { path: 'ike.policies[1].group', message: 'no "group" line: the IOS default (group 1) is not supported; add "group 5" or "group 14"', line: 4 },
    { path: 'ike.policies[2].encryption', message: 'no "encr" line: the IOS default (DES) is not supported; add "encr aes 256"', line: 8 },
    { path: 'ike.policies[2].group', message: 'no "group" line: the IOS default (group 1) is not supported; add "group 5" or "group 14"', line: 8 },
    { path: '', message: 'crypto isakmp policy: priority must be 1..10000', line: 10 },
  ])
  t.end()
})

t.test('pre-shared keys: wildcard, host, mask, keyring; encrypted keys refused without echo', (t) => {
  const doc = new IosDoc([
    'crypto isakmp key K1 address 0.0.0.0 0.0.0.0',
    'crypto isakmp key 0 K2 address 0.0.0.0',
    'crypto isakmp key K3 address 10.0.0.1',
    'crypto isakmp key K4 address 10.0.0.0 255.255.255.0 no-xauth',
    'crypto isakmp key 6 ENCRYPTEDSTUFF address 10.0.0.9',
    'crypto isakmp key K5 hostname ks.example',
    'crypto keyring KR',
    ' pre-shared-key address 10.9.0.0 255.255.0.0 key K6',
    ' pre-shared-key address 10.8.0.1 key K7',
  ].join('\n'))
  t.same(iosPreSharedKeys(doc), [
    { peer: 'any', key: 'K1' },
    { peer: 'any', key: 'K2' },
    { peer: '10.0.0.1', key: 'K3' },
    { peer: '10.0.0.0/24', key: 'K4' },
    { peer: '10.9.0.0/16', key: 'K6' },
    { peer: '10.8.0.1', key: 'K7' },
  ])
  t.same(doc.issues.map((i) => i.line), [5, 6])
  t.notMatch(JSON.stringify(doc.issues), /ENCRYPTEDSTUFF|K5/)
  t.end()
})

t.test('access lists: named and numbered, host/any/wildcard, ports, errors', (t) => {
  const doc = new IosDoc([
    'ip access-list extended ACL1',
    ' remark site traffic',
    ' deny udp any eq 848 any eq isakmp',
    ' 20 permit ip 10.1.0.0 0.0.255.255 host 10.2.0.1 log',
    ' permit tcp any range 1 10 any',
    ' permit ip 10.0.0.0 0.255.0.255 any',
    ' permit ip object-group X any',
    ' permit tcp any any established',
    ' permit 47 any any',
    ' permit foo any any',
    'ip access-list standard AUTH',
    ' permit 10.0.1.0 0.0.0.255',
    ' permit host 10.0.2.1',
    ' permit 10.0.3.1',
    'access-list 101 permit ip any any',
    'access-list 101 remark x',
    'access-list 50 permit 10.0.0.0 0.0.0.255',
  ].join('\n'))
  const acls = iosAccessLists(doc)
  t.same(acls.get('ACL1')?.entries.map((e) => e.input), [
    { action: 'deny', protocol: 'udp', source: 'any', destination: 'any', sourcePort: '848', destinationPort: 'isakmp' },
    { action: 'permit', protocol: 'ip', source: '10.1.0.0/16', destination: '10.2.0.1' },
    { action: 'permit', protocol: 47, source: 'any', destination: 'any' },
  ])
  t.same(acls.get('AUTH')?.entries.map((e) => e.input['source']), ['10.0.1.0/24', '10.0.2.1', '10.0.3.1'])
  t.equal(acls.get('AUTH')?.kind, 'standard')
  t.same(acls.get('101')?.entries.map((e) => e.input), [{ action: 'permit', protocol: 'ip', source: 'any', destination: 'any' }])
  t.equal(acls.get('50')?.kind, 'standard')
  t.same(doc.issues.map((i) => [i.line, i.message]), [
    [5, 'port operator "range" can\'t be expressed in a GDOI policy; use "eq"'],
    [6, 'wildcard 0.255.0.255 is not contiguous; a GDOI policy can only carry a prefix'],
    [7, 'object-group in an ACL is not supported; list the addresses'],
    [8, '"established" can\'t be expressed in a GDOI policy'],
    [10, 'unknown protocol "foo"'],
  ])
  t.end()
})

t.test('format detection', (t) => {
  t.equal(detectFormat('x.cfg', 'listen: {}'), 'ios')
  t.equal(detectFormat('x.ios', ''), 'ios')
  t.equal(detectFormat('x.yml', '!'), 'yaml')
  t.equal(detectFormat('x.conf', '!\ncrypto isakmp policy 10\n'), 'ios')
  t.equal(detectFormat('x.conf', '# comment\nlisten:\n  port: 848\n'), 'yaml')
  t.equal(detectFormat(undefined, 'hostname KS\ncrypto gdoi group G\n'), 'ios')
  t.notOk(looksLikeIos(''))
  t.notOk(looksLikeIos('groups:\n  - name: x\n'))
  t.end()
})

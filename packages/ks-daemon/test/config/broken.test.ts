import t from 'tap'
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseKsConfig, ConfigError } from '../../src/config/load.js'
import type { ConfigIssue } from '@gdoi/daemon-kit'

const BASE = `ike:
  policies: [{ encryption: aes-256, group: 5 }]
  preSharedKeys: [{ peer: any, key: s3cret-psk }]
groups:
  - name: G
    identity: { number: 1 }
    acl: [{ action: permit, source: 10.1.0.0/16, destination: 10.1.0.0/16 }]
`
/** BASE with the group's extra lines appended (indented under the group). */
const group = (extra: string): string => BASE + extra.replace(/^/gm, '    ')

function issues(text: string, env: Record<string, string> = {}, baseDir = '/'): readonly ConfigIssue[] {
  try {
    parseKsConfig(text, { format: 'yaml', env, baseDir })
  } catch (err) {
    if (err instanceof ConfigError) return err.issues
    throw err
  }
  return []
}

t.test('the base config is valid', (t) => {
  t.same(issues(BASE), [])
  const c = parseKsConfig(group('rekey: none'), { format: 'yaml', env: {}, baseDir: '/' }).config
  t.equal(c.groups[0]?.rekey, null, 'rekey: none → no KEK')
  t.end()
})

// [name, config text, expected issues (path, message, line)]
const CASES: Array<[string, string, ConfigIssue[]]> = [
  ['misspelt enum', group('rekey: { transport: mulitcast }'), [{ path: 'groups[0].rekey.transport', message: 'must be one of "unicast", "multicast"', line: 8 }]],
  ['multicast without address', group('rekey: { transport: multicast }'), [{ path: 'groups[0].rekey.multicastAddress', message: 'required for transport: multicast', line: 8 }]],
  ['address without multicast', group('rekey: { multicastAddress: 239.1.1.1 }'), [{ path: 'groups[0].rekey.multicastAddress', message: 'only used with transport: multicast', line: 8 }]],
  ['not a multicast address', group('rekey: { transport: multicast, multicastAddress: 10.1.1.1 }'), [{ path: 'groups[0].rekey.multicastAddress', message: 'expected an IPv4 multicast address (224.0.0.0/4)', line: 8 }]],
  ['unknown field with a suggestion', group('rekey: { retransmitPeriod: 5 }'), [{ path: 'groups[0].rekey.retransmitPeriod', message: 'unknown field (did you mean "retransmitPeriodSec"?)', line: 8 }]],
  ['unknown top-level field', `${BASE}group: x\n`, [{ path: 'group', message: 'unknown field (did you mean "groups"?)', line: 8 }]],
  ['host bits in a prefix', BASE.replace('source: 10.1.0.0/16', 'source: 10.1.1.1/16'), [{ path: 'groups[0].acl[0].source', message: 'host bits set (did you mean 10.1.0.0/16?)', line: 7 }]],
  ['not a prefix', BASE.replace('source: 10.1.0.0/16', 'source: ten'), [{ path: 'groups[0].acl[0].source', message: 'expected "any", an IPv4 address or a prefix like 10.1.0.0/16', line: 7 }]],
  ['ports without tcp/udp', BASE.replace('destination: 10.1.0.0/16 }', 'destination: 10.1.0.0/16, destinationPort: 80 }'), [{ path: 'groups[0].acl[0].destinationPort', message: 'ports need protocol tcp or udp', line: 7 }]],
  ['bad protocol', BASE.replace('action: permit,', 'action: permit, protocol: sctpx,'), [{ path: 'groups[0].acl[0].protocol', message: 'must be one of ip, icmp, igmp, tcp, udp, gre, esp, ahp, ospf, pim or a number', line: 7 }]],
  ['bad action', BASE.replace('action: permit', 'action: allow'), [{ path: 'groups[0].acl[0].action', message: 'must be one of "permit", "deny"', line: 7 }]],
  ['empty acl', BASE.replace(/acl: .*\n/, 'acl: []\n'), [{ path: 'groups[0].acl', message: 'needs at least 1 entry', line: 7 }]],
  ['identity with both', BASE.replace('identity: { number: 1 }', 'identity: { number: 1, address: 10.0.0.1 }'), [{ path: 'groups[0].identity', message: 'give either number or address, not both', line: 6 }]],
  ['identity missing', BASE.replace('    identity: { number: 1 }\n', ''), [{ path: 'groups[0].identity', message: 'required', line: 5 }]],
  ['identity empty', BASE.replace('identity: { number: 1 }', 'identity: {}'), [{ path: 'groups[0].identity', message: 'required: { number: N } or { address: A.B.C.D }', line: 6 }]],
  ['bad group name', BASE.replace('name: G', 'name: "my group"'), [{ path: 'groups[0].name', message: 'letters, digits, ".", "_" and "-" only', line: 5 }]],
  ['no IKE policy', BASE.replace('policies: [{ encryption: aes-256, group: 5 }]', 'policies: []'), [{ path: 'ike.policies', message: 'needs at least 1 entry', line: 2 }]],
  ['DH group 1', BASE.replace('group: 5 }', 'group: 1 }'), [{ path: 'ike.policies[0].group', message: 'must be one of 2, 5, 14', line: 2 }]],
  ['DES', BASE.replace('encryption: aes-256', 'encryption: des'), [{ path: 'ike.policies[0].encryption', message: 'must be one of "aes-128", "aes-256", "3des"', line: 2 }]],
  ['lifetime as text', BASE.replace('group: 5 }', 'group: 5, lifetimeSec: "1 day" }'), [{ path: 'ike.policies[0].lifetimeSec', message: 'expected a number, got text', line: 2 }]],
  ['duplicate priorities', BASE.replace('policies: [{ encryption: aes-256, group: 5 }]', 'policies: [{ priority: 10, encryption: aes-256, group: 5 }, { priority: 10, encryption: aes-128, group: 14 }]'), [{ path: 'ike.policies[1].priority', message: 'priority 10 is also used by policies[0]', line: 2 }]],
  ['pre-share without keys', BASE.replace('  preSharedKeys: [{ peer: any, key: s3cret-psk }]\n', ''), [{ path: 'ike.preSharedKeys', message: 'a policy uses pre-share: give at least one pre-shared key', line: 2 }]],
  ['rsa-sig without identity', BASE.replace('group: 5 }', 'group: 5, authentication: rsa-sig }'), [{ path: 'ike.identity', message: 'a policy uses rsa-sig: give identity { certFile, keyFile }', line: 2 }]],
  ['two key sources', BASE.replace('key: s3cret-psk', 'key: s3cret-psk, keyEnv: X'), [{ path: 'ike.preSharedKeys[0]', message: 'give only one of key, keyFile, keyEnv', line: 3 }]],
  ['no key source', BASE.replace(', key: s3cret-psk', ''), [{ path: 'ike.preSharedKeys[0]', message: 'required: key, keyFile or keyEnv', line: 3 }]],
  ['numeric key', BASE.replace('key: s3cret-psk', 'key: 0123'), [{ path: 'ike.preSharedKeys[0].key', message: 'must be text: put the key in quotes', line: 3 }]],
  ['keyEnv not set', BASE.replace('key: s3cret-psk', 'keyEnv: GDOI_TEST_PSK'), [{ path: 'ike.preSharedKeys[0].keyEnv', message: 'environment variable GDOI_TEST_PSK is not set', line: 3 }]],
  ['keyFile missing', BASE.replace('key: s3cret-psk', 'keyFile: /nonexistent/psk'), [{ path: 'ike.preSharedKeys[0].keyFile', message: 'cannot read /nonexistent/psk (ENOENT)', line: 3 }]],
  ['GCM with integrity', group('transform: esp-gcm 256 esp-sha-hmac'), [{ path: 'groups[0].transform', message: 'esp-gcm is authenticated encryption: remove the integrity transform', line: 8 }]],
  ['AH', group('transform: [ah-sha-hmac, esp-aes 256]'), [{ path: 'groups[0].transform', message: 'ah-sha-hmac: AH is refused for group SAs (ESP only)', line: 8 }]],
  ['TEK lifetime too short', group('tekLifetimeSec: 5'), [{ path: 'groups[0].tekLifetimeSec', message: 'must be ≥ 10', line: 8 }]],
  ['TEK lifetime fractional', group('tekLifetimeSec: 36.5'), [{ path: 'groups[0].tekLifetimeSec', message: 'expected an integer, got a number', line: 8 }]],
  ['KEK lifetime too long', group('kek: { lifetimeSec: 99999999 }'), [{ path: 'groups[0].kek.lifetimeSec', message: 'must be ≤ 2592000', line: 8 }]],
  ['KEK algorithm', group('kek: { algorithm: aes-192-cbc }'), [{ path: 'groups[0].kek.algorithm', message: 'must be one of "aes-256-cbc", "aes-128-cbc", "3des"', line: 8 }]],
  ['weak signing key', group('rekey: { signingKey: { generate: { bits: 1024 } } }'), [{ path: 'groups[0].rekey.signingKey.generate.bits', message: 'must be one of 2048, 3072, 4096', line: 8 }]],
  ['both key sources', group('rekey: { signingKey: { generate: {}, file: /k.pem } }'), [{ path: 'groups[0].rekey.signingKey', message: 'give either generate or file, not both', line: 8 }]],
  ['signing key file missing', group('rekey: { signingKey: { file: /nonexistent/k.pem } }'), [{ path: 'groups[0].rekey.signingKey.file', message: 'cannot read /nonexistent/k.pem (ENOENT)', line: 8 }]],
  ['sender-ID bits', group('senderIdBits: 10'), [{ path: 'groups[0].senderIdBits', message: 'must be one of 8, 12, 16', line: 8 }]],
  ['authorization entry', group('authorization: [10.0.0.0/8, bogus]'), [{ path: 'groups[0].authorization[1]', message: 'expected "any", an IPv4 address or a prefix like 10.1.0.0/16', line: 8 }]],
  ['retransmissions outlast the TEK', group('tekLifetimeSec: 15\nrekey: { retransmitPeriodSec: 10, retransmitCount: 2 }'), [{ path: 'groups[0].rekey.retransmitPeriodSec', message: 'retransmissions (20 s) outlast the TEK lifetime (15 s)', line: 9 }]],
  ['listen port', `listen: { port: 70000 }\n${BASE}`, [{ path: 'listen.port', message: 'must be ≤ 65535', line: 1 }]],
  ['listen address', `listen: { address: 300.1.1.1 }\n${BASE}`, [{ path: 'listen.address', message: 'expected an IPv4 address like 192.0.2.1', line: 1 }]],
  ['log level', `log: { level: verbose }\n${BASE}`, [{ path: 'log.level', message: 'must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent"', line: 1 }]],
  ['multicast rekey from 0.0.0.0', group('rekey: { transport: multicast, multicastAddress: 239.1.1.1 }'), [{ path: 'listen.address', message: "groups[0] sends multicast rekeys: give the key server's own address (the push source), not 0.0.0.0" }]],
  ['duplicate group', `${BASE}  - name: G\n    identity: { number: 2 }\n    acl: [{ action: permit, source: any, destination: any }]\n`, [{ path: 'groups[1].name', message: '"G" is also the name of groups[0]', line: 8 }]],
  ['duplicate identity', `${BASE}  - name: H\n    identity: { number: 1 }\n    acl: [{ action: permit, source: any, destination: any }]\n`, [{ path: 'groups[1].identity', message: 'number 1 is also the identity of groups[0]', line: 9 }]],
  ['no groups', BASE.slice(0, BASE.indexOf('groups:')), [{ path: 'groups', message: 'required' }]],
  ['groups not a list', `${BASE.slice(0, BASE.indexOf('groups:'))}groups: { name: G }\n`, [{ path: 'groups', message: 'expected a list, got a mapping', line: 4 }]],
  ['not a mapping at all', '- 1\n- 2\n', [{ path: '', message: 'expected a mapping, got a list' }]],
  ['YAML syntax', 'ike: [\n', [{ path: '', message: 'YAML: Flow sequence in block collection must be sufficiently indented and end with a ]', line: 2 }]],
  ['empty file', '', [{ path: '', message: 'the file is empty' }]],
]

for (const [name, text, expected] of CASES) {
  t.test(name, (t) => {
    t.same(issues(text), expected)
    t.end()
  })
}

t.test('all mistakes are reported at once', (t) => {
  const text = `listen: { port: -1 }
log: { level: loud }
ike:
  policies: [{ encryption: des, group: 1 }]
  preSharedKeys: [{ peer: 10.0.0.1/8, key: k }]
groups:
  - name: G
    identity: { number: -5 }
    acl: [{ action: permit, source: any, destination: any, sourcePort: 1 }]
    rekey: { transport: multicast, colour: blue }
  - name: H
    identity: { address: 1.2.3 }
    acl: []
`
  const got = issues(text)
  t.same(
    got.map((i) => i.path),
    [
      'listen.port',
      'log.level',
      'ike.policies[0].encryption',
      'ike.policies[0].group',
      'ike.preSharedKeys[0].peer',
      'groups[0].identity.number',
      'groups[0].rekey.colour',
      'groups[0].acl[0].sourcePort',
      'groups[0].rekey.multicastAddress',
      'groups[1].identity.address',
      'groups[1].acl',
    ].sort((a, b) => got.findIndex((i) => i.path === a) - got.findIndex((i) => i.path === b)),
  )
  t.equal(got.length, 11)
  let err: unknown
  try {
    parseKsConfig(text, { format: 'yaml', env: {}, baseDir: '/', path: 'ks.yaml' })
  } catch (e) {
    err = e
  }
  t.ok(err instanceof ConfigError)
  t.match((err as Error).message, /^ks\.yaml: 11 problems\n {2}listen\.port: must be ≥ 0 \(line 1\)\n/)
  t.end()
})

t.test('errors and warnings never contain the PSK', (t) => {
  const text = BASE.replace('key: s3cret-psk', 'key: s3cret-psk, keyFile: x').replace('group: 5', 'group: 7')
  const all = JSON.stringify(issues(text))
  t.notMatch(all, /s3cret/)
  t.end()
})

t.test('key files: read, trimmed, must be 0600', (t) => {
  const dir = t.testdir({ psk: 'file-psk\n', open: 'x\n', empty: '\n' })
  chmodSync(join(dir, 'psk'), 0o600)
  chmodSync(join(dir, 'open'), 0o644)
  chmodSync(join(dir, 'empty'), 0o600)
  const ok = parseKsConfig(BASE.replace('key: s3cret-psk', 'keyFile: psk'), { format: 'yaml', env: {}, baseDir: dir })
  t.equal(Buffer.from(ok.config.ike.preSharedKeys[0]?.key.reveal() ?? []).toString(), 'file-psk', 'relative to the config directory, newline trimmed')
  t.same(issues(BASE.replace('key: s3cret-psk', 'keyFile: open'), {}, dir), [
    { path: 'ike.preSharedKeys[0].keyFile', message: `${join(dir, 'open')} is readable by other users (mode 0644); chmod 600 it`, line: 3 },
  ])
  t.same(issues(BASE.replace('key: s3cret-psk', 'keyFile: empty'), {}, dir), [{ path: 'ike.preSharedKeys[0].keyFile', message: `${join(dir, 'empty')} is empty`, line: 3 }])
  const env = parseKsConfig(BASE.replace('key: s3cret-psk', 'keyEnv: MY_PSK'), { format: 'yaml', env: { MY_PSK: 'env-psk' }, baseDir: dir })
  t.equal(Buffer.from(env.config.ike.preSharedKeys[0]?.key.reveal() ?? []).toString(), 'env-psk')
  writeFileSync(join(dir, 'notakey.pem'), 'hello', { mode: 0o600 })
  t.same(issues(group('rekey: { signingKey: { file: notakey.pem } }'), {}, dir), [
    { path: 'groups[0].rekey.signingKey.file', message: `${join(dir, 'notakey.pem')} is not a readable private key (PEM or PKCS#8 DER; encrypted keys are not supported)`, line: 8 },
  ])
  t.end()
})

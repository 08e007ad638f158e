import t from 'tap'
import { parseGmConfig, ConfigError } from '../../src/config/load.js'
import type { ConfigIssue } from '@gdoi/daemon-kit'

const GM = `crypto isakmp policy 10
 encr aes 256
 hash sha
 authentication pre-share
 group 5
crypto isakmp key GM-PSK address 10.0.0.1
crypto gdoi group GRP
 identity number 1234
 server address ipv4 10.0.0.1
 server address ipv4 10.0.0.2
 client registration interface Loopback0
crypto map GM-MAP 10 gdoi
 set group GRP
interface GigabitEthernet0/1
 description WAN
 ip address 10.0.1.2 255.255.255.0
 crypto map GM-MAP
interface Loopback0
 ip address 10.1.1.1 255.255.255.255
`
function parse(text: string) {
  return parseGmConfig(text, { format: 'ios', env: {}, baseDir: '/' })
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

t.test('group, key servers in order, interface, registration source address', (t) => {
  const { config, warnings } = parse(GM.replace(' server address ipv4 10.0.0.2\n', ''))
  t.same(config.group, { name: 'GRP', identity: { kind: 'number', number: 1234 } })
  t.same(config.keyServers, [{ address: '10.0.0.1', port: 848 }])
  t.equal(config.interface, 'GigabitEthernet0/1')
  t.same(config.local, { address: '10.1.1.1', port: 848 }, 'client registration interface wins')
  t.same(warnings, [{ message: 'ignored: "description WAN"', line: 14 }])
  const noReg = parse(GM.replace(' client registration interface Loopback0\n', '').replace(' server address ipv4 10.0.0.2\n', ''))
  t.same(noReg.config.local, { address: '10.0.1.2', port: 848 }, 'else the crypto-map interface')
  t.end()
})

t.test('a PSK per key server is required when pre-share is used', (t) => {
  t.same(issues(GM), [{ path: 'ike.preSharedKeys', message: 'no pre-shared key for key server 10.0.0.2 (keys are for 10.0.0.1)' }])
  t.end()
})

t.test('which group: one applied to an interface, or the only one', (t) => {
  const unapplied = parse(GM.replace(' crypto map GM-MAP\n', '').replace(' server address ipv4 10.0.0.2\n', ''))
  t.equal(unapplied.config.interface, null)
  t.match(unapplied.warnings, [{ message: /no crypto map applies this group/, line: 7 }])
  const two = `${GM}crypto gdoi group G2\n identity number 2\n server address ipv4 10.0.0.1\ncrypto map M2 10 gdoi\n set group G2\ninterface Gi0/2\n crypto map M2\n`
  t.same(issues(two), [{ path: 'group', message: 'groups GRP, G2 are applied to interfaces; one gdoi-gm serves one group', line: 25 }])
  t.same(issues('crypto isakmp policy 1\n encr aes\n group 14\n'), [
    { path: 'group', message: 'no "crypto gdoi group NAME" with "server address ipv4 A"', line: 1 },
    { path: 'ike.identity', message: 'a policy uses rsa-sig: give identity { certFile, keyFile }' },
  ], 'IOS’s default authentication is rsa-sig')
  t.end()
})

t.test('errors carry lines; keys never appear', (t) => {
  const bad = GM.replace('server address ipv4 10.0.0.2', 'server address ipv4 ks.example').replace(' identity number 1234', ' identity number abc')
  const got = issues(bad)
  t.same(got, [
    { path: 'group.identity', message: 'expected "identity number N" or "identity address ipv4 A.B.C.D"', line: 8 },
    { path: 'keyServers[1].address', message: 'expected an IPv4 address like 192.0.2.1', line: 10 },
  ])
  t.notMatch(JSON.stringify(got), /GM-PSK/)
  t.end()
})

t.test('crypto map NAME gdoi fail-close with activate: dataPlane.failClose (its match address ACL is not supported)', (t) => {
  const base = GM.replace(' server address ipv4 10.0.0.2\n', '')
  t.equal(parse(base).config.dataPlane, undefined, 'absent: fail-open')
  const on = parse(`${base}crypto map GM-MAP gdoi fail-close\n match address FC-ACL\n activate\n`)
  t.same(on.config.dataPlane, { failClose: true })
  t.match(on.warnings, [{ message: /ignored: "description WAN"/ }, { message: /ignored: "match address FC-ACL"/, line: 20 }])
  const staged = parse(`${base}crypto map GM-MAP gdoi fail-close\n`)
  t.equal(staged.config.dataPlane, undefined, 'without activate: fail-open')
  t.match(staged.warnings, [{}, { message: /without "activate": fail-open/, line: 19 }])
  const other = parse(`${base}crypto map OTHER gdoi fail-close\n activate\n`)
  t.equal(other.config.dataPlane, undefined, 'a map on no interface of this group changes nothing')
  t.end()
})

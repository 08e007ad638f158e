import t from 'tap'
import { parseGmConfig } from '../../src/config/load.js'
import type { ConfigIssue } from '@gdoi/daemon-kit'
import { configIssues } from './helpers.js'

const BASE = `group: { name: G, identity: { number: 1 } }
keyServers: [10.0.0.1]
ike:
  policies: [{ encryption: aes-256, group: 5 }]
  preSharedKeys: [{ peer: 10.0.0.0/24, key: gm-psk }]
`
const issues = configIssues

t.test('the base config is valid and defaulted', (t) => {
  const c = parseGmConfig(BASE, { format: 'yaml', env: {}, baseDir: '/' }).config
  t.same(c.local, { address: '0.0.0.0', port: 848 })
  t.same(c.tun, { enabled: true, name: 'gdoi0', mtuBytes: 1400, offload: true })
  t.same(parseGmConfig(`${BASE}tun: none\n`, { format: 'yaml', env: {}, baseDir: '/' }).config.tun, { enabled: false, name: 'gdoi0', mtuBytes: 1400, offload: true }, 'tun: none → control plane only')
  t.equal(c.interface, null)
  t.equal(c.controlSocket, '/run/gdoi/gm.sock')
  const ks = parseGmConfig(BASE.replace('[10.0.0.1]', '["10.0.0.1:8848", { address: 10.0.0.2 }, 10.0.0.3]'), { format: 'yaml', env: {}, baseDir: '/' }).config
  t.same(ks.keyServers, [{ address: '10.0.0.1', port: 8848 }, { address: '10.0.0.2', port: 848 }, { address: '10.0.0.3', port: 848 }], 'tried in this order')
  t.end()
})

const CASES: Array<[string, string, ConfigIssue[]]> = [
  ['no key servers', BASE.replace('[10.0.0.1]', '[]'), [{ path: 'keyServers', message: 'needs at least 1 entry', line: 2 }]],
  ['bad key server', BASE.replace('[10.0.0.1]', '[10.0.0.1, ks.example]'), [{ path: 'keyServers[1].address', message: 'expected an IPv4 address like 192.0.2.1', line: 2 }]],
  ['multicast key server', BASE.replace('[10.0.0.1]', '[239.1.1.1]'), [{ path: 'keyServers[0].address', message: 'must be a unicast address', line: 2 }]],
  ['key server port', BASE.replace('[10.0.0.1]', '["10.0.0.1:0"]'), [{ path: 'keyServers[0].port', message: 'must be ≥ 1', line: 2 }]],
  ['duplicate key server', BASE.replace('[10.0.0.1]', '[10.0.0.1, "10.0.0.1:848"]'), [{ path: 'keyServers[1]', message: '10.0.0.1:848 is also keyServers[0]', line: 2 }]],
  ['no PSK for the key server', BASE.replace('[10.0.0.1]', '[10.0.0.1, 10.9.0.1]'), [{ path: 'ike.preSharedKeys', message: 'no pre-shared key for key server 10.9.0.1 (keys are for 10.0.0.0/24)', line: 5 }]],
  ['group name missing', BASE.replace('name: G, ', ''), [{ path: 'group.name', message: 'required', line: 1 }]],
  ['group identity address', BASE.replace('number: 1', 'address: 10.0.0'), [{ path: 'group.identity.address', message: 'expected an IPv4 address like 192.0.2.1', line: 1 }]],
  ['tun name too long', `${BASE}tun: { name: a-very-long-interface-name }\n`, [{ path: 'tun.name', message: 'an interface name of 1..15 letters, digits, ".", "_" or "-"', line: 6 }]],
  ['mtu', `${BASE}tun: { mtuBytes: 100 }\n`, [{ path: 'tun.mtuBytes', message: 'must be ≥ 576', line: 6 }]],
  ['tun offload not a boolean', `${BASE}tun: { offload: yes }\n`, [{ path: 'tun.offload', message: 'expected true or false, got text', line: 6 }]],
  ['ESP socket mark 0', `${BASE}dataPlane: { espMark: 0 }\n`, [{ path: 'dataPlane.espMark', message: 'must be ≥ 1', line: 6 }]],
  ['jitter', `${BASE}reregister: { jitterSec: -1 }\n`, [{ path: 'reregister.jitterSec', message: 'must be ≥ 0', line: 6 }]],
  ['retransmit interval', `${BASE}retransmit: { intervalSec: 0 }\n`, [{ path: 'retransmit.intervalSec', message: 'must be ≥ 1', line: 6 }]],
  ['rekeyAck', `${BASE}rekeyAck: cisco\n`, [{ path: 'rekeyAck', message: 'must be one of "rfc8263", "none"', line: 6 }]],
  ['KS-only field', `${BASE}groups: []\n`, [{ path: 'groups', message: 'unknown field (did you mean "group"?)', line: 6 }]],
  ['own address as key server', BASE.replace('[10.0.0.1]', '[10.0.0.1]\nlocal: { address: 10.0.0.1 }'), [{ path: 'keyServers[0]', message: "is this group member's own local address", line: 2 }]],
]

for (const [name, text, expected] of CASES) {
  t.test(name, (t) => {
    t.same(issues(text), expected)
    t.end()
  })
}

// rekey.ack defaults by transport: unicast rekeys are acknowledged by each GM (RFC 8263; a GM that
// misses three pushes in a row is dropped), multicast rekeys are not. An explicit value always wins;
// YAML and pasted IOS agree.
import t from 'tap'
import { parseKsConfig } from '../../src/config/load.js'

const YAML = (rekey: string): string => `listen: { address: 192.0.2.1 }
ike:
  policies: [{ encryption: aes-256, group: 5 }]
  preSharedKeys: [{ peer: any, key: s3cret-psk }]
groups:
  - name: G
    identity: { number: 1 }
    acl: [{ action: permit, source: 10.1.0.0/16, destination: 10.1.0.0/16 }]
    rekey: ${rekey}
`
const ackOf = (text: string, format: 'yaml' | 'ios' = 'yaml'): string | undefined =>
  parseKsConfig(text, { format, env: {}, baseDir: '/' }).config.groups[0]?.rekey?.ack

t.test('YAML: the default follows the transport, explicit values win', (t) => {
  t.equal(ackOf(YAML('{}')), 'rfc8263', 'no transport given = unicast → RFC 8263 ACKs')
  t.equal(ackOf(YAML('{ transport: unicast }')), 'rfc8263')
  t.equal(ackOf(YAML('{ transport: multicast, multicastAddress: 239.192.1.1 }')), 'none', 'multicast → no ACKs')
  t.equal(ackOf(YAML('{ transport: unicast, ack: none }')), 'none', 'explicit none on unicast')
  t.equal(ackOf(YAML('{ transport: multicast, multicastAddress: 239.192.1.1, ack: rfc8263 }')), 'rfc8263', 'explicit rfc8263 on multicast')
  t.end()
})

const IOS = (rekeyLines: string): string => `crypto isakmp policy 10
 encr aes 256
 authentication pre-share
 group 5
crypto isakmp key PASTED-PSK address 0.0.0.0 0.0.0.0
crypto ipsec transform-set TS esp-aes 256 esp-sha-hmac
crypto ipsec profile P
 set transform-set TS
ip access-list extended ACL
 permit ip 10.1.0.0 0.0.255.255 10.1.0.0 0.0.255.255
ip access-list extended REKEY-ACL
 permit udp host 192.0.2.1 eq 848 host 239.192.1.1 eq 848
crypto key generate rsa general-keys label RK modulus 2048
crypto gdoi group G
 identity number 1
 server local
  rekey authentication mypubkey rsa RK
${rekeyLines}  sa ipsec 1
   profile P
   match address ipv4 ACL
  address ipv4 192.0.2.1
`

t.test('IOS: unicast rekeys ask for ACKs, multicast (the IOS default) does not', (t) => {
  t.equal(ackOf(IOS('  rekey transport unicast\n'), 'ios'), 'rfc8263')
  t.equal(ackOf(IOS('  rekey address ipv4 REKEY-ACL\n'), 'ios'), 'none')
  t.equal(ackOf(IOS('  rekey transport unicast\n'), 'ios'), ackOf(YAML('{ transport: unicast }')), 'IOS and YAML agree')
  t.end()
})

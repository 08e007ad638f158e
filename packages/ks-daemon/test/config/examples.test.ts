import t from 'tap'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { loadKsConfig } from '../../src/config/load.js'
import { plain, EXAMPLES } from './helpers.js'

t.test('examples/ks.yaml loads to the lab policy, fully defaulted', async (t) => {
  const { config, warnings, format } = await loadKsConfig(join(EXAMPLES, 'ks.yaml'))
  t.equal(format, 'yaml')
  t.same(warnings, [])
  t.same(plain(config), {
    listen: { address: '127.0.1.1', port: 848 },
    stateDir: '/var/lib/gdoi/ks',
    controlSocket: '/run/gdoi/ks.sock',
    log: { level: 'info', format: 'auto' },
    keylog: null,
    ike: {
      policies: [{ priority: 10, encryption: 'aes-256', hash: 'sha1', group: 5, lifetimeSec: 86400, authentication: 'pre-share' }],
      preSharedKeys: [{ peer: { address: '0.0.0.0', length: 0 }, key: { secret: 'GETVPN-LAB-EXAMPLE-KEY' } }],
      identity: null,
    },
    groups: [
      {
        name: 'GETVPN-GRP',
        identity: { kind: 'number', number: 1234 },
        acl: [
          { action: 'deny', protocol: 17, source: { address: '0.0.0.0', length: 0 }, destination: { address: '0.0.0.0', length: 0 }, sourcePort: 848, destinationPort: 848 },
          { action: 'permit', protocol: 0, source: { address: '10.1.0.0', length: 16 }, destination: { address: '10.1.0.0', length: 16 }, sourcePort: null, destinationPort: null },
        ],
        transform: { cipher: 'aes-cbc', keyBits: 256, integrity: 'hmac-sha1' },
        tekLifetimeSec: 3600,
        kek: { algorithm: 'aes-256-cbc', lifetimeSec: 86400 },
        rekey: {
          transport: 'unicast',
          multicastAddress: null,
          retransmitPeriodSec: 10,
          retransmitCount: 2,
          signingKey: { source: 'generate', bits: 2048, label: 'REKEYRSA' },
          sigHash: 'sha1',
          ack: 'rfc8263',
        },
        gap: null,
        authorization: null,
        senderIdBits: 16,
      },
    ],
    limits: { maxHalfOpenSa: 10000, exchangeTimeoutSec: 120, maxDatagramBytes: 16384 },
    compat: { idLengthWidth: 1, pushSignature: 'rfc' },
    store: { kind: 'file' },
  })
})

t.test('examples/ks.ios.cfg (the lab router config) gives exactly the same KsConfig as ks.yaml', async (t) => {
  const yaml = await loadKsConfig(join(EXAMPLES, 'ks.yaml'))
  const ios = await loadKsConfig(join(EXAMPLES, 'ks.ios.cfg'))
  t.equal(ios.format, 'ios')
  t.same(plain(ios.config), plain(yaml.config))
  t.same(ios.warnings, [{ message: 'anti-replay is enforced by each group member; the key server ignores this line', line: 40 }])
})

t.test('every KS example in examples/ loads', async (t) => {
  const files = readdirSync(EXAMPLES).filter((f) => /^ks.*\.(ya?ml|cfg|ios)$/.test(f))
  t.ok(files.length >= 2)
  for (const f of files) {
    const r = await loadKsConfig(join(EXAMPLES, f))
    t.ok(r.config.groups.length > 0, f)
  }
})

t.test('command-line overrides are merged and validated like the file', async (t) => {
  const r = await loadKsConfig(join(EXAMPLES, 'ks.ios.cfg'), {
    overrides: { listen: { port: 8848 }, stateDir: 'rel/state', log: { level: 'debug' } },
  })
  t.same(r.config.listen, { address: '127.0.1.1', port: 8848 })
  t.equal(r.config.stateDir, join(process.cwd(), 'rel/state'), 'relative to the current directory')
  t.equal(r.config.log.level, 'debug')
  await t.rejects(loadKsConfig(join(EXAMPLES, 'ks.yaml'), { overrides: { listen: { address: 'nope' } } }), {
    name: 'ConfigError',
    issues: [{ path: 'listen.address', message: 'expected an IPv4 address like 192.0.2.1' }],
  })
})

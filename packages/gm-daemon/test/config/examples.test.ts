import t from 'tap'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { loadGmConfig } from '../../src/config/load.js'
import { plain, EXAMPLES } from './helpers.js'

t.test('examples/gm1.yaml … gm3.yaml load, one GM per loopback address', async (t) => {
  for (const i of [1, 2, 3]) {
    const { config, warnings } = await loadGmConfig(join(EXAMPLES, `gm${i}.yaml`))
    t.same(warnings, [])
    t.same(plain(config), {
      group: { name: 'GETVPN-GRP', identity: { kind: 'number', number: 1234 } },
      keyServers: [{ address: '127.0.1.1', port: 848 }],
      local: { address: `127.0.1.1${i}`, port: 848 },
      ike: {
        policies: [{ priority: 10, encryption: 'aes-256', hash: 'sha1', group: 5, lifetimeSec: 86400, authentication: 'pre-share' }],
        preSharedKeys: [{ peer: { address: '127.0.1.1', length: 32 }, key: { secret: 'GETVPN-LAB-EXAMPLE-KEY' } }],
        identity: null,
      },
      tun: { enabled: true, name: i === 1 ? 'gdoi0' : `gdoi${i}`, mtuBytes: 1400, offload: true },
      interface: 'lo',
      controlSocket: i === 1 ? '/run/gdoi/gm.sock' : `/run/gdoi/gm${i}.sock`,
      keylog: null,
      log: { level: 'info', format: 'auto' },
      reregister: { beforeExpirySec: 60, jitterSec: 10 },
      retransmit: { intervalSec: 7, count: 5 },
      rekeyAck: 'rfc8263',
      limits: { maxDatagramBytes: 16384 },
    })
  }
})

t.test('examples/gm1.ios.cfg (the lab router config) gives exactly the same GmConfig as gm1.yaml', async (t) => {
  const yaml = await loadGmConfig(join(EXAMPLES, 'gm1.yaml'))
  const ios = await loadGmConfig(join(EXAMPLES, 'gm1.ios.cfg'))
  t.equal(ios.format, 'ios')
  t.same(ios.warnings, [])
  t.same(plain(ios.config), plain(yaml.config))
})

t.test('command-line overrides reach what IOS has no words for', async (t) => {
  const gm2 = await loadGmConfig(join(EXAMPLES, 'gm2.yaml'))
  const ios = await loadGmConfig(join(EXAMPLES, 'gm1.ios.cfg'), {
    overrides: { local: { address: '127.0.1.12' }, tun: { name: 'gdoi2' }, controlSocket: '/run/gdoi/gm2.sock' },
  })
  t.same(plain(ios.config), plain(gm2.config), 'gm1.ios.cfg + overrides = gm2.yaml')
  await t.rejects(loadGmConfig(join(EXAMPLES, 'gm1.ios.cfg'), { overrides: { tun: { mtuBytes: 10 } } }), {
    name: 'ConfigError',
    issues: [{ path: 'tun.mtuBytes', message: 'must be ≥ 576' }],
  })
})

t.test('every GM example in examples/ loads', async (t) => {
  const files = readdirSync(EXAMPLES).filter((f) => /^gm.*\.(ya?ml|cfg|ios)$/.test(f))
  t.ok(files.length >= 4)
  for (const f of files) t.ok((await loadGmConfig(join(EXAMPLES, f))).config.keyServers.length > 0, f)
})

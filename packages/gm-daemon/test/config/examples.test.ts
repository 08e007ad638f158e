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
      tun: { name: `gdoi${i}`, mtuBytes: 1400 },
      interface: 'lo',
      controlSocket: `/run/gdoi/gm${i}.sock`,
      keylog: null,
      log: { level: 'info', format: 'auto' },
      reregister: { beforeExpirySec: 60, jitterSec: 10 },
      rekeyAck: 'rfc8263',
    })
  }
})

t.test('examples/gm1.ios.cfg gives the same GmConfig as gm1.yaml (plus the two settings IOS has no words for)', async (t) => {
  const yaml = await loadGmConfig(join(EXAMPLES, 'gm1.yaml'))
  const ios = await loadGmConfig(join(EXAMPLES, 'gm1.ios.cfg'), { overrides: { tun: { name: 'gdoi1' }, controlSocket: '/run/gdoi/gm1.sock' } })
  t.equal(ios.format, 'ios')
  t.same(ios.warnings, [])
  t.same(plain(ios.config), plain(yaml.config))
})

t.test('every GM example in examples/ loads', async (t) => {
  const files = readdirSync(EXAMPLES).filter((f) => /^gm.*\.(ya?ml|cfg|ios)$/.test(f))
  t.ok(files.length >= 4)
  for (const f of files) t.ok((await loadGmConfig(join(EXAMPLES, f))).config.keyServers.length > 0, f)
})

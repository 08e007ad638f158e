// Shared by the real-kernel data-plane tests (tun.test.ts, tun-offload.test.ts): why they would be
// skipped, and a fresh network namespace per test that is deleted on teardown (nothing touches the
// host's interfaces).
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { hasNative } from './helpers.js'

/** Why the real-kernel tests cannot run here, or false. */
export function kernelSkipReason(): string | false {
  if (!hasNative) return 'native addon not built (node native/build.mjs)'
  if (process.getuid?.() !== 0) return 'needs root (CAP_NET_ADMIN) to create TUN devices and namespaces'
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun is not available (container without --device /dev/net/tun?)'
  if (spawnSync('ip', ['-V']).status !== 0) return 'iproute2 (ip) not installed'
  return false
}

export interface Netns { name: string; ip: (...a: string[]) => void; sysctl: (kv: string) => void }

let nsCount = 0
/** A fresh namespace `gdoi-<prefix>-<pid>-<n>` for one test, deleted on teardown. */
export function testNetns(t: { teardown: (fn: () => void) => void }, prefix: string): Netns {
  const name = `gdoi-${prefix}-${process.pid}-${++nsCount}`
  execFileSync('ip', ['netns', 'add', name])
  t.teardown(() => { spawnSync('ip', ['netns', 'del', name]) })
  const ip = (...a: string[]): void => { execFileSync('ip', ['-n', name, ...a]) }
  const sysctl = (kv: string): void => { execFileSync('ip', ['netns', 'exec', name, 'sysctl', '-q', '-w', kv]) }
  sysctl('net.ipv6.conf.all.disable_ipv6=1') // no IPv6 chatter (router solicitations, MLD) on the test devices
  sysctl('net.ipv6.conf.default.disable_ipv6=1')
  sysctl('net.ipv4.conf.all.rp_filter=0')
  sysctl('net.ipv4.conf.default.rp_filter=0')
  ip('link', 'set', 'lo', 'up')
  return { name, ip, sysctl }
}

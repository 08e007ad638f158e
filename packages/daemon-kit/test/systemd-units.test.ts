// The systemd units in systemd/ (gdoi-ks.service, gdoi-gm.service, gdoi-gm@.service) checked by
// `systemd-analyze verify` exactly as shipped. verify needs no running systemd, but it does check that
// every Exec*= binary exists, so it runs with --root on a scratch tree laid out like an installed host:
//   <root>/etc/systemd/system/    the units from systemd/, byte for byte
//   <root>/usr/lib/systemd/system the host's own units (multi-user.target, network-online.target …)
//   <root>/usr/local/bin/gdoi-*   stand-ins for what scripts/install-systemd.sh expects to find there
//   <root>/bin/kill …             other Exec*= binaries, copied from this host
// Any line verify prints (unknown key, bad value, missing binary) fails the test; a deliberately broken
// unit shows the check is not vacuous. `systemd-analyze security --offline` scores the sandboxing.
// Without systemd-analyze (scripts/setup-debian.sh installs the `systemd` package) the test skips.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = join(dirname(fileURLToPath(import.meta.url)), '../../..')
const unitDir = join(repo, 'systemd')
const UNITS = ['gdoi-ks.service', 'gdoi-gm.service', 'gdoi-gm@.service'] as const
/** Installed binaries by the package names that provide them (package.json "bin"). */
const OUR_BINARIES: Readonly<Record<string, string>> = {
  '/usr/local/bin/gdoi-ks': 'packages/ks-daemon/package.json',
  '/usr/local/bin/gdoi-gm': 'packages/gm-daemon/package.json',
}
const HOST_UNIT_DIRS = ['/usr/lib/systemd/system', '/lib/systemd/system']

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.trim() : undefined
}

const analyze = which('systemd-analyze')
const hostUnits = HOST_UNIT_DIRS.find((d) => existsSync(join(d, 'sysinit.target')))
const skip =
  analyze === undefined
    ? 'systemd-analyze not installed (apt-get install systemd; scripts/setup-debian.sh does it)'
    : hostUnits === undefined
      ? 'no host unit directory with sysinit.target to build the verify root from'
      : false

type Unit = ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>

/** A unit file as section → key → values (repeated keys kept in order; comments dropped). */
function parseUnit(text: string): Unit {
  const sections = new Map<string, Map<string, string[]>>()
  let current: Map<string, string[]> | undefined
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue
    const m = /^\[(.+)\]$/.exec(line)
    if (m !== null) {
      current = new Map()
      sections.set(m[1] as string, current)
      continue
    }
    const eq = line.indexOf('=')
    if (current === undefined || eq < 0) throw new Error(`unparsable unit line: ${raw}`)
    const key = line.slice(0, eq)
    const values = current.get(key) ?? []
    values.push(line.slice(eq + 1))
    current.set(key, values)
  }
  return sections
}

function values(u: Unit, section: string, key: string): readonly string[] {
  return u.get(section)?.get(key) ?? []
}

function one(u: Unit, section: string, key: string): string | undefined {
  const v = values(u, section, key)
  return v.length === 1 ? v[0] : undefined
}

const units = new Map(UNITS.map((name) => [name, parseUnit(readFileSync(join(unitDir, name), 'utf8'))]))

/** The program of every Exec*= line (prefixes -@:+! stripped). */
function execBinaries(u: Unit): string[] {
  const out: string[] = []
  for (const [key, vals] of u.get('Service') ?? []) {
    if (!key.startsWith('Exec')) continue
    for (const v of vals) out.push(v.replace(/^[-@:+!]+/, '').split(/\s+/)[0] as string)
  }
  return out
}

function buildRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'gdoi-systemd-'))
  mkdirSync(join(root, 'usr/lib/systemd'), { recursive: true })
  cpSync(hostUnits as string, join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true })
  mkdirSync(join(root, 'etc/systemd/system'), { recursive: true })
  for (const name of UNITS) copyFileSync(join(unitDir, name), join(root, 'etc/systemd/system', name))
  for (const u of units.values()) {
    for (const bin of execBinaries(u)) {
      const dst = join(root, bin)
      if (existsSync(dst)) continue
      mkdirSync(dirname(dst), { recursive: true })
      if (bin in OUR_BINARIES) writeFileSync(dst, '#!/bin/sh\nexit 0\n')
      else copyFileSync(bin, dst) // throws (test fails) when the host lacks it: the unit names a wrong path
      chmodSync(dst, 0o755)
    }
  }
  return root
}

function run(args: readonly string[]): { status: number | null; output: string } {
  const r = spawnSync(analyze as string, [...args], { encoding: 'utf8', env: { ...process.env, SYSTEMD_PAGER: '', SYSTEMD_COLORS: '0', LC_ALL: 'C' } })
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() }
}

t.test('systemd-analyze verify: every unit loads with no warning', { skip }, (t) => {
  const root = buildRoot()
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  // The template is verified as the template and as an instance (specifiers expanded).
  for (const unit of ['gdoi-ks.service', 'gdoi-gm.service', 'gdoi-gm@.service', 'gdoi-gm@lab1.service']) {
    const r = run(['verify', '--man=no', '--generators=no', `--root=${root}`, unit])
    t.equal(r.output, '', `${unit}: verify prints nothing`)
    t.equal(r.status, 0, `${unit}: verify exits 0`)
  }
  t.end()
})

t.test('verify catches a broken unit (the check is not vacuous)', { skip }, (t) => {
  const root = buildRoot()
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const path = join(root, 'etc/systemd/system/gdoi-ks.service')
  const text = readFileSync(path, 'utf8')
  writeFileSync(path, text.replace('ProtectHome=yes', 'ProtectHome=yes\nProtectHomes=yes').replace('/usr/local/bin/gdoi-ks', '/usr/local/bin/gdoi-ksx'))
  const r = run(['verify', '--man=no', '--generators=no', `--root=${root}`, 'gdoi-ks.service'])
  t.match(r.output, /Unknown key 'ProtectHomes'|Unknown key name 'ProtectHomes'/)
  t.match(r.output, /gdoi-ksx is not executable/)
  t.not(r.status, 0)
  t.end()
})

t.test('sandbox exposure (systemd-analyze security --offline) stays low', { skip }, (t) => {
  const root = buildRoot()
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  for (const unit of ['gdoi-ks.service', 'gdoi-gm.service', 'gdoi-gm@lab1.service']) {
    const r = run(['security', '--offline=true', '--threshold=30', `--root=${root}`, unit])
    const m = /Overall exposure level for \S+: (\d+\.\d)/.exec(r.output)
    t.ok(m, `${unit}: exposure reported`)
    t.ok(Number(m?.[1]) <= 3.0, `${unit}: exposure ${m?.[1]} ≤ 3.0 (systemd calls < 5 "OK")`)
    t.equal(r.status, 0, `${unit}: below --threshold=30 (3.0)`)
  }
  t.end()
})

t.test('the units say what systemd/README.md promises', (t) => {
  const ks = units.get('gdoi-ks.service') as Unit
  const gm = units.get('gdoi-gm.service') as Unit
  const gmAt = units.get('gdoi-gm@.service') as Unit
  const pkgBin = (pkg: string): Record<string, string> => (JSON.parse(readFileSync(join(repo, pkg), 'utf8')) as { bin: Record<string, string> }).bin
  for (const [bin, pkg] of Object.entries(OUR_BINARIES)) {
    t.ok(bin.split('/').at(-1) as string in pkgBin(pkg), `${bin} is a bin of ${pkg}`)
  }
  t.equal(one(ks, 'Service', 'ExecStart'), '/usr/local/bin/gdoi-ks run --config /etc/gdoi/ks.yaml $GDOI_KS_ARGS')
  t.equal(one(gm, 'Service', 'ExecStart'), '/usr/local/bin/gdoi-gm run --config /etc/gdoi/gm.yaml $GDOI_GM_ARGS')
  t.equal(one(gmAt, 'Service', 'ExecStart'), '/usr/local/bin/gdoi-gm run --config /etc/gdoi/gm-%i.yaml $GDOI_GM_ARGS')
  // Least privilege: the KS binds 848; the GM also creates its TUN device. Non-root users for both.
  t.equal(one(ks, 'Service', 'User'), 'gdoi-ks')
  t.equal(one(ks, 'Service', 'CapabilityBoundingSet'), 'CAP_NET_BIND_SERVICE')
  t.equal(one(ks, 'Service', 'AmbientCapabilities'), 'CAP_NET_BIND_SERVICE')
  t.equal(one(ks, 'Service', 'RestrictAddressFamilies'), 'AF_INET AF_INET6 AF_UNIX')
  t.equal(one(ks, 'Service', 'StateDirectory'), 'gdoi')
  t.equal(one(ks, 'Service', 'RuntimeDirectory'), 'gdoi/ks')
  t.equal(one(ks, 'Service', 'RestartPreventExitStatus'), '2', 'a bad configuration (exit 2) is not retried')
  for (const [name, u] of [['gdoi-gm.service', gm], ['gdoi-gm@.service', gmAt]] as const) {
    t.equal(one(u, 'Service', 'User'), 'gdoi-gm', name)
    t.equal(one(u, 'Service', 'CapabilityBoundingSet'), 'CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_RAW', name)
    t.equal(one(u, 'Service', 'AmbientCapabilities'), 'CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_RAW', name)
    t.equal(one(u, 'Service', 'RestrictAddressFamilies'), 'AF_INET AF_INET6 AF_UNIX AF_NETLINK', name)
    t.equal(one(u, 'Service', 'DeviceAllow'), '/dev/net/tun rw', name)
    t.same(values(u, 'Service', 'StateDirectory'), [], `${name}: the member keeps no state`)
  }
  t.equal(one(gm, 'Service', 'RuntimeDirectory'), 'gdoi/gm')
  t.equal(one(gmAt, 'Service', 'RuntimeDirectory'), 'gdoi/gm-%i')
  for (const [name, u] of units) {
    for (const [key, want] of [
      ['NoNewPrivileges', 'yes'],
      ['ProtectSystem', 'strict'],
      ['ProtectHome', 'yes'],
      ['PrivateTmp', 'yes'],
      ['Restart', 'on-failure'],
      ['ExecReload', '/bin/kill -HUP $MAINPID'], // both daemons reload on SIGHUP (ks run.ts, gm cli-main.ts)
      ['ConfigurationDirectory', 'gdoi'],
      ['RuntimeDirectoryMode', '0700'], // control.ts wants its socket directory 0700 and owned by the daemon
      ['UMask', '0077'],
    ] as const) {
      t.equal(one(u, 'Service', key), want, `${name}: ${key}=${want}`)
    }
    t.equal(one(u, 'Install', 'WantedBy'), 'multi-user.target', `${name}: WantedBy`)
  }
  t.end()
})

t.test('scripts/install-systemd.sh parses (bash -n) and installs every unit in systemd/', (t) => {
  const script = join(repo, 'scripts/install-systemd.sh')
  const r = spawnSync('bash', ['-n', script], { encoding: 'utf8' })
  t.equal(r.status, 0, r.stderr)
  const shipped = readdirSync(unitDir).filter((f) => f.endsWith('.service'))
  t.same(shipped.sort(), [...UNITS].sort(), 'systemd/ holds exactly the tested units')
  t.end()
})

// A fake `ip` (iproute2) for routing.ts: `ip rule` and `ip route` tables kept in memory, every command
// recorded; `link show` knows the devices `wan` and `gdoi0`, `route get` answers via `wan`. Like the
// kernel, an identical rule is refused (File exists), a blackhole at another metric sits beside the
// route of the same destination (key "DST metric M"), and `route del TYPE DST` only takes that type.
// crash() does what the kernel does when the TUN disappears: the routes through it go.
import { RoutingError, type IpRunner } from '../../src/routing.js'

/** A fake `ip`: rules and tables in memory, commands recorded. */
export function fakeIp(main: unknown[] = [{ dst: 'default', gateway: '10.0.1.1', dev: 'wan' }, { dst: '10.1.1.0/24', dev: 'lan' }]) {
  const calls: string[] = []
  const rules: { priority: number; text: string }[] = [{ priority: 0, text: 'lookup local' }, { priority: 32766, text: 'lookup main' }]
  const tables = new Map<string, Map<string, Record<string, unknown>>>()
  let failOn: RegExp | undefined
  const ip: IpRunner = (args) => {
    const cmd = args.join(' ')
    calls.push(cmd)
    if (failOn?.test(cmd)) return Promise.reject(new RoutingError('ERR_ROUTING_IP', `ip ${cmd}: RTNETLINK answers: Operation not permitted`))
    const a = args.filter((x) => x !== '-4' && x !== '-j')
    if (a[0] === 'link') return Promise.resolve(a[3] === 'wan' || a[3] === 'gdoi0' ? '' : Promise.reject(new RoutingError('ERR_ROUTING_IP', 'no such device')))
    if (a[0] === 'rule' && a[1] === 'show') return Promise.resolve(JSON.stringify(rules.map((r) => ({ priority: r.priority }))))
    if (a[0] === 'rule' && a[1] === 'add') {
      if (rules.some((r) => r.priority === Number(a[3]) && r.text === a.slice(4).join(' '))) return Promise.reject(new RoutingError('ERR_ROUTING_IP', `ip ${cmd}: RTNETLINK answers: File exists`))
      rules.push({ priority: Number(a[3]), text: a.slice(4).join(' ') })
      return Promise.resolve('')
    }
    if (a[0] === 'rule' && a[1] === 'del') {
      const i = rules.findIndex((r) => r.priority === Number(a[3]))
      if (i < 0) return Promise.reject(new RoutingError('ERR_ROUTING_IP', 'No such file or directory'))
      rules.splice(i, 1)
      return Promise.resolve('')
    }
    if (a[0] === 'route' && a[1] === 'get') return Promise.resolve(JSON.stringify([{ dst: a[2], dev: 'wan' }]))
    const table = a[a.length - 1] ?? ''
    if (a[0] === 'route' && a[1] === 'show') {
      if (table === 'main') return Promise.resolve(JSON.stringify(main))
      const tb = tables.get(table)
      if (tb === undefined) return Promise.reject(new RoutingError('ERR_ROUTING_IP', `ip route show table ${table}: Error: ipv4: FIB table does not exist.`))
      return Promise.resolve(JSON.stringify([...tb.values()]))
    }
    if (a[0] === 'route' && a[1] === 'flush') {
      tables.delete(table)
      return Promise.resolve('')
    }
    if (a[0] === 'route' && (a[1] === 'replace' || a[1] === 'del')) {
      const rest = a.slice(2, -2)
      const typed = rest[0] === 'throw' || rest[0] === 'blackhole' || rest[0] === 'unicast'
      const type = typed ? (rest[0] ?? '') : 'unicast'
      const dst = (typed ? rest[1] : rest[0]) ?? ''
      const metric = rest.indexOf('metric') > 0 ? Number(rest[rest.indexOf('metric') + 1]) : 0
      const key = metric === 0 ? dst : `${dst} metric ${metric}`
      const tb = tables.get(table) ?? new Map<string, Record<string, unknown>>()
      tables.set(table, tb)
      if (a[1] === 'del') {
        const have = tb.get(key)
        if (have === undefined || (typed && (have['type'] ?? 'unicast') !== type)) return Promise.reject(new RoutingError('ERR_ROUTING_IP', `ip ${cmd}: RTNETLINK answers: No such process`))
        tb.delete(key)
      } else {
        const mtu = rest.indexOf('mtu')
        tb.set(key, { ...(type !== 'unicast' ? { type } : { dev: rest[2] }), dst, flags: [], ...(metric !== 0 ? { metric } : {}), ...(mtu > 0 ? { metrics: [{ mtu: Number(rest[mtu + 1]) }] } : {}) })
      }
      return Promise.resolve('')
    }
    return Promise.reject(new Error(`fake ip: unexpected ${cmd}`))
  }
  const crash = (dev = 'gdoi0'): void => {
    for (const tb of tables.values()) for (const [k, r] of tb) if (r['dev'] === dev) tb.delete(k)
  }
  return { ip, calls, rules, tables, crash, failOn: (re: RegExp | undefined) => (failOn = re) }
}

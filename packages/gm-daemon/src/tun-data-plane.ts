// The production data-plane factory: a kernel TUN device (config `tun`), the data-plane engineer's
// createDataPlane loop over the control plane's SaTable and downloaded ACL, and the kernel routing
// that sends protected traffic and incoming ESP into the device (routing.ts, README "Routing").
import { createDataPlane } from './dataplane/dataplane.js'
import { createPolicy } from './dataplane/policy.js'
import { EspSocket, type PacketSink } from './dataplane/esp-socket.js'
import { openTun, type TunDevice } from './dataplane/tun.js'
import type { DataPlaneContext, DataPlaneFactory, GmDataPlane } from './data-plane-seam.js'
import { innerMtuBytes, startRouting, type KernelRouting, type RoutingOptions } from './routing.js'

/** A factory over any TUN device opener (tests pass a memory TUN). No kernel routing. */
export function dataPlaneOver(open: (ctx: Parameters<DataPlaneFactory>[0]) => TunDevice | Promise<TunDevice>): DataPlaneFactory {
  return async (ctx) => {
    const tun = await open(ctx)
    const failClosed = ctx.config.dataPlane?.failClose ?? false
    const dp = createDataPlane({ tun, sas: ctx.sas, policy: createPolicy(ctx.acl), clock: ctx.clock, failClosed })
    const offload = tun.offload?.()
    ctx.log.info({ tun: tun.name, mtuBytes: tun.mtu, failClose: failClosed, offload: offload === undefined ? 'off' : offload.tso ? 'tso' : 'refused by the kernel' }, 'data plane started')
    let espOut: PacketSink | undefined
    const plane: GmDataPlane = {
      setAcl: (acl) => dp.setPolicy(createPolicy(acl)),
      snapshot: () => dp.snapshot(),
      // Only a kernel TUN's packets can take a socket: a memory TUN (tests) keeps everything in memory.
      ...('fd' in tun ? {
        setEspOut: (sink: PacketSink | undefined) => {
          espOut?.close()
          espOut = sink
          dp.setEspOut(sink)
        },
      } : {}),
      close: async () => {
        dp.setEspOut(undefined)
        espOut?.close()
        await dp.close()
      },
    }
    return plane
  }
}

/** Is kernel routing wanted? Config `routing` absent or enabled. */
export function routingEnabled(ctx: DataPlaneContext): boolean {
  return ctx.config.routing?.enabled !== false
}

/** Adds the kernel routing (routing.ts) to a data plane on a kernel TUN: installed now, updated with
 *  every ACL, removed before the device closes. `extra` overrides options (tests: a fake `ip`). */
export function withKernelRouting(inner: DataPlaneFactory, extra: Partial<RoutingOptions> = {}): DataPlaneFactory {
  return async (ctx) => {
    const plane = await inner(ctx)
    if (!routingEnabled(ctx)) {
      ctx.log.info({ tun: plane.snapshot().tun.name }, 'routing: none in the configuration; the kernel routing is left to the user')
      return plane
    }
    const r = ctx.config.routing
    const tunMtu = plane.snapshot().tun.mtuBytes
    // The socket needs the fwmark rule for real: not with a stand-in `ip` (tests), nor without a kernel TUN.
    const espSocket = (ctx.config.dataPlane?.espSocket ?? true) && plane.setEspOut !== undefined && extra.ip === undefined
    const espMark = ctx.config.dataPlane?.espMark
    let routing: KernelRouting
    try {
      routing = await startRouting(
        {
          tun: plane.snapshot().tun.name,
          interface: ctx.config.interface,
          keyServers: ctx.config.keyServers,
          localPort: ctx.config.local.port,
          ...(r?.table !== undefined ? { tableOut: r.table } : {}),
          ...(r?.preference !== undefined ? { preference: r.preference } : {}),
          innerMtuBytes: () => innerMtuBytes(tunMtu, ctx.sas.list().map((sa) => sa.fast.suite)),
          failClose: ctx.config.dataPlane?.failClose ?? false,
          espSocket,
          ...(espMark !== undefined ? { espMark } : {}),
          ...(ctx.config.dataPlane?.blockBeforeRegistration !== undefined ? { blockBeforeRegistration: ctx.config.dataPlane.blockBeforeRegistration } : {}),
          log: ctx.log.child({ part: 'routing' }),
          ...extra,
        },
        ctx.acl,
      )
    } catch (err) {
      await plane.close().catch(() => undefined)
      throw err
    }
    // The mark's rule is in place now: sealed ESP may leave on the socket (else it keeps the TUN).
    const mark = routing.espMark
    if (mark !== undefined) {
      try {
        plane.setEspOut?.(EspSocket.open({ mark }))
        ctx.log.info({ espMark: `0x${mark.toString(16)}` }, 'ESP socket: sealed packets leave on a raw socket')
      } catch (err) {
        ctx.log.warn({ err: (err as Error).message }, 'ESP socket not opened: sealed packets go through the TUN')
      }
    }
    // fail-close before the first registration: the stand-in ACL the routes send into the TUN, so the
    // data plane drops (and counts) what it would otherwise pass in clear
    if (routing.acl() !== ctx.acl) plane.setAcl(routing.acl())
    return {
      setAcl: (acl) => {
        plane.setAcl(acl)
        void routing.update(acl) // failures are logged and counted by the routing itself
      },
      snapshot: () => plane.snapshot(),
      routing: () => routing.status(),
      close: async () => {
        // Routes first: nothing is sent into a device that is about to disappear.
        await routing.close().catch((err: unknown) => ctx.log.warn({ err: (err as Error).message }, 'routing not fully removed'))
        await plane.close()
      },
    }
  }
}

/** TUN from the configuration (name and MTU) with kernel routing. Throws TunError (no device, no
 *  CAP_NET_ADMIN, no addon) or RoutingError (`ip` failed). */
export const tunDataPlane: DataPlaneFactory = withKernelRouting(
  dataPlaneOver((ctx) => openTun({ name: ctx.config.tun.name, mtuBytes: ctx.config.tun.mtuBytes, offload: ctx.config.tun.offload })),
)

// The production data-plane factory: a kernel TUN device (config `tun`) and the data-plane engineer's
// createDataPlane loop over the control plane's SaTable and downloaded ACL. Routing traffic into the
// device is the lab's job (README "Data plane").
import { createDataPlane } from './dataplane/dataplane.js'
import { createPolicy } from './dataplane/policy.js'
import { openTun, type TunDevice } from './dataplane/tun.js'
import type { DataPlaneFactory, GmDataPlane } from './data-plane-seam.js'

/** A factory over any TUN device opener (tests pass a memory TUN). */
export function dataPlaneOver(open: (ctx: Parameters<DataPlaneFactory>[0]) => TunDevice | Promise<TunDevice>): DataPlaneFactory {
  return async (ctx) => {
    const tun = await open(ctx)
    const dp = createDataPlane({ tun, sas: ctx.sas, policy: createPolicy(ctx.acl), clock: ctx.clock })
    ctx.log.info({ tun: tun.name, mtuBytes: tun.mtu }, 'data plane started')
    const plane: GmDataPlane = {
      setAcl: (acl) => dp.setPolicy(createPolicy(acl)),
      snapshot: () => dp.snapshot(),
      close: () => dp.close(),
    }
    return plane
  }
}

/** TUN from the configuration: name and MTU. Throws TunError (no device, no CAP_NET_ADMIN, no addon). */
export const tunDataPlane: DataPlaneFactory = dataPlaneOver((ctx) => openTun({ name: ctx.config.tun.name, mtuBytes: ctx.config.tun.mtuBytes }))

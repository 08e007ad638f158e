// The seam between the control plane and the data plane. The control plane owns the SaTable (it
// installs TEKs into it, with the activation/deactivation delays) and the downloaded ACL; a data plane,
// when there is one, reads both. startGroupMember() takes an optional factory: with it (TUN enabled)
// the data plane starts with the table and the current ACL and gets every ACL change; without it the
// member runs control-plane only (tests, the simulator).
import type { Logger } from 'pino'
import type { Clock as SaClock } from './dataplane/clock.js'
import type { DataPlaneSnapshot } from './dataplane/dataplane.js'
import type { PacketSink } from './dataplane/esp-socket.js'
import type { AclEntry } from './dataplane/policy.js'
import type { SaTable } from './dataplane/sa-table.js'
import type { GmConfig } from './config/types.js'
import type { RoutingStatus } from './routing.js'

export interface GmDataPlane {
  /** The downloaded ACL changed (registration or a rekey with new SATs). */
  setAcl(acl: readonly AclEntry[]): void
  /** Device state and counters (per SA too) for `status`. */
  snapshot(): DataPlaneSnapshot
  /** The kernel routing this data plane installed (routing.ts), for `status`; absent: it installs none. */
  routing?(): RoutingStatus
  /** Sends sealed ESP through this sink (the ESP socket) once the routing lets it; the plane closes it. */
  setEspOut?(sink: PacketSink | undefined): void
  /** Stops the loop and releases the device. The SaTable is closed by the control plane afterwards. */
  close(): Promise<void>
}

export interface DataPlaneContext {
  readonly config: GmConfig
  readonly sas: SaTable
  /** The ACL as of now (empty before the first registration). */
  readonly acl: readonly AclEntry[]
  readonly clock: SaClock
  readonly log: Logger
}

export type DataPlaneFactory = (ctx: DataPlaneContext) => Promise<GmDataPlane>

/** Does the configuration ask for a data plane? `tun: null` or `tun.enabled: false` means no. */
export function tunEnabled(config: GmConfig): boolean {
  const tun = config.tun as (GmConfig['tun'] & { readonly enabled?: boolean }) | null
  return tun !== null && tun.enabled !== false
}

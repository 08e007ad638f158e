// GM data plane: TUN device, packet buffers, ESP fast path, SA table, policy, the processing loop.
export { openTun, TunError, type KernelTunDevice, type OpenTunOptions, type TunDevice, type TunErrorCode, type TunStats } from './tun.js'
export { createMemoryTun, type MemoryTun, type MemoryTunKernel } from './memory-tun.js'
export { HEADROOM_BYTES, MAX_IV_BYTES, OUTER_IPV4_BYTES, PacketSlab, TAILROOM_BYTES } from './buffers.js'
export { createFastSa, defaultEngine, EspResult, type EspEngineName, type FastEspSa, type FastSaOptions, type SenderId } from './esp-fast.js'
export * from './ipv4.js'
export { createPolicy, GDOI_PORT, Policy, PolicyError, PolicyMatch, type AclEntry } from './policy.js'
export { ReplayGuard, ReplayWindow, type ReplayMode, type ReplayOptions } from './replay.js'
export { DataSa, SaTable, saChannel, type PolicySlot, type SaDirection, type SaState, type SaTableOptions, type TekInstall } from './sa-table.js'
export { systemClock, type Clock } from './clock.js'
export {
  createDataPlane, DataPlane, DataPlaneCounters, Verdict,
  type DataPlaneOptions, type DataPlaneSnapshot, type SaSnapshot,
} from './dataplane.js'
export { loadNative, NativeUnavailableError, tryLoadNative, type NativeAddon } from './native.js'

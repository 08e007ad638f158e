// @gdoi/gm-daemon: the GDOI group member. Control plane: startGroupMember (main.ts); data plane: ./dataplane.
export { startGroupMember, type GroupMember, type GroupMemberOptions, type ReloadResult } from './main.js'
export { runGroupMember, type RunOptions, type RunningDaemon } from './daemon.js'
export { buildStatus, renderStatus, type GmStatus, type IpsecSaStatus, type KekStatus, type IsakmpRow, type RoutingView } from './status.js'
export { tunEnabled, type DataPlaneContext, type DataPlaneFactory, type GmDataPlane } from './data-plane-seam.js'
export { dataPlaneOver, tunDataPlane } from './tun-data-plane.js'
export { GmChannel, publishGm, subscribeGm, waitForGm } from './diag.js'
export { selectorsToAcl, ciscoAclLine, selectorId } from './acl.js'
export { reregisterAtMs, backoffMs, DEFAULT_BACKOFF, type BackoffPolicy } from './rekey-timer.js'

// Configuration reload without a restart (SIGHUP, control `reload`).
//
// Applied at once:     IKE policies and pre-shared keys (next phase 1), group authorization (next
//                      registration), rekey retransmit period/count and RFC 8263 ACK request (next push),
//                      groups added or removed, rekey switched on or off.
// Deferred (applied at the next rekey): the ACL, the ESP transform and the TEK lifetime (the next TEK is created
//                      with them; the live TEKs keep theirs, so all members keep the same SAs), the
//                      KEK algorithm and lifetime (next KEK), GAP delays.
// Needs a restart (reported, not applied): listen address/port, stateDir, controlSocket, keylog, log
//                      settings, limits, compat, metrics, a group's identity, a different rekey signing key (members verify
//                      pushes with the key they got at registration).
import { LogEvent } from '@gdoi/daemon-kit'
import type { KsConfig, KsGroupConfig, SigningKeyConfig } from './config/index.js'
import type { KsContext } from './main.js'
import { buildResponderConfig, createGroup } from './main.js'

export interface ReloadResult {
  readonly applied: readonly string[]
  readonly deferred: readonly string[]
  readonly restartRequired: readonly string[]
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

function sameKey(a: SigningKeyConfig, b: SigningKeyConfig): boolean {
  return same(a, b)
}

export async function applyReload(ctx: KsContext, next: KsConfig, exchangeMaxMs: number): Promise<ReloadResult> {
  const prev = ctx.config
  const applied: string[] = []
  const deferred: string[] = []
  const restartRequired: string[] = []
  const check = (path: string, a: unknown, b: unknown): void => {
    if (!same(a, b)) restartRequired.push(path)
  }
  check('listen', prev.listen, next.listen)
  check('stateDir', prev.stateDir, next.stateDir)
  check('controlSocket', prev.controlSocket, next.controlSocket)
  check('keylog', prev.keylog, next.keylog)
  check('log', prev.log, next.log)
  check('limits', prev.limits, next.limits)
  check('compat', prev.compat, next.compat)
  check('metrics', prev.metrics ?? null, next.metrics ?? null)
  check('store', prev.store.kind === 'etcd' ? { ...prev.store, keyEncryptionKey: null } : prev.store, next.store.kind === 'etcd' ? { ...next.store, keyEncryptionKey: null } : next.store)
  if (prev.store.kind === 'etcd' && next.store.kind === 'etcd' && !prev.store.keyEncryptionKey.equals(next.store.keyEncryptionKey)) restartRequired.push('store.keyEncryptionKey')

  // Build everything that can fail before changing anything.
  const ike = buildResponderConfig(next, ctx.log, ctx.clock, exchangeMaxMs)
  const ikeChanged = !same(prev.ike.policies, next.ike.policies) || !same(prev.ike.identity, next.ike.identity) || !same(prev.ike.preSharedKeys.map((k) => k.peer), next.ike.preSharedKeys.map((k) => k.peer)) || prev.ike.preSharedKeys.some((k, i) => next.ike.preSharedKeys[i] === undefined || !k.key.equals((next.ike.preSharedKeys[i] as (typeof next.ike.preSharedKeys)[number]).key))

  const merged: KsGroupConfig[] = []
  for (const ng of next.groups) {
    const g = ctx.groups.get(ng.name)
    if (g === undefined) {
      merged.push(ng)
      continue
    }
    const og = g.cfg
    let effective: KsGroupConfig = ng
    if (!same(og.identity, ng.identity)) {
      restartRequired.push(`groups.${ng.name}.identity`)
      effective = { ...effective, identity: og.identity }
    }
    if (og.rekey !== null && ng.rekey !== null && !sameKey(og.rekey.signingKey, ng.rekey.signingKey)) {
      restartRequired.push(`groups.${ng.name}.rekey.signingKey`)
      effective = { ...effective, rekey: { ...ng.rekey, signingKey: og.rekey.signingKey } }
    }
    if (!same(og.acl, ng.acl)) deferred.push(`groups.${ng.name}.acl`)
    if (!same(og.transform, ng.transform)) deferred.push(`groups.${ng.name}.transform`)
    if (og.tekLifetimeSec !== ng.tekLifetimeSec) deferred.push(`groups.${ng.name}.tekLifetimeSec`)
    if (!same(og.kek, ng.kek)) deferred.push(`groups.${ng.name}.kek`)
    if (!same(og.gap, ng.gap)) deferred.push(`groups.${ng.name}.gap`)
    if (!same(og.authorization, ng.authorization)) applied.push(`groups.${ng.name}.authorization`)
    if ((og.rekey === null) !== (ng.rekey === null)) applied.push(`groups.${ng.name}.rekey`)
    else if (og.rekey !== null && ng.rekey !== null && !same({ ...og.rekey, signingKey: null }, { ...ng.rekey, signingKey: null })) {
      applied.push(`groups.${ng.name}.rekey`)
    }
    merged.push(effective)
  }

  // Apply.
  ctx.config = {
    ...next,
    listen: prev.listen,
    stateDir: prev.stateDir,
    controlSocket: prev.controlSocket,
    keylog: prev.keylog,
    log: prev.log,
    limits: prev.limits,
    compat: prev.compat,
    store: prev.store,
    groups: merged,
  }
  ctx.ike = ike
  if (ikeChanged) applied.push('ike')
  for (const g of ctx.groups.all()) {
    if (merged.some((m) => m.name === g.name)) continue
    ctx.rekeyer.unschedule(g)
    ctx.groups.delete(g.name)
    applied.push(`groups.${g.name} removed`)
    ctx.log.warn({ group: g.name }, 'group removed by reload: its members get no more rekeys')
  }
  for (const cfg of merged) {
    const g = ctx.groups.get(cfg.name)
    const follower = ctx.cluster !== undefined && !ctx.cluster.isPrimary
    if (g === undefined) {
      // Cluster: a follower takes the new group's keys from etcd once the primary made them.
      const created = await createGroup(ctx, cfg, ctx.cluster?.store.committedGroup(cfg.name), { createKeys: !follower })
      ctx.groups.add(created)
      await ctx.cluster?.attach(created)
      if (!follower) ctx.rekeyer.schedule(created)
      applied.push(`groups.${cfg.name} added`)
      continue
    }
    const wasRekey = g.cfg.rekey !== null
    g.cfg = cfg
    if (wasRekey && cfg.rekey === null) {
      g.kek = null
      ctx.rekeyer.unschedule(g)
      if (!follower) ctx.rekeyer.schedule(g)
    } else if (!wasRekey && cfg.rekey !== null) {
      g.signing = await ctx.loadSigningKey(cfg.rekey.signingKey, ctx.config.stateDir)
      ctx.rekeyer.unschedule(g)
      if (!follower) {
        g.kek = ctx.rekeyer.newKek(g, ctx.clock.nowMs())
        ctx.rekeyer.schedule(g)
      }
    }
  }
  await ctx.cluster?.configReloaded().catch(() => {}) // cluster: the primary's policy is what followers serve
  await ctx.persist.save('reload').catch(() => {})
  const result = { applied, deferred, restartRequired }
  ctx.log.info({ event: LogEvent.CONFIG_RELOADED, ...result }, 'configuration reloaded')
  if (restartRequired.length > 0) ctx.log.warn({ event: LogEvent.CONFIG_WARNING, restartRequired }, 'some changes need a restart and were not applied')
  return result
}

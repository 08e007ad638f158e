// The member's diagnostics channels are daemon-kit's DiagChannel names (one list for tools), and
// subscribing through daemon-kit or through subscribeGm sees the same messages.
import t from 'tap'
import { DiagChannel, subscribe } from '@gdoi/daemon-kit'
import { GmChannel, publishGm, subscribeGm } from '../src/diag.js'

t.test('every GmChannel is a daemon-kit DiagChannel name', (t) => {
  const known = new Set<string>(Object.values(DiagChannel))
  for (const [k, v] of Object.entries(GmChannel)) t.ok(known.has(v), `${k} = ${v}`)
  t.same(
    [GmChannel.PUSH_ACCEPTED, GmChannel.PUSH_REJECTED, GmChannel.KS_FAILOVER, GmChannel.KEK_RETIRED, GmChannel.TEK_ACTIVATED, GmChannel.STOPPED, GmChannel.RELOADED],
    ['gdoi:gm:push-accepted', 'gdoi:gm:push-rejected', 'gdoi:gm:ks-failover', 'gdoi:gm:kek-retired', 'gdoi:gm:tek-activated', 'gdoi:gm:stopped', 'gdoi:gm:reloaded'],
  )
  t.end()
})

t.test('a GM event reaches daemon-kit subscribers', (t) => {
  const got: unknown[] = []
  const un1 = subscribe(DiagChannel.GM_KS_FAILOVER, (m) => got.push(['kit', m['peer']]))
  const un2 = subscribeGm(GmChannel.KS_FAILOVER, (m) => got.push(['gm', m['peer']]))
  publishGm(GmChannel.KS_FAILOVER, { gm: '10.0.1.1:848', group: 'G', peer: '10.0.0.2:848' })
  un1()
  un2()
  t.same(got, [['kit', '10.0.0.2:848'], ['gm', '10.0.0.2:848']])
  t.end()
})

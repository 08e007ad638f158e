// Text forms of ISAKMP identities and group identities for logs, state and status (never key material).
import { IdType } from '@gdoi/wire/constants'
import type { IdPayload } from '@gdoi/wire'
import { formatIp } from '@gdoi/wire/exchange/ip-address'
import type { GroupIdentity } from '@gdoi/daemon-kit'

const utf8 = new TextDecoder('utf-8', { fatal: false })

function hexOf(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
}

/** `ipv4 10.0.1.2`, `fqdn gm1.example`, `dn CN=gm1,O=lab`, `keyid 000004d2`. */
export function describeId(id: IdPayload): string {
  switch (id.idType) {
    case IdType.IPV4_ADDR:
    case IdType.IPV6_ADDR:
      return `${id.idType === IdType.IPV4_ADDR ? 'ipv4' : 'ipv6'} ${formatIp(id.data) ?? hexOf(id.data)}`
    case IdType.FQDN:
      return `fqdn ${utf8.decode(id.data)}`
    case IdType.USER_FQDN:
      return `user-fqdn ${utf8.decode(id.data)}`
    case IdType.KEY_ID:
      return `keyid ${hexOf(id.data)}`
    case IdType.DER_ASN1_DN:
      return `dn ${hexOf(id.data).slice(0, 64)}`
    default:
      return `id-type-${id.idType} ${hexOf(id.data).slice(0, 64)}`
  }
}

export function groupIdentityText(g: GroupIdentity): string {
  return g.kind === 'number' ? String(g.number) : g.address
}

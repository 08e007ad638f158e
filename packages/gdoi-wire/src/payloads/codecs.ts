// All payload body codecs under one name, so the package root does not export short generic names
// (`hash`, `id`, `sig` …) that collide with other modules. Import a single codec from its own
// module (`@gdoi/wire/payloads/seq`) or use `PayloadCodecs.seq`.
import { cert, cr } from './cert.js'
import { del } from './delete.js'
import { gap } from './gap.js'
import { hash } from './hash.js'
import { id } from './id.js'
import { ke } from './ke.js'
import { keyDownload } from './key-download.js'
import { nonce } from './nonce.js'
import { notification } from './notification.js'
import { sa } from './sa.js'
import { saKek } from './sa-kek.js'
import { saTek } from './sa-tek.js'
import { seq } from './seq.js'
import { sig } from './sig.js'
import { unknown } from './unknown.js'
import { vendorId } from './vendor-id.js'

export const PayloadCodecs = {
  sa, saKek, saTek, gap, keyDownload, seq, ke, id, nonce, hash, sig, cert, cr, notification, del, vendorId, unknown,
} as const

import t from 'tap'
import { CertEncoding, PayloadType } from '../../src/constants.js'
import { decodePayload } from '../../src/message.js'
import { assertRoundTrip } from '../helpers/round-trip.js'
import { assertDecodeError, assertVector, hex } from '../helpers/vectors.js'

t.test('CERT and CR round trip', (t) => {
  assertRoundTrip(t, { type: PayloadType.CERT, encoding: CertEncoding.X509_SIGNATURE, data: hex('3082010a0282010100') })
  assertRoundTrip(t, { type: PayloadType.CERT, encoding: CertEncoding.CRL, data: new Uint8Array(0) })
  assertRoundTrip(t, { type: PayloadType.CR, certType: CertEncoding.X509_SIGNATURE, authority: new Uint8Array(0) })
  assertRoundTrip(t, { type: PayloadType.CR, certType: CertEncoding.X509_SIGNATURE, authority: hex('3011310f300d060355040313064341') })
  t.end()
})

t.test('RFC 2408 §3.9/§3.10 layouts', (t) => {
  // CERT: encoding 4 (X.509 signature) + DER octets; CR: cert type 4, empty CA (any CA).
  assertVector(t, '0700000a 04 3003020101', PayloadType.CERT, { type: PayloadType.CERT, encoding: 4, data: hex('3003020101') })
  assertVector(t, '00000005 04', PayloadType.CR, { type: PayloadType.CR, certType: 4, authority: new Uint8Array(0) })
  t.end()
})

t.test('an empty body has no encoding octet', (t) => {
  assertDecodeError(t, () => decodePayload(hex('00000004'), 0, PayloadType.CERT, 'ike'), 'ERR_TRUNCATED', 4)
  assertDecodeError(t, () => decodePayload(hex('00000004'), 0, PayloadType.CR, 'ike'), 'ERR_TRUNCATED', 4)
  t.end()
})

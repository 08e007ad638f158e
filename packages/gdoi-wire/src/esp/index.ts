// ESP reference implementation (spec §4): transform table, seal/open, RFC 6054 sender IVs.
export {
  ESP_HEADER_BYTES, EspSuiteError, espLength, espMaxInnerBytes, espPadBytes, espSuite,
  type EspHmacName, type EspMode, type EspSaParams, type EspSuite, type EspSuiteErrorCode,
} from './suite.js'
export { EspNextHeader, openEsp, sealEsp, type EspOpenResult } from './esp.js'
export { maxSenderCounter, senderIdOfIv, senderIv, writeSenderIv } from './sender-iv.js'

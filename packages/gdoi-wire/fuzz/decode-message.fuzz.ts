// A Jazzer.js / libFuzzer-style entry point (STYLE.md "Tests → Fuzz"): `fuzz(data)` runs one target of
// targets.ts — `datagram` (decodeMessage) unless GDOI_FUZZ_TARGET names another — and throws only for a
// bug; DecodeError (a rejected input) returns normally. The same functions run time-boxed under
// fast-check in test/fuzz/fuzz.test.ts and for millions of inputs in long-run.ts.
// Jazzer.js 4.0.0 cannot run on this project's Debian 12 hosts (its prebuilt addon needs glibc 2.38);
// see RELIABILITY.md. With a newer glibc, from the repo root (Jazzer installed outside the workspace):
//   TS_NODE_TRANSPILE_ONLY=1 NODE_OPTIONS="--conditions=@gdoi/source --import=$PWD/node_modules/.pnpm/node_modules/@tapjs/typescript/dist/esm/import.mjs" \
//     npx jazzer packages/gdoi-wire/fuzz/decode-message.fuzz.ts corpus-dir -- -max_len=65507
import { bugKind, target } from './targets.js'

const chosen = target(process.env['GDOI_FUZZ_TARGET'] ?? 'datagram')

export function fuzz(data: Uint8Array): void {
  try {
    chosen.run(data)
  } catch (e) {
    if (bugKind(e) !== undefined) throw e
  }
}

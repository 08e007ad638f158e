// @gdoi/ks-daemon: the GDOI key server (gdoi-ks). The daemon itself is `startKeyServer`; the CLI
// (cli.ts) wires it to node:dgram, the real clock, the file store and the control socket.
export * from './main.js'
export * from './status.js'
export * from './status-text.js'
export * from './reload.js'
export * from './rekey.js'
export * from './sessions.js'
export * from './counters.js'
export * from './config/index.js'
export * from './store/index.js'

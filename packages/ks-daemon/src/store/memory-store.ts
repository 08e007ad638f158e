// KsStore in memory, for tests and for a KS run without persistence. It goes through the same codec
// as the file store, so a test sees exactly what a restart would load.
import { decodeState, encodeState } from './state-codec.js'
import { StoreError, type KsState, type KsStore } from './types.js'

export interface MemoryStore extends KsStore {
  /** How many saves completed. */
  readonly saves: number
}

export function createMemoryStore(initial?: KsState): MemoryStore {
  let json: string | undefined = initial ? JSON.stringify(encodeState(initial)) : undefined
  let closed = false
  let saves = 0
  return {
    get saves() {
      return saves
    },
    load() {
      if (closed) return Promise.reject(new StoreError('ERR_STATE_CLOSED', 'store is closed'))
      return Promise.resolve(json === undefined ? undefined : decodeState(JSON.parse(json) as unknown, 'memory store'))
    },
    save(state) {
      if (closed) return Promise.reject(new StoreError('ERR_STATE_CLOSED', 'store is closed'))
      json = JSON.stringify(encodeState(state))
      saves++
      return Promise.resolve()
    },
    close() {
      closed = true
      return Promise.resolve()
    },
  }
}

// KsStore in memory, for tests and for a KS run without persistence. It goes through the same codec
// as the file store, so a test sees exactly what a restart would load.
import { applyMemberChanges, decodeMemberChange, decodeState, encodeMemberChange, encodeState } from './state-codec.js'
import { StoreError, type KsState, type KsStore } from './types.js'

export interface MemoryStore extends KsStore {
  /** How many saves completed. */
  readonly saves: number
  /** How many incremental member writes (saveMembers) completed. */
  readonly memberSaves: number
}

export function createMemoryStore(initial?: KsState): MemoryStore {
  let json: string | undefined = initial ? JSON.stringify(encodeState(initial)) : undefined
  let closed = false
  let saves = 0
  let memberSaves = 0
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
    saveMembers(changes) {
      if (closed) return Promise.reject(new StoreError('ERR_STATE_CLOSED', 'store is closed'))
      if (json === undefined) return Promise.reject(new StoreError('ERR_STATE_IO', 'memory store: no full save yet'))
      // through the journal codec, as the file store does
      const decoded = changes.map((c) => decodeMemberChange(JSON.parse(encodeMemberChange(c)) as unknown, 'memory store journal'))
      json = JSON.stringify(encodeState(applyMemberChanges(decodeState(JSON.parse(json) as unknown, 'memory store'), decoded)))
      memberSaves++
      return Promise.resolve()
    },
    membersJournalFull: () => json === undefined,
    get memberSaves() {
      return memberSaves
    },
    close() {
      closed = true
      return Promise.resolve()
    },
  }
}

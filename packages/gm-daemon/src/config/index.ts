export * from './types.js'
export * from './schema.js'
export * from './ios.js'
export * from './load.js'

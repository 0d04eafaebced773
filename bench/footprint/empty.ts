// An empty module: loading it costs exactly what Node's TypeScript stripper costs (footprint-imports bench).
export const empty = true

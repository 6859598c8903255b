// A TypeScript module imported from a TypeScript script.
export interface Pair<T> { a: T; b: T }
export function sum(p: Pair<number>): number {
  return p.a + p.b;
}

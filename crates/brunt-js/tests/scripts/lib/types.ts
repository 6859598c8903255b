// A TypeScript module imported from a TypeScript script.
export interface Pair<T> { a: T; b: T }
export function sum(p: Pair<number>): number {
  return p.a + p.b;
}
// An interface exported by name (as k6's examples/enhanced/user.ts does): esbuild drops it.
interface Named { name: string }
export { Named };

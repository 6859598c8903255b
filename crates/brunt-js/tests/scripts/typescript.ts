// A TypeScript script (k6 v1.1+ strips the types of .ts files by default).
import { check } from 'k6';
// `Named` is a type imported without `type`: like esbuild, brunt drops the unused import.
import { sum, type Pair, Named } from './lib/types.ts';

type Options = { iterations: number; thresholds: Record<string, string[]> };

export const options: Options = { iterations: 1, thresholds: { checks: ['rate==1'] } };

class Counter {
  private n: number = 0;
  inc(by?: number): this { this.n += by ?? 1; return this; }
  get value(): number { return this.n; }
}

export default function (): void {
  const p: Pair<number> = { a: 2, b: 3 };
  const c = new Counter().inc().inc(2);
  check(null, {
    'typed import': () => sum(p) === 5,
    'class with types': () => c.value === 3,
    'as and non-null': () => (p as Pair<number>)!.a === 2,
    'a type imported by name': () => ({ name: 'x' } as Named).name === 'x',
  });
}

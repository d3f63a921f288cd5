// A small seeded PRNG (mulberry32): the generator must give byte-identical files for the same
// version, so nothing here may depend on Math.random or the platform.
import { mulberry32 } from "../util/prng";

export class Prng {
  private readonly rand: () => number;
  constructor(seed: number) {
    this.rand = mulberry32(seed);
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.rand();
  }
  /** Uniform in [-a, a). */
  uniform(a: number): number {
    return (this.next() * 2 - 1) * a;
  }
  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

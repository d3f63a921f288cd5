// One seeded PRNG for everything that must be reproducible (bootstrap resampling, the model
// generator, fuzzing): nothing deterministic may depend on Math.random or the platform.

/** mulberry32: a small, fast, well-distributed 32-bit PRNG; deterministic for a given seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

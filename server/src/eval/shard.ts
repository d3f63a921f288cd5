// `--shard I/N`: a deterministic split of every eval set's cases over N runners (a CI matrix).
// Case k of an eval set (its position in the file, 0-based) belongs to shard (k mod N) + 1: every
// runner computes the same split from the same checkout, the shards are disjoint and together
// cover every case, and their sizes differ by at most one.

export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
}

/** Parses "I/N" (1 ≤ I ≤ N); throws an Error saying what to write otherwise. */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new Error(`--shard must be I/N (e.g. 1/4: the first of four shards), not '${text}'`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || count > 10_000) throw new Error(`--shard ${text}: N must be from 1 to 10000`);
  if (index < 1 || index > count) throw new Error(`--shard ${text}: I must be from 1 to ${count}`);
  return { index, count };
}

/** Whether the case at position `ord` of its eval set belongs to the shard. */
export function inShard(ord: number, shard: Shard): boolean {
  return ord % shard.count === shard.index - 1;
}

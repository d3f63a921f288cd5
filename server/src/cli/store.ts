// `driftlens store merge SHARD.db...`: the stores of sharded runs (`driftlens eval --shard I/N`,
// one per CI runner) merged into the workspace's store, so one fully cached `driftlens eval`
// afterwards reports exactly what an unsharded run would.
import path from "node:path";
import { Workspace } from "../artifacts";
import { mergeStores } from "../store/merge";
import { Store, StoreError } from "../store/store";
import { CliError, EXIT_OK, parseArgs, type CliIO, type Command } from "./common";

const USAGE = `Usage: driftlens store merge SHARD.db... [options]

Merges stores written by separate runs (e.g. 'driftlens eval --shard I/N' on N CI runners) into
this workspace's store: artifact versions, runs and their results, cached generations. Then
'driftlens eval' (same options, without --shard) answers every case from the cache and reports
what one unsharded run reports. The shard stores are only read.

Options:
  --into FILE      the store to merge into (default: 'store:' of driftlens.yaml)
  --format F       text (default) | json
  --root DIR       workspace root (default: the current folder)
`;

const FLAGS = {
  into: { type: "string" },
  format: { type: "string", choices: ["text", "json"] },
  root: { type: "string" },
} as const;

export const storeCommand: Command = {
  summary: "store maintenance: merge the stores of sharded runs",
  async run(argv: string[], io: CliIO): Promise<number> {
    const args = parseArgs(argv, FLAGS);
    const [verb, ...files] = args.positionals;
    if (args.help || !verb) {
      io.out(USAGE);
      return args.help ? EXIT_OK : 2;
    }
    if (verb !== "merge") throw new CliError(`unknown store command '${verb}'; the store command knows: merge`);
    if (files.length === 0) throw new CliError("nothing to merge: give the shard stores, e.g. driftlens store merge shards/*.db");
    const root = path.resolve(io.cwd, (args.flags.root as string | undefined) ?? ".");
    const into = args.flags.into ? path.resolve(io.cwd, args.flags.into as string) : new Workspace(root).config().config.store;
    let target: Store;
    try {
      target = Store.open(into);
    } catch (e) {
      if (e instanceof StoreError) throw new CliError(e.message);
      throw e;
    }
    try {
      const summary = mergeStores(
        target,
        files.map((f) => path.resolve(io.cwd, f)),
      );
      if (args.flags.format === "json") io.out(JSON.stringify({ into, ...summary }, null, 2) + "\n");
      else {
        io.out(
          `merged ${summary.sources.length} store${summary.sources.length === 1 ? "" : "s"} into ${path.relative(io.cwd, into) || into}: ${summary.runs} runs (${summary.results} results), ${summary.generations} cached generations, ${summary.artifactVersions} artifact versions${summary.runsSkipped ? `; ${summary.runsSkipped} runs were already there` : ""}\n`,
        );
        if (summary.conflicts.length) {
          io.err(`warning: ${summary.conflicts.length} cached generation${summary.conflicts.length === 1 ? "" : "s"} differ between stores (the first store's kept): the shards generated different outputs for the same request, so the engine or server is not deterministic for them\n`);
        }
      }
      return EXIT_OK;
    } catch (e) {
      if (e instanceof StoreError) throw new CliError(e.message);
      throw e;
    } finally {
      target.close();
    }
  },
};

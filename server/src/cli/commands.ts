// The command table: one entry per `driftlens` command, each implemented in its own file.
import type { Command } from "./common";
import { checkCommand } from "./check";
import { compareCommand } from "./compare";
import { demoCommand } from "./demo";
import { diffCommand } from "./diff";
import { renderCommand } from "./render";
import { evalCommand } from "./eval";
import { kldCommand } from "./kld";
import { storeCommand } from "./store";
import { importCommand } from "./import";

export const commands: Record<string, Command> = {
  check: checkCommand,
  compare: compareCommand,
  demo: demoCommand,
  diff: diffCommand,
  render: renderCommand,
  eval: evalCommand,
  kld: kldCommand,
  store: storeCommand,
  import: importCommand,
};

// The command table: one entry per `driftlens` command, each implemented in its own file.
import type { Command } from "./common";
import { compareCommand } from "./compare";
import { diffCommand } from "./diff";

export const commands: Record<string, Command> = {
  compare: compareCommand,
  diff: diffCommand,
};

// The command table: one entry per `driftlens` command, each implemented in its own file.
import type { Command } from "./common";

export const commands: Record<string, Command> = {};

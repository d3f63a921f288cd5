// Entry point: builds the one context object and delegates. Everything with a lifetime lives in
// Ctx (extension lifetime) or in its client-lifetime list (rebuilt on every server restart).
import type * as vscode from "vscode";
import { Ctx } from "./ctx";

let ctx: Ctx | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<{ ctx: Ctx }> {
  ctx = new Ctx(context);
  await ctx.activate();
  return { ctx };
}

export async function deactivate(): Promise<void> {
  await ctx?.dispose();
  ctx = undefined;
}

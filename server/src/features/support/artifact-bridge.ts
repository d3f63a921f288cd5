// Creates the artifact Workspace (server/src/artifacts) for a root, wired to the language
// server's lazy token counter for the context-length check. Served variants' endpoints are asked
// what they serve (diagnostics, hover) only in a trusted workspace.
import type { ConfigOverrides } from "../../artifacts/effective-config";
import { Workspace, type CountTokens } from "../../artifacts/workspace";
import { checkEndpoint } from "../../llm/remote/check";
import { workspaceTrusted } from "./trust";

export type ServerWorkspace = Workspace;

/** This thread's editor settings over driftlens.yaml (the server core sets them; the diagnostics worker gets them by message). */
let overrides: ConfigOverrides | undefined;
export function setConfigOverrides(o: ConfigOverrides | undefined): void {
  overrides = o;
}

export function createWorkspace(root: string, countTokens?: CountTokens): ServerWorkspace {
  return new Workspace(root, { ...(countTokens ? { countTokens } : {}), ...(workspaceTrusted() ? { checkEndpoint } : {}), configOverrides: () => overrides });
}

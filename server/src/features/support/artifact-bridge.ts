// Creates the artifact Workspace (server/src/artifacts) for a root, wired to the
// language server's lazy token counter for the context-length check.
import { Workspace, type CountTokens } from "../../artifacts/workspace";

export type ServerWorkspace = Workspace;

export function createWorkspace(root: string, countTokens?: CountTokens): ServerWorkspace {
  return new Workspace(root, countTokens ? { countTokens } : {});
}

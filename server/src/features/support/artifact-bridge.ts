// Creates the artifact Workspace for a root. Engineer A's Workspace (server/src/artifacts) is not
// in the tree yet; until it lands this shell serves no diagnostics so the server still starts.
import type { ArtifactWorkspace } from "./workspaces";

export type ServerWorkspace = ArtifactWorkspace;

export function createWorkspace(_root: string): ServerWorkspace {
  return {
    setOverlay() {},
    async diagnose() {
      return [];
    },
    dependents() {
      return [];
    },
    listArtifacts() {
      return [];
    },
  };
}

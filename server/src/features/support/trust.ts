// Workspace trust as the extension passes it (DRIFTLENS_TRUSTED=0 for a restricted workspace).
// In a restricted workspace the server generates nothing and asks no served model's endpoint
// anything: nothing is sent anywhere.
export function workspaceTrusted(): boolean {
  return process.env.DRIFTLENS_TRUSTED !== "0";
}

// HTML shell shared by the webviews: CSP `default-src 'none'`, the one script by nonce from
// crypto.randomBytes, styles from the webview's own origin only, no remote content.
import crypto from "node:crypto";
import * as vscode from "vscode";

export function nonce(): string {
  return crypto.randomBytes(18).toString("base64").replace(/[+/=]/g, "");
}

/** Webview options: scripts on, only dist/webviews readable. */
export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return {
    enableScripts: true,
    enableCommandUris: false,
    retainContextWhenHidden: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, "dist", "webviews")],
  };
}

export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, bundle: "compare" | "delta", title: string): string {
  const n = nonce();
  const script = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, "dist", "webviews", `${bundle}.js`));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, "dist", "webviews", `${bundle}.css`));
  const csp = [
    "default-src 'none'",
    `style-src ${webview.cspSource}`,
    `img-src ${webview.cspSource}`,
    `font-src ${webview.cspSource}`,
    `script-src 'nonce-${n}'`,
  ].join("; ");
  const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<title>${esc(title)}</title>
</head>
<body>
<div id="app"></div>
<script nonce="${n}" src="${script}"></script>
</body>
</html>`;
}

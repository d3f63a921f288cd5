// No function in server/src or extension/src runs over 150 lines, except those docs/architecture.md
// names with the reason ("Long functions, on purpose"). Long functions hide their seams: a reader
// should find one step per function. Counted with the TypeScript parser: every function
// declaration, method, constructor, accessor, function expression and arrow function, from its
// first line to its last (nested functions count inside their parent too).
// To see it fail: paste 150 blank lines into any function in server/src and run
// `npm test -- unit/architecture`.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import ts from "typescript";
import { REPO_ROOT } from "../../helpers/paths";

const MAX_LINES = 150;

function sourceFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [p] : [];
  });
}

function nameOf(node: ts.Node, sf: ts.SourceFile): string {
  const named = node as ts.Node & { name?: ts.Node };
  if (named.name) return named.name.getText(sf);
  const parent = node.parent;
  if (parent && ts.isVariableDeclaration(parent)) return parent.name.getText(sf);
  if (parent && ts.isPropertyAssignment(parent)) return parent.name.getText(sf);
  if (ts.isConstructorDeclaration(node)) return "constructor";
  return "(anonymous)";
}

/** `file:name` → lines, for every function longer than MAX_LINES. */
function longFunctions(): Map<string, number> {
  const out = new Map<string, number>();
  for (const root of ["server/src", "extension/src"]) {
    for (const file of sourceFiles(path.join(REPO_ROOT, root))) {
      const sf = ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
      const visit = (node: ts.Node): void => {
        if (ts.isFunctionLike(node) && (node as ts.FunctionLikeDeclaration).body) {
          const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
          const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
          const lines = end - start + 1;
          if (lines > MAX_LINES) out.set(`${path.relative(REPO_ROOT, file).split(path.sep).join("/")}:${nameOf(node, sf)}`, lines);
        }
        ts.forEachChild(node, visit);
      };
      visit(sf);
    }
  }
  return out;
}

/** The functions docs/architecture.md lets run long: `- \`file:name\`` lines under its heading. */
function allowed(): Set<string> {
  const guide = fs.readFileSync(path.join(REPO_ROOT, "docs/architecture.md"), "utf8");
  const section = guide.split(/^## Long functions, on purpose$/m)[1]?.split(/^## /m)[0] ?? "";
  return new Set([...section.matchAll(/^- `([^`]+)`/gm)].map((m) => m[1]!));
}

test(`no function in server/src or extension/src is over ${MAX_LINES} lines unless docs/architecture.md says why`, () => {
  const ok = allowed();
  const over = [...longFunctions()].filter(([key]) => !ok.has(key)).map(([key, n]) => `${key} (${n} lines)`);
  assert.deepEqual(over, [], `split these along their seams, or list them under "Long functions, on purpose" in docs/architecture.md with the reason`);
});

test("every function docs/architecture.md excuses is still long (the list does not go stale)", () => {
  const long = longFunctions();
  const stale = [...allowed()].filter((key) => !long.has(key));
  assert.deepEqual(stale, [], "remove these from docs/architecture.md's list: they are short now (or were renamed)");
});

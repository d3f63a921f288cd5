// Test Explorer: eval sets → slices (tags) → cases. A run profile per variant plus a default one
// (driftlens.run.defaultVariants); running an item runs exactly its cases; results stream in as
// cases finish, failures carry expected vs actual and the case's location in the eval file.
import path from "node:path";
import * as vscode from "vscode";
import type { CaseResult, TestTree } from "../../server/src/protocol/runs";
import { fetchTestTree } from "./commands";
import type { Ctx } from "./ctx";

interface ItemData {
  kind: "set" | "slice" | "case";
  evalSetFile: string;
  promptFile: string | null;
  caseId?: string;
  slice?: string;
}

const UNTAGGED = "(untagged)";

export class EvalTestController {
  private readonly controller = vscode.tests.createTestController("driftlens", "Driftlens evals");
  private readonly data = new WeakMap<vscode.TestItem, ItemData>();
  /** evalSetFile → caseId → the case's items (one per slice it is in). */
  private readonly caseItems = new Map<string, Map<string, vscode.TestItem[]>>();
  private profiles: vscode.TestRunProfile[] = [];
  private readonly subs: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ctx: Ctx) {
    this.controller.refreshHandler = () => this.refresh();
    this.controller.resolveHandler = async (item) => {
      if (!item) await this.refresh();
    };
    const watcher = vscode.workspace.createFileSystemWatcher("**/{*.eval.yaml,*.eval.yml,*.eval.jsonl,driftlens.yaml,driftlens.yml,*.prompt,promptfooconfig.yaml,promptfooconfig.yml,promptfooconfig.json,*.prompt.yml,*.prompt.yaml,*.prompty,*.csv,*.jsonl}");
    const later = () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.refresh(), 500);
    };
    this.subs.push(watcher, watcher.onDidChange(later), watcher.onDidCreate(later), watcher.onDidDelete(later), vscode.workspace.onDidSaveTextDocument(later));
    ctx.onClient(() => later());
  }

  async refresh(): Promise<void> {
    const tree = await fetchTestTree(this.ctx);
    if (tree) this.build(tree);
  }

  private build(tree: TestTree): void {
    this.caseItems.clear();
    const sets: vscode.TestItem[] = [];
    for (const set of tree.evalSets) {
      const uri = vscode.Uri.file(set.file);
      const setItem = this.controller.createTestItem(set.file, vscode.workspace.asRelativePath(set.file), uri);
      setItem.range = new vscode.Range(0, 0, 0, 0);
      this.data.set(setItem, { kind: "set", evalSetFile: set.file, promptFile: set.promptFile });
      const bySlice = new Map<string, typeof set.cases>();
      for (const c of set.cases) for (const tag of c.tags.length ? c.tags : [UNTAGGED]) bySlice.set(tag, [...(bySlice.get(tag) ?? []), c]);
      const perCase = new Map<string, vscode.TestItem[]>();
      for (const [slice, cases] of [...bySlice].sort(([a], [b]) => a.localeCompare(b))) {
        const sliceItem = this.controller.createTestItem(`${set.file}#${slice}`, slice, uri);
        this.data.set(sliceItem, { kind: "slice", evalSetFile: set.file, promptFile: set.promptFile, slice });
        for (const c of cases) {
          const item = this.controller.createTestItem(`${set.file}#${slice}#${c.id}`, c.id, uri);
          item.range = new vscode.Range(c.line, 0, c.line, 0);
          if (c.why) item.description = c.why;
          item.tags = c.tags.map((t) => new vscode.TestTag(t));
          this.data.set(item, { kind: "case", evalSetFile: set.file, promptFile: set.promptFile, caseId: c.id, slice });
          sliceItem.children.add(item);
          perCase.set(c.id, [...(perCase.get(c.id) ?? []), item]);
        }
        setItem.children.add(sliceItem);
      }
      this.caseItems.set(set.file, perCase);
      sets.push(setItem);
    }
    this.controller.items.replace(sets);
    this.buildProfiles(tree.variants);
  }

  private buildProfiles(variants: string[]): void {
    const names = ["default", ...variants];
    if (this.profiles.map((p) => p.label).join("\n") === names.map((v) => (v === "default" ? "Run (default variants)" : `Run on ${v}`)).join("\n")) return;
    for (const p of this.profiles) p.dispose();
    this.profiles = names.map((v) =>
      this.controller.createRunProfile(
        v === "default" ? "Run (default variants)" : `Run on ${v}`,
        vscode.TestRunProfileKind.Run,
        (req, token) => this.runHandler(req, token, v === "default" ? undefined : [v]),
        v === "default",
      ),
    );
  }

  private async runHandler(req: vscode.TestRunRequest, token: vscode.CancellationToken, variants: string[] | undefined): Promise<void> {
    const run = this.controller.createTestRun(req);
    // Group the requested items per eval set: whole set, or a list of case ids.
    const wanted = new Map<string, { promptFile: string | null; caseIds: Set<string> | null }>();
    const excluded = new Set(req.exclude ?? []);
    const roots = req.include ?? [...this.iter(this.controller.items)];
    const addCases = (item: vscode.TestItem, acc: Set<string>) => {
      if (excluded.has(item)) return;
      const d = this.data.get(item);
      if (d?.kind === "case" && d.caseId) acc.add(d.caseId);
      for (const child of this.iter(item.children)) addCases(child, acc);
    };
    for (const item of roots) {
      const d = this.data.get(item);
      if (!d) continue;
      const entry = wanted.get(d.evalSetFile) ?? { promptFile: d.promptFile, caseIds: new Set<string>() };
      if (d.kind === "set" && excluded.size === 0) entry.caseIds = null;
      else if (entry.caseIds) addCases(item, entry.caseIds);
      wanted.set(d.evalSetFile, entry);
    }
    const chosen = variants ?? (this.ctx.settings().run.defaultVariants.length ? this.ctx.settings().run.defaultVariants : undefined);
    const failedSomewhere = new Set<vscode.TestItem>();
    for (const [evalSetFile, w] of wanted) {
      if (token.isCancellationRequested) break;
      const perCase = this.caseItems.get(evalSetFile);
      const items = w.caseIds === null ? [...(perCase?.values() ?? [])].flat() : [...w.caseIds].flatMap((id) => perCase?.get(id) ?? []);
      for (const it of items) run.enqueued(it);
      const onCase = (r: CaseResult) => {
        for (const item of perCase?.get(r.caseId) ?? []) this.report(run, item, r, failedSomewhere);
      };
      const targets = w.promptFile ? [{ promptFile: w.promptFile, evalSetFile }] : undefined;
      const result = await this.ctx.runs.run(
        { ...(targets ? { targets } : { file: evalSetFile }), variants: chosen, caseIds: w.caseIds ? [...w.caseIds] : undefined },
        { title: `Driftlens: ${path.basename(evalSetFile)}`, progress: false, token, onCase },
      );
      if (result.status !== "completed") {
        const msg = result.message ?? `run ${result.status}`;
        run.appendOutput(`${msg}\r\n`);
        for (const it of items) if (!failedSomewhere.has(it)) run.skipped(it);
      }
    }
    run.end();
  }

  private report(run: vscode.TestRun, item: vscode.TestItem, r: CaseResult, failed: Set<vscode.TestItem>): void {
    run.appendOutput(`[${r.variant}] ${r.caseId}: ${r.error ? "error" : r.pass ? "pass" : "fail"}${r.cached ? " (cached)" : ""}\r\n`, undefined, item);
    const ms = r.wallMs ?? undefined;
    if (r.error) {
      failed.add(item);
      const m = new vscode.TestMessage(`${r.variant}: ${r.error}`);
      if (item.uri && item.range) m.location = new vscode.Location(item.uri, item.range);
      return run.errored(item, m, ms);
    }
    if (r.pass) {
      if (!failed.has(item)) run.passed(item, ms);
      return;
    }
    failed.add(item);
    const bad = r.assertions.filter((a) => !a.pass);
    const expected = bad.map((a) => `${a.type}${a.expected !== undefined ? `: ${a.expected}` : ""}`).join("\n") || "(all assertions pass)";
    const sampled = r.samples && r.samples.length > 1 ? ` (${r.samples.filter((s) => s.pass).length}/${r.samples.length} samples pass)` : "";
    const m = vscode.TestMessage.diff(`${r.variant}${sampled}: ${bad.map((a) => a.message ?? a.type).join("; ") || "failed"}`, expected, r.output);
    if (item.uri && item.range) m.location = new vscode.Location(item.uri, item.range);
    run.failed(item, m, ms);
  }

  private *iter(c: vscode.TestItemCollection): Iterable<vscode.TestItem> {
    const out: vscode.TestItem[] = [];
    c.forEach((i) => out.push(i));
    yield* out;
  }

  dispose(): void {
    clearTimeout(this.timer);
    for (const p of this.profiles) p.dispose();
    for (const s of this.subs) s.dispose();
    this.controller.dispose();
  }
}

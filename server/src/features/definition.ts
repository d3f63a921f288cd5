// Go to definition: partials (`{{> name}}` → `_name.prompt`), body variables → their input
// declaration, prompt ↔ eval set (`driftlens.evals` entries, `prompt:`), eval case vars → the
// prompt's input, model refs → their variant in driftlens.yaml, adapter compose/evals/dataset paths.
import fs from "node:fs";
import path from "node:path";
import type { DefinitionParams, Location, Position, Range } from "vscode-languageserver/node";
import type { ServerWorkspace } from "./support/artifact-bridge";
import { guarded, type FeatureContext } from "./support/context";
import { inRange, target, type Target } from "./support/target";
import { pathToUri } from "./support/workspaces";
import { yamlCursor } from "./support/yaml-context";
import { tryParseVariantRef } from "../artifacts/variant-ref";

const TOP: Range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };

export function register(ctx: FeatureContext): void {
  ctx.connection.onDefinition(
    guarded(ctx.log, "definition", null, async (p: DefinitionParams): Promise<Location[] | null> => {
      const t = target(ctx, p.textDocument.uri);
      if (!t) return null;
      const locs = definition(t, p.position);
      return locs.length ? locs : null;
    }),
  );
}

function fileLoc(file: string, range: Range = TOP): Location {
  return { uri: pathToUri(file), range };
}

function existing(ws: ServerWorkspace, file: string): boolean {
  return ws.exists(file) || fs.existsSync(file);
}

function definition(t: Target, pos: Position): Location[] {
  switch (t.kind) {
    case "prompt":
      return definePrompt(t, pos);
    case "evalset":
      return defineEvalSet(t, pos);
    case "adapter":
      return defineAdapter(t, pos);
    case "config":
      return defineConfig(t, pos);
    default:
      return [];
  }
}

/** Where a variant ref is defined in driftlens.yaml (plus its adapter configs). */
export function variantLocations(ws: ServerWorkspace, ref: string): Location[] {
  const parsed = tryParseVariantRef(ref);
  if ("error" in parsed) return [];
  const cfg = ws.config();
  if (!cfg.file) return [];
  const fam = cfg.config.models[parsed.ref.family];
  const out: Location[] = [];
  if (fam) {
    const v = fam.variants[parsed.ref.variant];
    const scanned = fam.scan[0];
    out.push(fileLoc(cfg.file, v?.range ?? scanned?.range ?? fam.range ?? TOP));
  } else out.push(fileLoc(cfg.file));
  for (const a of parsed.ref.adapters) {
    const f = ws.listArtifacts().find((x) => path.basename(x).replace(/\.adapter\.ya?ml$/, "") === a.name && /\.adapter\.ya?ml$/.test(x));
    if (f) out.push(fileLoc(f));
  }
  return out;
}

function definePrompt(t: Target, pos: Position): Location[] {
  const doc = t.ws.prompt(t.file);
  for (const p of doc.partials) {
    if (inRange(pos, p.range)) {
      const f = t.ws.partialFile(p.name, t.file);
      return f ? [fileLoc(f)] : [];
    }
  }
  for (const v of doc.variables) {
    if (inRange(pos, v.range)) {
      const decl = doc.inputs.find((i) => i.name === v.name);
      return decl ? [fileLoc(t.file, decl.range)] : [];
    }
  }
  for (const e of doc.evals) if (inRange(pos, e.range)) return existing(t.ws, e.path) ? [fileLoc(e.path)] : [];
  if (doc.model && doc.modelRange && inRange(pos, doc.modelRange)) return variantLocations(t.ws, doc.model);
  if (doc.variant && inRange(pos, doc.variant.range)) return variantLocations(t.ws, doc.variant.ref);
  return [];
}

function defineEvalSet(t: Target, pos: Position): Location[] {
  const promptFile = t.ws.promptFor(t.file);
  if (t.file.endsWith(".jsonl")) {
    // JSONL: from the `"prompt"` header line or a case's vars to the prompt.
    const doc = t.ws.evalSet(t.file);
    if (doc.prompt && inRange(pos, doc.prompt.range)) return promptFile && existing(t.ws, promptFile) ? [fileLoc(promptFile)] : [];
    for (const cs of doc.cases) {
      for (const [name, r] of Object.entries(cs.varRanges)) {
        if (inRange(pos, r) && promptFile && existing(t.ws, promptFile)) {
          const decl = t.ws.prompt(promptFile).inputs.find((i) => i.name === name);
          return [fileLoc(promptFile, decl?.range ?? TOP)];
        }
      }
    }
    return [];
  }
  const c = yamlCursor(t.text, pos);
  if (c.path.length === 1 && c.key === "prompt") return promptFile && existing(t.ws, promptFile) ? [fileLoc(promptFile)] : [];
  if (c.key && c.path.length === 3 && c.path[0] === "cases" && c.path[1] === "vars" && !c.inValue && promptFile && existing(t.ws, promptFile)) {
    const decl = t.ws.prompt(promptFile).inputs.find((i) => i.name === c.key);
    return [fileLoc(promptFile, decl?.range ?? TOP)];
  }
  return [];
}

function defineAdapter(t: Target, pos: Position): Location[] {
  const doc = t.ws.adapter(t.file);
  if (doc.base && inRange(pos, doc.base.modelRange)) {
    if (/\.gguf$/i.test(doc.base.model)) return [];
    return variantLocations(t.ws, doc.base.model);
  }
  for (const c of doc.compose) if (inRange(pos, c.range) && existing(t.ws, c.path)) return [fileLoc(c.path)];
  for (const e of doc.evals) if (inRange(pos, e.range) && existing(t.ws, e.path)) return [fileLoc(e.path)];
  const ds = doc.training?.dataset;
  if (ds && inRange(pos, ds.range) && fs.existsSync(ds.path)) return [fileLoc(ds.path)];
  return [];
}

function defineConfig(t: Target, pos: Position): Location[] {
  const c = yamlCursor(t.text, pos);
  // reference: f16 → the f16 variant entry in the same file.
  if (c.path.length === 3 && c.path[0] === "models" && c.key === "reference" && c.inValue && c.value) {
    const v = t.ws.config().config.models[c.path[1]!]?.variants[c.value];
    return v?.range ? [fileLoc(t.file, v.range)] : [];
  }
  return [];
}

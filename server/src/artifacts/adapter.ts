// `*.adapter.yaml`: a LoRA adapter — its GGUF file, the base it was trained on (variant ref or
// path, plus the base file's recorded sha256), scale, training provenance, eval sets and optional
// composition with other adapters.
import path from "node:path";
import { sha256Text } from "./hash";
import { ADAPTER_KEYS, adapterSchema } from "./schemas";
import type { Diagnostic, Range } from "./types";
import { parseYaml, rangeFor, type YamlSource } from "./yaml-source";
import { unknownKeyDiagnostics, zodDiagnostics } from "./zod-diagnostics";

export interface AdapterDoc {
  file: string;
  /** Adapter name used in variant refs: the file's basename without `.adapter.yaml`. */
  name: string;
  text: string;
  hash: string;
  /** The LoRA GGUF, resolved against the config's folder. */
  gguf?: { path: string; declared: string; range: Range };
  base?: { model: string; sha256?: string; range: Range; modelRange: Range; sha256Range?: Range };
  scale: number;
  training?: {
    dataset?: { path: string; declared: string; range: Range };
    datasetSha256?: { value: string; range: Range };
    recipe?: string;
    commit?: string;
    hyperparameters?: Record<string, unknown>;
    range: Range;
  };
  compose: { adapter: string; path: string; scale: number; range: Range }[];
  evals: { path: string; declared: string; range: Range }[];
  description?: string;
  diagnostics: Diagnostic[];
  source?: YamlSource;
}

export function adapterNameOf(file: string): string {
  return path.basename(file).replace(/\.adapter\.ya?ml$/, "");
}

/** Parses an adapter config. Never throws. */
export function parseAdapter(text: string, file: string): AdapterDoc {
  const src = parseYaml(text, file, "DL400");
  const dir = path.dirname(file);
  const doc: AdapterDoc = { file, name: adapterNameOf(file), text, hash: sha256Text(text), scale: 1, compose: [], evals: [], diagnostics: [...src.diagnostics], source: src };
  const raw = src.value;
  if (raw === undefined) return doc;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    doc.diagnostics.push({ file, range: rangeFor(src, []), severity: "error", code: "DL401", message: "an adapter config must be a mapping with file, base, scale, training, compose, evals" });
    return doc;
  }
  const obj = raw as Record<string, unknown>;
  const res = adapterSchema.safeParse(obj);
  if (!res.success) doc.diagnostics.push(...zodDiagnostics(res.error, src, obj, file, "DL401"));
  doc.diagnostics.push(...unknownKeyDiagnostics(src, [], ADAPTER_KEYS, file, "DL412", "adapter config"));
  doc.diagnostics.push(...unknownKeyDiagnostics(src, ["training"], ["dataset", "datasetSha256", "recipe", "commit", "hyperparameters"], file, "DL412", "training"));
  if (typeof obj.file === "string" && obj.file) doc.gguf = { declared: obj.file, path: path.resolve(dir, obj.file), range: rangeFor(src, ["file"]) };
  if (typeof obj.base === "string" && obj.base) {
    doc.base = { model: obj.base, range: rangeFor(src, ["base"]), modelRange: rangeFor(src, ["base"]) };
  } else if (obj.base && typeof obj.base === "object" && !Array.isArray(obj.base)) {
    const b = obj.base as Record<string, unknown>;
    if (typeof b.model === "string" && b.model) {
      doc.base = {
        model: b.model,
        range: rangeFor(src, ["base"], "key"),
        modelRange: rangeFor(src, ["base", "model"]),
        ...(typeof b.sha256 === "string" ? { sha256: b.sha256.toLowerCase(), sha256Range: rangeFor(src, ["base", "sha256"]) } : {}),
      };
    }
  }
  if (typeof obj.scale === "number" && Number.isFinite(obj.scale)) doc.scale = obj.scale;
  if (obj.training && typeof obj.training === "object" && !Array.isArray(obj.training)) {
    const t = obj.training as Record<string, unknown>;
    doc.training = {
      range: rangeFor(src, ["training"], "key"),
      ...(typeof t.dataset === "string" && t.dataset ? { dataset: { declared: t.dataset, path: path.resolve(dir, t.dataset), range: rangeFor(src, ["training", "dataset"]) } } : {}),
      ...(typeof t.datasetSha256 === "string" ? { datasetSha256: { value: t.datasetSha256.toLowerCase(), range: rangeFor(src, ["training", "datasetSha256"]) } } : {}),
      ...(typeof t.recipe === "string" ? { recipe: t.recipe } : {}),
      ...(typeof t.commit === "string" ? { commit: t.commit } : typeof t.commit === "number" ? { commit: String(t.commit) } : {}),
      ...(t.hyperparameters && typeof t.hyperparameters === "object" && !Array.isArray(t.hyperparameters) ? { hyperparameters: t.hyperparameters as Record<string, unknown> } : {}),
    };
  }
  if (Array.isArray(obj.compose)) {
    obj.compose.forEach((c, i) => {
      if (c && typeof c === "object" && typeof (c as { adapter?: unknown }).adapter === "string") {
        const cc = c as { adapter: string; scale?: unknown };
        doc.compose.push({ adapter: cc.adapter, path: path.resolve(dir, cc.adapter), scale: typeof cc.scale === "number" ? cc.scale : 1, range: rangeFor(src, ["compose", i, "adapter"]) });
      }
    });
  }
  if (Array.isArray(obj.evals)) {
    obj.evals.forEach((e, i) => {
      if (typeof e === "string" && e) doc.evals.push({ declared: e, path: path.resolve(dir, e), range: rangeFor(src, ["evals", i]) });
    });
  }
  if (typeof obj.description === "string") doc.description = obj.description;
  return doc;
}

// Checks on a model or adapter file before llama.cpp sees it (shared by the engine and the bulk
// logits host): it exists, it is a regular GGUF file, and it fits the engine's memory budget.
import fs from "node:fs";
import { openRegularFile, UnsafeFileError } from "../util/safe-file";
import { EngineError } from "./errors";
import type { ModelSpec } from "./types";

export function mb(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MB`;
}

function firstLine(err: unknown): string {
  const s = err instanceof Error ? err.message : String(err);
  return s.split("\n")[0]!.trim();
}

/**
 * Checks the GGUF magic before llama.cpp sees the file: a non-GGUF file must be a clear error,
 * not whatever the native loader does with it.
 */
export function checkGgufMagic(file: string, variant: string, what: "model" | "adapter"): void {
  const buf = Buffer.alloc(4);
  let n = 0;
  try {
    // A regular file only: a FIFO would block the open, a device would feed llama.cpp forever.
    const { fd } = openRegularFile(file);
    try {
      n = fs.readSync(fd, buf, 0, 4, 0);
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    const notRegular = err instanceof UnsafeFileError && err.code === "not-regular";
    throw new EngineError({ kind: notRegular ? "model-corrupt" : "model-missing", message: `Cannot read the ${what} file of variant ${variant}: ${file} (${firstLine(err)}).`, variant, file });
  }
  if (n < 4 || buf.toString("latin1") !== "GGUF") {
    throw new EngineError({
      kind: "model-corrupt",
      message: `The ${what} file of variant ${variant} is not a GGUF file: ${file}. Re-download or regenerate it.`,
      variant,
      file,
    });
  }
}

/** A variant's model file, checked (exists, GGUF, within `budgetBytes` when > 0); returns its size. */
export function checkModelFile(spec: ModelSpec, budgetBytes: number): number {
  const file = spec.modelPath;
  const where = { variant: spec.variant, file };
  let size: number;
  try {
    size = fs.statSync(file).size;
  } catch {
    throw new EngineError({
      kind: "model-missing",
      message: `Model file not found for variant ${spec.variant}: ${file}. Check the path in driftlens.yaml (or generate the models).`,
      ...where,
    });
  }
  checkGgufMagic(file, spec.variant, "model");
  if (budgetBytes > 0 && size > budgetBytes) {
    throw new EngineError({
      kind: "out-of-memory",
      message: `Model for variant ${spec.variant} (${file}, ${mb(size)}) is larger than the engine memory budget (${mb(budgetBytes)}). Raise engine.memoryBudget in driftlens.yaml or use a smaller quantization.`,
      ...where,
    });
  }
  return size;
}

/**
 * The thrown error's first line, plus llama.cpp's own explanation when one of its recent log lines
 * gives one (its thrown errors are generic: "Failed to load model").
 */
export function withLlamaReason(err: unknown, logLines: readonly string[]): string {
  const own = firstLine(err);
  const native = logLines.map((l) => l.trim()).find((l) => /error|invalid|not within|mismatch|failed/i.test(l) && !l.includes(own));
  return native ? `${own} (llama.cpp: ${native.replace(/^\S+: /, "")})` : own;
}

/** llama.cpp could not load a variant's model file (`reason`: its explanation). */
export function modelLoadError(spec: ModelSpec, reason: string): EngineError {
  return new EngineError({
    kind: "model-corrupt",
    message: `Cannot load the model for variant ${spec.variant} (${spec.modelPath}): ${reason}. The file may be truncated or not a GGUF llama.cpp supports; re-download or regenerate it.`,
    variant: spec.variant,
    file: spec.modelPath,
  });
}

/** llama.cpp could not create a context for a variant; `lower` says what to lower when memory ran out. */
export function contextError(spec: ModelSpec, file: string, reason: string, lower: string): EngineError {
  const oom = /memory|alloc/i.test(reason);
  return new EngineError({
    kind: oom ? "out-of-memory" : "other",
    message: `Cannot create a context for variant ${spec.variant} (${file}): ${reason}.${oom ? ` Lower ${lower}.` : ""}`,
    variant: spec.variant,
    file,
  });
}

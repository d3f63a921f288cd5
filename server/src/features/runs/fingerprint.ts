// driftlens/fingerprint: the hash of everything a prompt's results depend on (prompt, eval sets,
// model and adapter files, sampling parameters, engine version), or why it cannot be computed.
import { artifactKind } from "../../artifacts/types";
import { FingerprintParamsSchema, type Fingerprint } from "../../protocol/runs";
import { lazy, type RunsState } from "./state";

/** The prompt's fingerprint; null for anything that is not a prompt or cannot be read. */
export async function handleFingerprint(state: RunsState, raw: unknown): Promise<Fingerprint | null> {
  const p = FingerprintParamsSchema.safeParse(raw);
  if (!p.success || artifactKind(p.data.file) !== "prompt") return null;
  try {
    const r = state.rootFor(p.data.file);
    const s = await state.settings();
    const { contentHash, samplingFrom, sha256, currentEngineVersion } = await lazy();
    const prompt = r.ws.prompt(p.data.file);
    const promptHash = contentHash(r.ws.read(p.data.file) ?? "");
    const evalSets = r.ws.evalSetsFor(p.data.file).map((f) => ({ file: f, hash: contentHash(r.ws.read(f) ?? "") }));
    const params = { ...samplingFrom(prompt.config as Record<string, unknown> | undefined), seed: s.run.seed };
    const ref = (prompt as { variant?: { ref?: string } | string }).variant;
    const variantRef = (typeof ref === "string" ? ref : ref?.ref) ?? prompt.model ?? s.run.defaultVariants[0] ?? r.ws.variants().find((v) => v.isReference)?.id;
    const base: Fingerprint = { hash: null, prompt: { file: p.data.file, hash: promptHash }, evalSets, model: null, adapters: [], params };
    if (!variantRef) return { ...base, problem: "no model variant: set `model:` in the prompt or configure models in driftlens.yaml" };
    let v;
    try {
      v = r.ws.resolveVariant(variantRef);
    } catch (e) {
      return { ...base, model: { variant: variantRef, file: null, hash: null }, problem: e instanceof Error ? e.message : String(e) };
    }
    const store = await state.storeFor(r, s);
    const exists = (f: string) => r.ws.exists(f);
    const modelHash = exists(v.modelPath) ? await store.fingerprintFile(v.modelPath) : null;
    const adapters = await Promise.all(v.adapters.map(async (a) => ({ name: a.name, scale: a.scale, hash: exists(a.path) ? await store.fingerprintFile(a.path) : null })));
    const fp: Fingerprint = { ...base, model: { variant: v.id, file: v.modelPath, hash: modelHash }, adapters };
    if (!modelHash) return { ...fp, problem: `model file ${v.modelPath} does not exist` };
    fp.hash = sha256(JSON.stringify(["fingerprint/1", promptHash, evalSets.map((e) => e.hash), modelHash, adapters.map((a) => [a.hash, a.scale]), params, currentEngineVersion()]));
    return fp;
  } catch (e) {
    state.log.warn(`fingerprint of ${p.data.file}: ${e instanceof Error ? e.message : String(e)}`);
    return null;
  }
}

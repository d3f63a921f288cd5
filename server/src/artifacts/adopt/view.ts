// The runner's view of a Workspace with adopted files in it: a promptfoo config is one eval set
// (its tests) and one prompt per prompt entry (`config#key`); a `.prompt.yml` file is both a prompt
// and the eval set of its testData; a `.prompty` file is a prompt that native eval sets name.
// Everything else is the Workspace itself. The runner, compare and diff take this view instead of
// the Workspace, so adopted files run through the same code as native ones: cached, resumable,
// fingerprinted. An adopted file's "text" here is everything it read (its references included), so
// a changed test CSV changes the eval set's hash like a changed line of the config does.
import path from "node:path";
import type { Workspace } from "../workspace";
import { artifactKind, type Diagnostic } from "../types";
import { adoptedKind } from "./index";
import { mappedVariant, UNMAPPED_PREFIX, unmappedRef } from "./providers";
import type { AdoptedCase, AdoptedPrompt, AdoptedSuite } from "./types";

/** Errors that stop an adopted prompt from rendering as its tool would (syntax, roles, templates). */
const BLOCKING = new Set(["DL500", "DL600", "DL603", "DL700", "DL703", "DL704", "DL706"]);

/** `config#key` → [config, key]; undefined for any other path. */
export function splitVirtual(file: string): { file: string; key: string } | undefined {
  for (let i = file.indexOf("#"); i > 0; i = file.indexOf("#", i + 1)) {
    const f = file.slice(0, i);
    if (artifactKind(f) === "promptfoo") return { file: f, key: file.slice(i + 1) };
  }
  return undefined;
}

export function isAdopted(file: string): boolean {
  return adoptedKind(file) !== undefined || splitVirtual(file) !== undefined;
}

/** What the runner reads of a prompt (RunnerPrompt in eval/runner.ts), for an adopted prompt. */
export interface AdoptedRunnerPrompt {
  file: string;
  text: string;
  /** Variants in order (providers mapped through driftlens.yaml; unmapped ones fail with the fix). */
  variants: string[];
  config: Record<string, unknown>;
  diagnostics: Diagnostic[];
  partials: { name: string }[];
  adopted: AdoptedPrompt;
  /** Renders with the source tool's renderer (runs' custom render functions call this). */
  adoptedRender(input: Record<string, unknown>): Promise<{ messages: { role: string; content: { text: string }[] }[]; config?: Record<string, unknown> }>;
}

export class AdoptedView {
  constructor(readonly ws: Workspace) {}

  get root(): string {
    return this.ws.root;
  }

  setOverlay(file: string, text: string | undefined): void {
    this.ws.setOverlay(file, text);
  }

  exists(file: string): boolean {
    const v = splitVirtual(file);
    return v ? this.ws.exists(v.file) : this.ws.exists(file);
  }

  /** The suite of an adopted file or of a virtual promptfoo prompt. */
  suite(file: string): AdoptedSuite {
    return this.ws.adopted(splitVirtual(file)?.file ?? file);
  }

  /** A file's text; for adopted eval sets and prompts, everything that decides them. */
  read(file: string): string | undefined {
    const v = splitVirtual(file);
    if (v) {
      try {
        return this.adoptedPrompt(file)?.identity;
      } catch {
        return undefined;
      }
    }
    const kind = adoptedKind(file);
    if (kind === "promptfoo" || kind === "prompty") {
      try {
        return this.suite(file).identity;
      } catch {
        return undefined;
      }
    }
    return this.ws.read(file);
  }

  private adoptedPrompt(file: string): AdoptedPrompt | undefined {
    const suite = this.suite(file);
    const abs = path.resolve(this.ws.root, file);
    return suite.prompts.find((p) => p.id === abs);
  }

  /** An adopted file with no text (deleted at a diff's revision: an empty overlay) does not exist. */
  private present(file: string): boolean {
    return Boolean(this.ws.read(splitVirtual(file)?.file ?? file)?.trim());
  }

  prompt(file: string): AdoptedRunnerPrompt | ReturnType<Workspace["prompt"]> {
    if (!isAdopted(file)) return this.ws.prompt(file);
    if (!this.present(file)) throw new Error(`${file} does not exist`);
    const suite = this.suite(file);
    const p = this.adoptedPrompt(file);
    if (!p) throw new Error(`${file}: no such prompt in ${path.basename(suite.file)} (its prompts: ${suite.prompts.map((x) => x.label).join(", ") || "none"})`);
    const providers = this.ws.config().config.providers;
    // Two providers mapped to one variant run it once.
    const variants = [...new Set(p.providers.map((pr) => mappedVariant(providers, pr.id, pr.label) ?? unmappedRef(pr.id)))];
    // Errors that stop this prompt from running: syntax errors of the file, errors at the prompt.
    const within = (d: Diagnostic) => d.range.start.line >= p.range.start.line && d.range.end.line <= p.range.end.line;
    const errors = suite.diagnostics.filter((d) => d.severity === "error" && (BLOCKING.has(d.code) || (d.code === "DL505" && within(d))));
    return {
      file: p.id,
      text: p.identity,
      variants: variants.length ? variants : [unmappedRef("")],
      config: p.config,
      diagnostics: errors,
      partials: [],
      adopted: p,
      adoptedRender: (input) => p.render(input),
    };
  }

  evalSet(file: string): ReturnType<Workspace["evalSet"]> | { file: string; text: string; cases: { id: string; vars: Record<string, unknown>; assert: AdoptedCase["assert"]; tags: string[]; threshold?: number; transform?: string; assertionTransforms?: boolean; range: { start: { line: number; character: number }; end: { line: number; character: number } } }[]; slices: null; defaultAssert: never[]; diagnostics: Diagnostic[] } {
    const kind = adoptedKind(file);
    if (kind !== "promptfoo" && kind !== "ghprompt") return this.ws.evalSet(file);
    const suite = this.suite(file);
    return {
      file: suite.file,
      text: suite.identity,
      cases: suite.cases.map((c) => ({
        id: c.id,
        vars: c.vars,
        assert: c.assert,
        tags: c.tags,
        ...(c.threshold !== undefined ? { threshold: c.threshold } : {}),
        // promptfoo's transforms: the test's runs before every assertion, an assertion's before it.
        ...(c.transform !== undefined ? { transform: c.transform } : {}),
        ...(kind === "promptfoo" ? { assertionTransforms: true } : {}),
        range: c.range,
      })),
      slices: null,
      defaultAssert: [],
      diagnostics: suite.diagnostics.filter((d) => d.severity === "error"),
    };
  }

  resolveVariant(ref: string): ReturnType<Workspace["resolveVariant"]> {
    if (ref.startsWith(UNMAPPED_PREFIX)) {
      const id = ref.slice(UNMAPPED_PREFIX.length);
      if (!id) throw new Error("this file names no provider or model; add one (promptfoo: providers:, .prompt.yml: model:, Prompty: model.id), or pass --variant");
      throw new Error(`provider '${id}' is not mapped to a local variant: add providers: {${JSON.stringify(id)}: family/variant} to driftlens.yaml, or pass --variant`);
    }
    return this.ws.resolveVariant(ref);
  }

  variants(): ReturnType<Workspace["variants"]> {
    return this.ws.variants();
  }

  partialFile(name: string, promptFile: string): string | undefined {
    return isAdopted(promptFile) ? undefined : this.ws.partialFile(name, promptFile);
  }

  async render(promptFile: string, data: { input?: Record<string, unknown> }): Promise<{ messages: { role: string; content: ({ text?: string } | { media?: unknown })[] }[]; config?: Record<string, unknown> }> {
    if (!isAdopted(promptFile)) return this.ws.render(promptFile, data as never);
    const p = this.adoptedPrompt(promptFile);
    if (!p) throw new Error(`no prompt ${promptFile}`);
    return p.render(data.input ?? {});
  }

  embeddingModel(): string | undefined {
    return this.ws.embeddingModel();
  }

  listArtifacts(): string[] {
    return this.ws.listArtifacts();
  }

  /** Eval sets a prompt runs with: a promptfoo prompt its config, a .prompt.yml file itself. */
  evalSetsFor(promptFile: string): string[] {
    const v = splitVirtual(promptFile);
    if (v) return [v.file];
    if (adoptedKind(promptFile) === "ghprompt") return [path.resolve(this.ws.root, promptFile)];
    return this.ws.evalSetsFor(promptFile);
  }

  /** The prompt an eval set runs (the first, for a promptfoo config: see targetsFor for all). */
  promptFor(evalSetFile: string): string | undefined {
    return this.targetsFor(evalSetFile)[0]?.promptFile;
  }

  /** Every (prompt, eval set) pair a file stands for. */
  targetsFor(file: string): { promptFile: string; evalSetFile: string }[] {
    const abs = path.resolve(this.ws.root, file);
    const kind = adoptedKind(abs);
    if (isAdopted(abs) && !this.present(abs)) return [];
    if (splitVirtual(abs)) return this.evalSetsFor(abs).map((e) => ({ promptFile: abs, evalSetFile: e }));
    if (kind === "promptfoo") return this.suite(abs).prompts.map((p) => ({ promptFile: p.id, evalSetFile: abs }));
    if (kind === "ghprompt") return [{ promptFile: abs, evalSetFile: abs }];
    if (kind === "prompty") return this.ws.evalSetsFor(abs).map((e) => ({ promptFile: abs, evalSetFile: e }));
    const k = artifactKind(abs);
    if (k === "prompt") return this.ws.evalSetsFor(abs).map((e) => ({ promptFile: abs, evalSetFile: e }));
    if (k === "evalset") {
      const p = this.ws.promptFor(abs);
      return p ? [{ promptFile: p, evalSetFile: abs }] : [];
    }
    return [];
  }
}

/** The runner's view of a workspace. */
export function adoptedView(ws: Workspace): AdoptedView {
  return new AdoptedView(ws);
}

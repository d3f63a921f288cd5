// Model stores: the folders other tools keep GGUF models in (the Hugging Face hub cache, LM
// Studio's models folder, Ollama's store). Driftlens only ever reads them.

export type StoreKind = "huggingface" | "lmstudio" | "ollama";

/** The prefix a store reference is written with in driftlens.yaml (`hf:org/name`, …). */
export const STORE_PREFIX: Record<StoreKind, string> = { huggingface: "hf", lmstudio: "lmstudio", ollama: "ollama" };
export const STORE_LABEL: Record<StoreKind, string> = { huggingface: "Hugging Face cache", lmstudio: "LM Studio", ollama: "Ollama" };

/** A model named by where a store keeps it, as written in driftlens.yaml. */
export type StoreRef =
  | { kind: "ollama"; name: string }
  | { kind: "huggingface"; repo: string; revision?: string; file?: string }
  | { kind: "lmstudio"; model: string; file?: string };

/** Where a model file came from, for hover, completion and messages. */
export interface ModelOrigin {
  store: StoreKind;
  /** The store's root folder: the hub cache, LM Studio's models folder, Ollama's models folder. */
  root: string;
  /** Hugging Face repo id, LM Studio `publisher/model`, Ollama name with its tag. */
  model: string;
  /** Hugging Face: the ref followed (`main`, a tag) or the commit given; Ollama: the tag. */
  revision?: string;
  /** Hugging Face: the snapshot's commit. */
  commit?: string;
  /** The file inside the repo snapshot or LM Studio model folder. */
  file?: string;
  /** Ollama: the manifest the model was resolved through. */
  manifest?: string;
  /** The content-addressed blob holding the bytes (Hugging Face, Ollama). */
  blob?: string;
  /** sha256 known from the store without reading the file (Ollama digest, Hugging Face LFS blob name). */
  sha256?: string;
}

export type StoreCode = "DL140" | "DL141" | "DL142";

export interface StoreProblem {
  /** DL140 not found, DL141 broken or unusable entry, DL142 malformed reference. */
  code: StoreCode;
  message: string;
  /** Variant name guessed from the file or tag name, so `--variant family/<guess>` meets the same message. */
  guess?: string;
}

export interface StoreFile {
  path: string;
  origin: ModelOrigin;
}

export interface StoreListing {
  files: StoreFile[];
  problems: StoreProblem[];
  /** What was looked at, for "holds no GGUF file" (DL104). */
  where?: string;
}

/** A quant name guessed from a file or tag name (`…-Q4_K_M.gguf` → `q4_k_m`), for broken entries. */
export function guessQuant(name: string): string | undefined {
  const m = /(?:^|[-_.:/])((?:I?Q[1-8]_(?:K_[SMLX]L?|K|[0-9]|NL|XXS|XS|S|M)|IQ[1-4]_(?:XXS|XS|S|M|NL)|TQ[12]_0|BF16|F16|F32))(?=$|[-_.])/i.exec(name.replace(/\.gguf$/i, ""));
  return m ? m[1]!.toLowerCase() : undefined;
}

// The last parse of each prompt that had a usable input schema: while the user types inside the
// front matter it is often broken for a moment, and completion should still offer the inputs.
import type { PromptDoc } from "../../artifacts/prompt";

const good = new Map<string, PromptDoc>();

export function rememberPrompt(file: string, doc: PromptDoc): void {
  if (doc.inputs.length || doc.input?.jsonSchema) {
    good.set(file, doc);
    if (good.size > 256) good.delete(good.keys().next().value!);
  }
}

export function lastGoodPrompt(file: string): PromptDoc | undefined {
  return good.get(file);
}

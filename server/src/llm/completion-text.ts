// The plain text a model without a chat template generates from: the messages' texts joined by
// blank lines (the engine adds BOS). One definition for the local engine and for served models,
// so the same GGUF gets the same prompt either way.
import type { ChatMessage } from "./types";

export function completionText(messages: ChatMessage[]): string {
  return messages.map((m) => m.text).join("\n\n");
}

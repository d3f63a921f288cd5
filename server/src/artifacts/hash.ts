// Content hashes: an artifact version is the sha256 of its content.
import { createHash } from "node:crypto";

export function sha256Text(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

// Where the package's own native binaries are: dist/native/<platform>-<arch>/… (better-sqlite3 per
// Node ABI, built by extension/scripts/natives.mjs; the bulk_logits addon, one for every ABI).
import fs from "node:fs";
import path from "node:path";

/**
 * Native folders to look in: `native/` and `dist/native/` in the folder of this bundle and each
 * folder above it, up to the first one holding a package.json (the extension's or the checkout's
 * root): bundles live in dist/ (tests in dist/test/…), the binaries in dist/native/.
 * DRIFTLENS_NATIVE_DIR, when set, is the only folder looked in.
 */
export function nativeDirs(from = __dirname): string[] {
  if (process.env.DRIFTLENS_NATIVE_DIR) return [path.resolve(process.env.DRIFTLENS_NATIVE_DIR)];
  const out: string[] = [];
  for (let dir = from; ; ) {
    out.push(path.join(dir, "native"), path.join(dir, "dist", "native"));
    const up = path.dirname(dir);
    if (up === dir || fs.existsSync(path.join(dir, "package.json"))) break;
    dir = up;
  }
  return out;
}


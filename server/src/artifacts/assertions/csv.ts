// The comma-separated form of contains-any/contains-all/icontains-any/icontains-all values, read by
// promptfoo's rules: items are separated by commas and trimmed; empty items are skipped; an item
// that starts with `"` is quoted and may hold commas, with `""` or `\"` for a quote and `\\` for a
// backslash; after a closing quote only spaces may come before the next comma; an unterminated
// quote is an error (so a malformed value never passes by accident).

export type CsvResult = { ok: true; items: string[] } | { ok: false; error: string };

function isSpace(c: string | undefined): boolean {
  return c !== undefined && /\s/.test(c);
}

export function parseCommaList(value: string): CsvResult {
  const items: string[] = [];
  let i = 0;
  const n = value.length;
  while (i < n) {
    // Skip whitespace and empty items.
    while (i < n && (isSpace(value[i]) || value[i] === ",")) i++;
    if (i >= n) break;
    if (value[i] === '"') {
      const start = i;
      let field = "";
      let closed = false;
      i++;
      while (i < n) {
        const c = value[i]!;
        if (c === "\\" && i + 1 < n && (value[i + 1] === '"' || value[i + 1] === "\\")) {
          field += value[i + 1];
          i += 2;
        } else if (c === '"' && value[i + 1] === '"') {
          field += '"';
          i += 2;
        } else if (c === '"') {
          i++;
          closed = true;
          break;
        } else {
          field += c;
          i++;
        }
      }
      if (!closed) return { ok: false, error: `has an unterminated quoted item starting at ${JSON.stringify(value.slice(start, start + 20))}` };
      while (i < n && isSpace(value[i])) i++;
      if (i < n && value[i] !== ",") return { ok: false, error: `needs a comma after the quoted item ${JSON.stringify(value.slice(start, i))}` };
      items.push(field);
    } else {
      const start = i;
      while (i < n && value[i] !== ",") i++;
      items.push(value.slice(start, i).trim());
    }
  }
  return { ok: true, items };
}

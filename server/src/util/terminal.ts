// Text for terminals: model output, case ids, file names and messages are untrusted and may carry
// control characters. Raw, an ANSI escape can recolour, move the cursor, retitle the window,
// rewrite earlier lines or smuggle an OSC 8 link into a CI log; a bidi override reorders what is
// shown. Each such character is replaced by a visible stand-in, so the text still says what it
// held and nothing reaches the terminal as a command.

/**
 * C0 controls except tab and newline, DEL, C1 controls, and the Unicode bidi embeddings, overrides
 * and isolates (the "Trojan Source" set).
 */
const CLASS = "[\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]";
const UNSAFE_ALL = new RegExp(CLASS, "g");
const UNSAFE_ONE = new RegExp(CLASS);

function standIn(c: string): string {
  const code = c.charCodeAt(0);
  // C0 controls and DEL have Unicode "control pictures" (␛ for ESC, ␍ for CR, ␡ for DEL).
  if (code < 0x20) return String.fromCharCode(0x2400 + code);
  if (code === 0x7f) return "\u2421";
  return `\\u${code.toString(16).padStart(4, "0")}`;
}

/** `s` with every terminal control character replaced by a visible stand-in. */
export function terminalSafe(s: string): string {
  return UNSAFE_ONE.test(s) ? s.replace(UNSAFE_ALL, standIn) : s;
}

/** Whether `s` holds a character terminalSafe would replace. */
export function hasTerminalControls(s: string): boolean {
  return UNSAFE_ONE.test(s);
}

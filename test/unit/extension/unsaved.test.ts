// Which open documents the extension saves before a run (runs read files on disk).
import assert from "node:assert/strict";
import { test } from "node:test";
import { unsavedArtifacts, unsavedMessage, type DocLike } from "../../../extension/src/unsaved";

const doc = (fsPath: string, over: Partial<{ isDirty: boolean; isUntitled: boolean; scheme: string }> = {}): DocLike & { name: string } => ({
  name: fsPath,
  isDirty: over.isDirty ?? true,
  isUntitled: over.isUntitled ?? false,
  uri: { scheme: over.scheme ?? "file", fsPath },
});

test("unsaved artifacts: modified prompts, partials, eval sets, adapter configs and driftlens.yaml; nothing else", () => {
  const docs = [
    doc("/w/capital.prompt"),
    doc("/w/_persona.prompt"),
    doc("/w/capitals.eval.yaml"),
    doc("/w/more.eval.jsonl"),
    doc("/w/geo.adapter.yaml"),
    doc("/w/driftlens.yaml"),
    doc("/w/saved.prompt", { isDirty: false }),
    doc("/w/notes.md"),
    doc("/w/data.yaml"),
    doc("Untitled-1.prompt", { isUntitled: true }),
    doc("/w/other.prompt", { scheme: "git" }),
  ];
  assert.deepEqual(
    unsavedArtifacts(docs).map((d) => d.name),
    ["/w/capital.prompt", "/w/_persona.prompt", "/w/capitals.eval.yaml", "/w/more.eval.jsonl", "/w/geo.adapter.yaml", "/w/driftlens.yaml"],
  );
  assert.deepEqual(unsavedArtifacts([doc("/w/a.md"), doc("/w/b.prompt", { isDirty: false })]), []);
});

test("the message names the files left out and what to do", () => {
  const m = unsavedMessage(["a.prompt", "b.eval.yaml", "c.prompt", "d.prompt"], "setting");
  assert.match(m, /a\.prompt, b\.eval\.yaml, c\.prompt and 1 more/);
  assert.match(m, /saveBeforeRun/);
  assert.match(unsavedMessage(["a.prompt"], "save-failed"), /could not save a\.prompt.*Save the file and run again/);
});

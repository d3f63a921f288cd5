import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { changedFiles, GitError, gitToplevel, resolveRef, showFile, showFiles } from "../../../server/src/eval/git";
import { tempDir } from "../../helpers/paths";

function repo(): string {
  const dir = fs.realpathSync(tempDir("driftlens-git-"));
  const g = (...args: string[]) => execFileSync("git", args, { cwd: dir, stdio: "pipe" });
  g("init", "-q", "-b", "main");
  g("config", "user.email", "t@example.com");
  g("config", "user.name", "t");
  fs.writeFileSync(path.join(dir, "a.prompt"), "---\nmodel: tiny/f16\n---\nHello {{name}}, this is a long enough prompt body for rename detection.\n");
  fs.writeFileSync(path.join(dir, "b.eval.yaml"), "cases: []\n");
  fs.writeFileSync(path.join(dir, "gone.prompt"), "bye\n");
  fs.mkdirSync(path.join(dir, "sub dir"));
  fs.writeFileSync(path.join(dir, "sub dir", "c d.prompt"), "spaces\n");
  g("add", "-A");
  g("commit", "-q", "-m", "one");
  return dir;
}

test("changed files between a commit and the working tree, renames followed, untracked included", async () => {
  const dir = repo();
  const g = (...args: string[]) => execFileSync("git", args, { cwd: dir, stdio: "pipe" });
  g("mv", "a.prompt", "renamed.prompt");
  fs.appendFileSync(path.join(dir, "renamed.prompt"), "one more line\n");
  fs.writeFileSync(path.join(dir, "b.eval.yaml"), "cases: [{id: x}]\n");
  fs.rmSync(path.join(dir, "gone.prompt"));
  fs.writeFileSync(path.join(dir, "new.prompt"), "new\n");
  fs.writeFileSync(path.join(dir, "sub dir", "c d.prompt"), "spaces changed\n");
  const changes = await changedFiles(dir, "HEAD");
  const by = (p: string) => changes.find((c) => c.headPath === p || c.basePath === p);
  assert.equal(by("renamed.prompt")?.status, "renamed");
  assert.equal(by("renamed.prompt")?.basePath, "a.prompt");
  assert.equal(by("b.eval.yaml")?.status, "modified");
  assert.equal(by("gone.prompt")?.status, "deleted");
  assert.equal(by("new.prompt")?.status, "added");
  assert.equal(by("sub dir/c d.prompt")?.status, "modified");
  assert.equal(changes.length, 5);
  // Between two commits.
  g("add", "-A");
  g("commit", "-q", "-m", "two");
  const between = await changedFiles(dir, "HEAD~1", "HEAD");
  assert.equal(between.find((c) => c.headPath === "renamed.prompt")?.status, "renamed");
  assert.equal(between.length, 5);
  assert.deepEqual(await changedFiles(dir, "HEAD"), []);
});

test("file contents at a ref, several in one call; missing ones are undefined", async () => {
  const dir = repo();
  fs.writeFileSync(path.join(dir, "b.eval.yaml"), "changed\n");
  const files = await showFiles(dir, "HEAD", ["b.eval.yaml", "nope.prompt", "sub dir/c d.prompt", "a.prompt"]);
  assert.equal(files.get("b.eval.yaml"), "cases: []\n");
  assert.equal(files.get("nope.prompt"), undefined);
  assert.equal(files.get("sub dir/c d.prompt"), "spaces\n");
  assert.match(files.get("a.prompt")!, /^---\nmodel: tiny\/f16/);
  assert.equal(await showFile(dir, "HEAD", "gone.prompt"), "bye\n");
});

test("a missing ref and a folder outside git give clear errors", async () => {
  const dir = repo();
  assert.match(await resolveRef(dir, "HEAD"), /^[0-9a-f]{40}$/);
  await assert.rejects(resolveRef(dir, "no-such-branch"), (e: unknown) => e instanceof GitError && /git revision 'no-such-branch' does not exist/.test(e.message));
  await assert.rejects(resolveRef(dir, "--output=x"), GitError);
  const outside = fs.realpathSync(tempDir("driftlens-nogit-"));
  await assert.rejects(gitToplevel(outside), (e: unknown) => e instanceof GitError && /not inside a git repository/.test(e.message));
  assert.equal(await gitToplevel(path.join(dir, "sub dir")), dir);
});

// Adds lockfile entries for node-llama-cpp's optional prebuilt packages of other platforms. The npm
// registry reachable here does not serve them, so `npm install` leaves them out of the lock and
// `npm ci` then refuses the lock; an entry with os/cpu lets npm ci skip them as for any foreign platform.
const fs = require("fs");
const p = process.argv[2] || "package-lock.json";
const lock = JSON.parse(fs.readFileSync(p, "utf8"));
const v = lock.packages["node_modules/node-llama-cpp"].version;
const plat = {
  "linux-riscv64": ["linux", "riscv64"], "mac-arm64-metal": ["darwin", "arm64"], "mac-x64": ["darwin", "x64"],
  "win-arm64": ["win32", "arm64"], "win-x64": ["win32", "x64"], "win-x64-cuda": ["win32", "x64"],
  "win-x64-cuda-ext": ["win32", "x64"], "win-x64-vulkan": ["win32", "x64"],
  "linux-arm64": ["linux", "arm64"], "linux-armv7l": ["linux", "arm"],
};
let added = 0;
for (const [name, [os, cpu]] of Object.entries(plat)) {
  const key = `node_modules/@node-llama-cpp/${name}`;
  if (lock.packages[key]) continue;
  lock.packages[key] = { version: v, cpu: [cpu], license: "MIT", optional: true, os: [os], engines: { node: ">=20.0.0" } };
  added++;
}
const sorted = {};
for (const k of Object.keys(lock.packages).sort((a, b) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b)))) sorted[k] = lock.packages[k];
lock.packages = sorted;
fs.writeFileSync(p, JSON.stringify(lock, null, 2) + "\n");
console.log(`added ${added} entries`);

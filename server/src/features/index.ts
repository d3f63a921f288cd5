// Every language-server feature, one module per file. server-core.ts registers them in this order.
// To add a feature: create server/src/features/<name>.ts exporting `register(ctx)`, add one line
// here, and announce what it serves in capabilities.ts.
import type { FeatureModule } from "./support/context";
import * as diagnostics from "./diagnostics";
import * as completion from "./completion";
import * as hover from "./hover";
import * as definition from "./definition";
import * as symbols from "./symbols";
import * as runs from "./runs";

export const features: FeatureModule[] = [
  diagnostics,
  completion,
  hover,
  definition,
  symbols,
  runs,
];

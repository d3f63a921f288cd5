// Every language-server feature, one module per file. server.ts registers them in this order.
// To add a feature: create server/src/features/<name>.ts exporting `register(ctx)` (and optionally
// `capabilities`), then add one line here.
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

// The model generator's public surface (see docs/quickstart-model.md).
export { writeRandomLlama, randomVocab, type RandomLlamaDims } from "./random";
export { buildLlamaGguf, buildLoraGguf, validateShape, ModelShapeError, LLAMA_FILE_TYPE, type LlamaHParams, type LlamaWeights, type LoraPair } from "./llama";
export { VocabBuilder, validateVocab, SPACE, TOKEN_TYPE, type SpmVocab } from "./vocab";
export {
  ensureQuickstartModels,
  writeQuickstartModels,
  buildQuickstartModel,
  quickstartChecksums,
  GENERATOR_VERSION,
  COUNTRIES,
  RELATIONS,
  TAIL_FLIP,
  QUICKSTART_FILES,
  QUICKSTART_VARIANTS,
  type QuickstartPaths,
  type Country,
} from "./quickstart";

// The artifacts engine: parse + validate the four artifact kinds with source ranges (LSP-free).
export * from "./types";
export { CODES, type Code, type CodeInfo } from "./codes";
export { loadConfig, parseConfigText, findConfigFile, CONFIG_FILE_NAMES, type ConfigDoc, type DriftlensConfig, type FamilyConfig, type GateConfig, type ConfiguredVariant } from "./config";
export { parsePrompt, parseTemplate, splitFrontMatter, sampleInput, KNOWN_HELPERS, DOTPROMPT_HELPERS, BUILTIN_HELPERS, type PromptDoc, type TemplateVariable, type TemplateRef } from "./prompt";
export { renderPrompt, filePartialResolver, findPartialFile, partialTemplate, RenderError, type RenderedPrompt, type RenderedMessage, type RenderData, type RenderOptions, type PartialResolver, type Part } from "./render";
export { parseEvalSet, EvalParseCache, ASSERTION_TYPES, ASSERTION_DOCS, type EvalSetDoc, type EvalCase, type EvalSlice, type Assertion } from "./evalset";
export { parseAdapter, adapterNameOf, type AdapterDoc } from "./adapter";
export { parseVariantRef, tryParseVariantRef, formatVariantRef, type VariantRef, type VariantRefAdapter } from "./variant-ref";
export { compilePicoschema, checkValue, type JSONSchema, type PicoschemaResult } from "./picoschema";
export { fingerprintFile, cachedFingerprint, setFingerprintCache, type FingerprintCache } from "./fingerprint";
export { mcnemarOneSidedP, canDetectDrop, minCasesToDetectDrop } from "../stats/power";
export { Workspace, quantPrecision, loraTargets, loraShapeProblems, CHARS_PER_TOKEN_ESTIMATE, type ResolvedVariant, type ResolvedAdapter, type WorkspaceOptions, type CountTokens } from "./workspace";
export { sha256Text } from "./hash";

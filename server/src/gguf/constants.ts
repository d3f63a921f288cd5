// GGUF / GGML constants as llama.cpp defines them (ggml.h `enum ggml_type`, llama.h
// `enum llama_ftype`, gguf.h value types). Plain data, shared by the reader and the writer.

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as little-endian u32
export const GGUF_DEFAULT_ALIGNMENT = 32;

export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
}

/** Elements per block and bytes per block for each tensor type. */
export const GGML_BLOCK: Readonly<Record<number, { elements: number; bytes: number }>> = {
  [GgmlType.F32]: { elements: 1, bytes: 4 },
  [GgmlType.F16]: { elements: 1, bytes: 2 },
  [GgmlType.Q4_0]: { elements: 32, bytes: 18 },
  [GgmlType.Q4_1]: { elements: 32, bytes: 20 },
  [GgmlType.Q5_0]: { elements: 32, bytes: 22 },
  [GgmlType.Q5_1]: { elements: 32, bytes: 24 },
  [GgmlType.Q8_0]: { elements: 32, bytes: 34 },
  [GgmlType.Q8_1]: { elements: 32, bytes: 36 },
  [GgmlType.Q2_K]: { elements: 256, bytes: 84 },
  [GgmlType.Q3_K]: { elements: 256, bytes: 110 },
  [GgmlType.Q4_K]: { elements: 256, bytes: 144 },
  [GgmlType.Q5_K]: { elements: 256, bytes: 176 },
  [GgmlType.Q6_K]: { elements: 256, bytes: 210 },
  [GgmlType.Q8_K]: { elements: 256, bytes: 292 },
  [GgmlType.IQ2_XXS]: { elements: 256, bytes: 66 },
  [GgmlType.IQ2_XS]: { elements: 256, bytes: 74 },
  [GgmlType.IQ3_XXS]: { elements: 256, bytes: 98 },
  [GgmlType.IQ1_S]: { elements: 256, bytes: 50 },
  [GgmlType.IQ4_NL]: { elements: 32, bytes: 18 },
  [GgmlType.IQ3_S]: { elements: 256, bytes: 110 },
  [GgmlType.IQ2_S]: { elements: 256, bytes: 82 },
  [GgmlType.IQ4_XS]: { elements: 256, bytes: 136 },
  [GgmlType.I8]: { elements: 1, bytes: 1 },
  [GgmlType.I16]: { elements: 1, bytes: 2 },
  [GgmlType.I32]: { elements: 1, bytes: 4 },
  [GgmlType.I64]: { elements: 1, bytes: 8 },
  [GgmlType.F64]: { elements: 1, bytes: 8 },
  [GgmlType.IQ1_M]: { elements: 256, bytes: 56 },
  [GgmlType.BF16]: { elements: 1, bytes: 2 },
  [GgmlType.TQ1_0]: { elements: 256, bytes: 54 },
  [GgmlType.TQ2_0]: { elements: 256, bytes: 66 },
  [GgmlType.MXFP4]: { elements: 32, bytes: 17 },
};

/** Name of a tensor type ("Q4_0"), or "TYPE_<n>" for one this build does not know. */
export function ggmlTypeName(type: number): string {
  return GgmlType[type] ?? `TYPE_${type}`;
}

/** Bytes a tensor of this type and element count occupies, or undefined for an unknown type or ragged row. */
export function ggmlTensorBytes(type: number, elements: number): number | undefined {
  const b = GGML_BLOCK[type];
  if (!b || elements % b.elements !== 0) return undefined;
  return (elements / b.elements) * b.bytes;
}

/** llama.cpp `general.file_type` (enum llama_ftype) → the quantization name users know. */
export const LLAMA_FTYPE_NAMES: Readonly<Record<number, string>> = {
  0: "F32",
  1: "F16",
  2: "Q4_0",
  3: "Q4_1",
  7: "Q8_0",
  8: "Q5_0",
  9: "Q5_1",
  10: "Q2_K",
  11: "Q3_K_S",
  12: "Q3_K_M",
  13: "Q3_K_L",
  14: "Q4_K_S",
  15: "Q4_K_M",
  16: "Q5_K_S",
  17: "Q5_K_M",
  18: "Q6_K",
  19: "IQ2_XXS",
  20: "IQ2_XS",
  21: "Q2_K_S",
  22: "IQ3_XS",
  23: "IQ3_XXS",
  24: "IQ1_S",
  25: "IQ4_NL",
  26: "IQ3_S",
  27: "IQ3_M",
  28: "IQ2_S",
  29: "IQ2_M",
  30: "IQ4_XS",
  31: "IQ1_M",
  32: "BF16",
  36: "TQ1_0",
  37: "TQ2_0",
  38: "MXFP4_MOE",
};

// Picoschema → JSON Schema, synchronously and with error paths, following google/dotprompt's
// docs/picoschema.md and its reference parser (dotprompt's `picoschema()`, which is async and
// throws on the first error). Behaviour matches the reference for every valid schema; a test
// compares the two. Named schemas (a type that is not a scalar) are not registered in Driftlens,
// so they are reported as errors.

export type JSONSchema = Record<string, unknown>;

export const SCALAR_TYPES = ["any", "boolean", "integer", "null", "number", "string"] as const;
const JSON_SCHEMA_TYPES = [...SCALAR_TYPES, "object", "array"];
const WILDCARD = "(*)";

export interface PicoschemaError {
  /** Path of keys inside the schema where the problem is. */
  path: (string | number)[];
  message: string;
  /** Whether the key (e.g. `x(bogus)`) or the value (e.g. `strin`) is at fault. */
  at: "key" | "value";
}

export interface PicoschemaResult {
  schema: JSONSchema | null;
  errors: PicoschemaError[];
}

function extractDescription(input: string): [string, string | null] {
  if (!input.includes(",")) return [input, null];
  const m = /(.*?), *(.*)$/.exec(input);
  if (!m) return [input, null];
  return [m[1]!, m[2]!];
}

/** Compiles a Picoschema (or passes a JSON Schema through). Never throws. */
export function compilePicoschema(schema: unknown): PicoschemaResult {
  const errors: PicoschemaError[] = [];
  if (!schema) return { schema: null, errors };
  if (typeof schema === "string") {
    const [type, description] = extractDescription(schema);
    if ((SCALAR_TYPES as readonly string[]).includes(type)) return { schema: description ? { type, description } : { type }, errors };
    errors.push({ path: [], at: "value", message: `unknown type '${type}': Picoschema types are ${SCALAR_TYPES.join(", ")} (named schemas are not supported)` });
    return { schema: null, errors };
  }
  if (typeof schema === "object" && !Array.isArray(schema)) {
    const o = schema as Record<string, unknown>;
    if (typeof o.type === "string" && JSON_SCHEMA_TYPES.includes(o.type)) return { schema: o, errors };
    if (typeof o.properties === "object" && o.properties !== null) return { schema: { ...o, type: "object" }, errors };
  }
  const out = parsePico(schema, [], errors);
  return { schema: errors.length ? null : (out as JSONSchema), errors };
}

function parsePico(obj: unknown, path: (string | number)[], errors: PicoschemaError[]): JSONSchema {
  if (typeof obj === "string") {
    const [type, description] = extractDescription(obj);
    if (!(SCALAR_TYPES as readonly string[]).includes(type)) {
      errors.push({ path, at: "value", message: `unknown type '${type}': Picoschema types are ${SCALAR_TYPES.join(", ")} (named schemas are not supported)` });
      return {};
    }
    if (type === "any") return description ? { description } : {};
    return description ? { type, description } : { type };
  }
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
    errors.push({ path, at: "value", message: `Picoschema consists of mappings and type strings, not ${obj === null ? "null" : Array.isArray(obj) ? "a list" : typeof obj} (${JSON.stringify(obj)})` });
    return {};
  }
  const properties: Record<string, JSONSchema> = {};
  const required: string[] = [];
  const schema: JSONSchema = { type: "object", properties, required, additionalProperties: false };
  for (const key of Object.keys(obj)) {
    const value = (obj as Record<string, unknown>)[key];
    if (key === WILDCARD) {
      schema.additionalProperties = parsePico(value, [...path, key], errors);
      continue;
    }
    const paren = key.indexOf("(");
    const name = paren < 0 ? key : key.slice(0, paren);
    const typeInfo = paren < 0 ? undefined : key.slice(paren + 1);
    const optional = name.endsWith("?");
    const prop = optional ? name.slice(0, -1) : name;
    if (!optional) required.push(prop);
    if (!typeInfo) {
      const p = { ...parsePico(value, [...path, key], errors) };
      if (optional && typeof p.type === "string") p.type = [p.type, "null"];
      properties[prop] = p;
      continue;
    }
    if (!typeInfo.endsWith(")")) {
      errors.push({ path: [...path, key], at: "key", message: `'${key}' has an unclosed '(': write name(object), name(array) or name(enum)` });
      continue;
    }
    const [type, description] = extractDescription(typeInfo.slice(0, -1));
    let p: JSONSchema;
    if (type === "array") {
      p = { type: optional ? ["array", "null"] : "array", items: parsePico(value, [...path, key], errors) };
    } else if (type === "object") {
      p = parsePico(value, [...path, key], errors);
      if (optional) p.type = [p.type, "null"];
    } else if (type === "enum") {
      if (!Array.isArray(value)) {
        errors.push({ path: [...path, key], at: "key", message: `'${key}' is an enum: give its values as a list` });
        continue;
      }
      const values = [...value];
      if (optional && !values.includes(null)) values.push(null);
      p = { enum: values };
    } else {
      errors.push({ path: [...path, key], at: "key", message: `parenthetical types must be 'object', 'array' or 'enum', not '${type}'` });
      continue;
    }
    if (description) p.description = description;
    properties[prop] = p;
  }
  if (required.length === 0) delete schema.required;
  return schema;
}

/** Names a Picoschema key declares: `name?(array, desc)` → `name`. */
export function picoKeyName(key: string): string {
  const paren = key.indexOf("(");
  const name = paren < 0 ? key : key.slice(0, paren);
  return name.endsWith("?") ? name.slice(0, -1) : name;
}

/** JSON type name of a value, as JSON Schema's `type` uses it. */
export function jsonTypeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  if (v instanceof Date) return "string";
  return typeof v;
}

function typeMatches(types: unknown, v: unknown): boolean {
  if (types === undefined) return true;
  const list = Array.isArray(types) ? types : [types];
  const t = jsonTypeOf(v);
  return list.some((x) => x === t || (x === "number" && t === "integer"));
}

export interface ValueProblem {
  path: (string | number)[];
  kind: "missing" | "unknown" | "type";
  message: string;
}

/**
 * Checks a value against the subset of JSON Schema Picoschema produces (type, properties,
 * required, additionalProperties, items, enum). Enough to say precisely which var is wrong.
 */
export function checkValue(schema: JSONSchema | null | undefined, value: unknown, path: (string | number)[] = [], out: ValueProblem[] = [], depth = 0): ValueProblem[] {
  if (!schema || typeof schema !== "object" || depth > 32) return out;
  const where = path.length ? path.join(".") : "value";
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => e === value)) {
    out.push({ path, kind: "type", message: `${where} must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}, not ${JSON.stringify(value)}` });
    return out;
  }
  if (!typeMatches(schema.type, value)) {
    const t = Array.isArray(schema.type) ? schema.type.join(" or ") : String(schema.type);
    out.push({ path, kind: "type", message: `${where} must be ${t}, not ${jsonTypeOf(value)}` });
    return out;
  }
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const props = (schema.properties ?? {}) as Record<string, JSONSchema>;
    const obj = value as Record<string, unknown>;
    for (const r of Array.isArray(schema.required) ? (schema.required as string[]) : []) {
      if (!(r in obj)) out.push({ path: [...path, r], kind: "missing", message: `missing required ${path.length ? `field '${r}' of ${where}` : `variable '${r}'`}` });
    }
    for (const [k, v] of Object.entries(obj)) {
      if (k in props) checkValue(props[k], v, [...path, k], out, depth + 1);
      else if (schema.additionalProperties === false) out.push({ path: [...path, k], kind: "unknown", message: `${path.length ? `field '${k}' of ${where}` : `variable '${k}'`} is not declared in the prompt's input schema` });
      else if (schema.additionalProperties && typeof schema.additionalProperties === "object") checkValue(schema.additionalProperties as JSONSchema, v, [...path, k], out, depth + 1);
    }
  }
  if (Array.isArray(value) && schema.items && typeof schema.items === "object") {
    value.forEach((item, i) => checkValue(schema.items as JSONSchema, item, [...path, i], out, depth + 1));
  }
  return out;
}

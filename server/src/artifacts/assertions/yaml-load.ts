// YAML as promptfoo reads it inside assertions (a JSON Schema given as a string, candidate objects
// found by contains-json): js-yaml 5 with the tags js-yaml 4's default schema had (merge keys,
// timestamps, binary, omap, pairs, and `!!set` as an object of nulls). The eval set itself is read
// by the `yaml` library (artifacts/yaml-source.ts); these strings are read by promptfoo's rules so
// they mean what they mean there.
import * as jsyaml from "js-yaml";

const legacySetTag = jsyaml.defineMappingTag("tag:yaml.org,2002:set", {
  ...jsyaml.legacyMapTag,
  identify: jsyaml.setTag.identify,
  represent: jsyaml.setTag.represent,
  addPair: (container: unknown, key: unknown, value: unknown) => {
    if (value !== null) return "cannot resolve a set item";
    return (jsyaml.legacyMapTag as unknown as { addPair: (c: unknown, k: unknown, v: unknown) => unknown }).addPair(container, key, null);
  },
} as unknown as Parameters<typeof jsyaml.defineMappingTag>[1]);

const SCHEMA = jsyaml.CORE_SCHEMA.withTags(jsyaml.mergeTag, jsyaml.binaryTag, jsyaml.timestampTag, jsyaml.omapTag, jsyaml.pairsTag, legacySetTag);

/** One YAML document (undefined for an empty one); throws on a syntax error or several documents. */
export function loadYaml(content: string, options: { json?: boolean } = {}): unknown {
  const docs = jsyaml.loadAll(content, { schema: SCHEMA, ...options });
  if (docs.length === 0) return undefined;
  if (docs.length > 1) throw new jsyaml.YAMLException("expected a single document in the stream, but found more");
  return docs[0];
}

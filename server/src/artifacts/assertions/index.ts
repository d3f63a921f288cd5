// Assertions as the eval-set checker sees them: the type list, the Assertion shape, each type's
// value rules and docs, and prepareAssertion (check + render), which the evaluator uses too.
import { ASSERTION_SPECS } from "./specs";
import { ASSERTION_TYPES, type AssertionType } from "./types";

export { ASSERTION_TYPES, isAssertionType, type Assertion, type AssertionType, type IssueCode } from "./types";
export { ASSERTION_SPECS, listItems, type AssertionSpec } from "./specs";
export { prepareAssertion, type AssertionIssue, type PreparedAssertion } from "./prepare";
export { parseCommaList } from "./csv";
export { compileSchema, readSchema, schemaErrorsText, ajvFor, type Draft } from "./json-schema";
export { loadYaml } from "./yaml-load";
export { hasTemplate, renderTemplate, TEMPLATE_FILTERS, TEMPLATE_SUPPORT } from "./template";

/** Short documentation per assertion type (hover, completion). */
export const ASSERTION_DOCS = Object.fromEntries(ASSERTION_TYPES.map((t) => [t, ASSERTION_SPECS[t].doc])) as Record<AssertionType, string>;

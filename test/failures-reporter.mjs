// A test reporter for `npm test` (test/run.mjs): one JSON line per failed test (its name, file and
// error message, not the stack), so the run can repeat every failure of every pass at its very end,
// where a CI log's tail shows it. Parents that failed only because a subtest did are left out.
export default async function* failures(source) {
  for await (const event of source) {
    if (event.type !== "test:fail") continue;
    const { name, file, details } = event.data;
    const error = details?.error;
    if (error?.failureType === "subtestsFailed") continue;
    const cause = error?.cause ?? error;
    const message = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause?.message ?? cause);
    yield JSON.stringify({ name, file: file ?? "", message }) + "\n";
  }
}

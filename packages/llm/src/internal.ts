// @tollgate/llm/internal: UNSTABLE. For Tollgate's own packages, tests and benches; not part of the public API, and
// it may change in any release.
export {};

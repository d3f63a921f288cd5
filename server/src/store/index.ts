// The store's public surface (see docs/store.md).
export * from "./store";

// Versioned schema migrations. PRAGMA user_version holds the schema version; each migration runs
// in one transaction with the version bump, so a store is always at exactly one known version.
// Migrations only ever add: a column or table once shipped is never dropped or rewritten, so an
// older store upgraded here keeps every row it had.

/** Marks the file as a Driftlens store (PRAGMA application_id): "DRLN". */
export const APPLICATION_ID = 0x44524c4e;

export interface Migration {
  version: number;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    sql: `
      -- Artifact contents, addressed by sha256 of the normalized text (see normalizeContent).
      CREATE TABLE blobs (
        hash TEXT PRIMARY KEY,
        content TEXT NOT NULL
      ) WITHOUT ROWID;
      -- Every (path, version) ever seen, with when it was first seen and the git commit if known.
      CREATE TABLE artifact_versions (
        path TEXT NOT NULL,
        hash TEXT NOT NULL REFERENCES blobs(hash),
        kind TEXT NOT NULL,
        first_seen INTEGER NOT NULL,
        git_commit TEXT,
        PRIMARY KEY (path, hash)
      ) WITHOUT ROWID;
      CREATE INDEX artifact_versions_hash ON artifact_versions(hash);

      -- sha256 of model files, valid while path, size and mtime are unchanged.
      CREATE TABLE model_fingerprints (
        path TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        mtime_ms REAL NOT NULL,
        sha256 TEXT NOT NULL,
        computed_at INTEGER NOT NULL
      ) WITHOUT ROWID;

      CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        variant TEXT NOT NULL,
        prompt_file TEXT NOT NULL,
        eval_set_file TEXT NOT NULL,
        prompt_hash TEXT NOT NULL,
        eval_set_hash TEXT NOT NULL,
        model_fingerprint TEXT NOT NULL,
        adapters TEXT NOT NULL,
        params TEXT NOT NULL,
        seed INTEGER NOT NULL,
        engine_version TEXT NOT NULL,
        backend TEXT,
        threads INTEGER,
        status TEXT NOT NULL CHECK (status IN ('running', 'complete', 'failed')),
        case_count INTEGER NOT NULL,
        error TEXT,
        summary TEXT,
        meta TEXT,
        owner_pid INTEGER,
        owner_host TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        finished_at INTEGER
      ) WITHOUT ROWID;
      CREATE INDEX runs_fingerprint ON runs(fingerprint, status);
      CREATE INDEX runs_prompt ON runs(prompt_file, created_at);

      -- Rows carry outputs and tokens (large), so these are rowid tables with a unique key:
      -- WITHOUT ROWID suits only small rows.
      CREATE TABLE results (
        run_id TEXT NOT NULL REFERENCES runs(id),
        case_id TEXT NOT NULL,
        ord INTEGER NOT NULL,
        pass INTEGER NOT NULL,
        score REAL NOT NULL,
        output TEXT NOT NULL,
        tokens BLOB NOT NULL,
        assertions TEXT NOT NULL,
        tags TEXT NOT NULL,
        cached INTEGER NOT NULL,
        gen_key TEXT,
        error TEXT,
        timings TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        UNIQUE (run_id, case_id)
      );

      -- The generation cache: key = sha256 of (messages, model fingerprint, adapters, params, seed,
      -- engine version). Tokens (with top-k alternatives) are binary: see token-codec.ts.
      CREATE TABLE generations (
        key TEXT NOT NULL UNIQUE,
        text TEXT NOT NULL,
        tokens BLOB NOT NULL,
        prompt_tokens INTEGER NOT NULL,
        template TEXT NOT NULL,
        stop_reason TEXT NOT NULL,
        ttft_ms REAL NOT NULL,
        wall_ms REAL NOT NULL,
        tokens_per_second REAL NOT NULL,
        backend TEXT,
        threads INTEGER,
        engine_version TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 2,
    sql: `
      -- Derived data that is expensive to recompute and a pure function of its key (parsed eval
      -- sets, rendered prompts): lets an unchanged rerun skip parsing and rendering.
      CREATE TABLE memo (
        key TEXT NOT NULL UNIQUE,
        value TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 3,
    sql: `
      -- Sampled evals (repeat: N): one row per case as before, with every sample's output,
      -- verdict and generation key as JSON (NULL for a case drawn once).
      ALTER TABLE results ADD COLUMN samples TEXT;
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

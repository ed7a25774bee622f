/**
 * The store's schema, as numbered migrations applied in order inside one transaction each and
 * recorded in `schema_migrations`. Never edit a released migration: add the next one.
 */

import { INDEX_SIZE_POSTGRES, INDEX_SIZE_SQLITE } from './migrations-index-size.js'
import { LEAK_LIST_POSTGRES, LEAK_LIST_SQLITE, STATUS_SORT_FILTERS_POSTGRES } from './migrations-leak-list.js'
import { PUBLIC_SOURCE_LEASES_POSTGRES, PUBLIC_SOURCE_LEASES_SQLITE, PUBLIC_SOURCES_POSTGRES, PUBLIC_SOURCES_SQLITE } from './migrations-public-sources.js'
import { POSTGRES_MIGRATIONS } from './migrations-postgres.js'
import type { SqlDialect } from './sql.js'

/**
 * One schema step. `sql` is one text both engines run, or a text per engine where their DDL differs
 * (types, `STRICT`, `AUTOINCREMENT`...). The steps written before the PostgreSQL store keep their
 * PostgreSQL text apart, in migrations-postgres.ts.
 */
export interface Migration {
  version: number
  name: string
  sql: string | { sqlite: string; postgres?: string }
}

/** The text of migration `m` for `dialect`. */
export function migrationText(m: Migration, dialect: SqlDialect): string {
  if (typeof m.sql === 'string') return m.sql
  const text = m.sql[dialect] ?? (dialect === 'postgres' ? POSTGRES_MIGRATIONS.get(m.version) : undefined)
  if (text === undefined) throw new Error(`migration ${m.version} (${m.name}) has no ${dialect} text`)
  return text
}

/** Every migration, oldest first. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'leaks, tokens, decisions, sync, sightings, nodes, keys, scans',
    sql: { sqlite: `
      CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      ) STRICT;
      INSERT INTO meta (key, value) VALUES ('revision', 0), ('pruned_through', 0);

      CREATE TABLE leaks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        title TEXT NOT NULL,
        source TEXT NOT NULL,
        kind TEXT,
        location TEXT NOT NULL DEFAULT '{}',
        -- Rescans find the same exposure again: this key (a finding's fingerprint, or source +
        -- location + token hashes) makes them update the leak instead of duplicating it.
        dedupe_key TEXT UNIQUE,
        risk TEXT NOT NULL,
        risk_rank INTEGER NOT NULL,
        risk_score INTEGER NOT NULL,
        risk_factors TEXT NOT NULL,
        risk_overridden INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL CHECK (status IN ('open', 'closed', 'false_positive')),
        action TEXT NOT NULL CHECK (action IN ('block', 'monitor')),
        in_history_only INTEGER NOT NULL DEFAULT 0,
        exposed_at TEXT,
        hits INTEGER NOT NULL DEFAULT 0,
        last_seen_at TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        -- Lowercased title, location values and token previews, for the q filter.
        search_text TEXT NOT NULL DEFAULT ''
      ) STRICT;
      CREATE INDEX leaks_status ON leaks (status);
      CREATE INDEX leaks_created ON leaks (created_at, id);

      CREATE TABLE tokens (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL UNIQUE CHECK (length(sha256) = 64),
        preview TEXT NOT NULL,
        kind TEXT,
        created_at TEXT NOT NULL
      ) STRICT;

      CREATE TABLE leak_tokens (
        leak_id INTEGER NOT NULL REFERENCES leaks (id),
        token_id INTEGER NOT NULL REFERENCES tokens (id),
        PRIMARY KEY (leak_id, token_id)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX leak_tokens_token ON leak_tokens (token_id, leak_id);

      CREATE TABLE decisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        leak_id INTEGER NOT NULL REFERENCES leaks (id),
        actor TEXT NOT NULL,
        at TEXT NOT NULL,
        from_state TEXT,
        to_state TEXT NOT NULL,
        comment TEXT
      ) STRICT;
      CREATE INDEX decisions_leak ON decisions (leak_id, id);

      -- What every node's index holds now: sha256 -> the verdict of the open leaks holding it.
      CREATE TABLE index_entries (
        sha256 TEXT PRIMARY KEY,
        action TEXT NOT NULL,
        leak_id INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;

      -- The revision log nodes follow: one row a change of index_entries.
      CREATE TABLE changes (
        rev INTEGER PRIMARY KEY,
        op TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
        sha256 TEXT NOT NULL,
        action TEXT,
        leak_id INTEGER,
        at TEXT NOT NULL
      ) STRICT;

      CREATE TABLE sightings (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        leak_id INTEGER NOT NULL REFERENCES leaks (id),
        node_id TEXT NOT NULL,
        sha256 TEXT,
        at TEXT NOT NULL,
        host TEXT,
        method TEXT,
        route TEXT,
        client TEXT,
        verdict TEXT,
        received_at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX sightings_leak ON sightings (leak_id, at DESC, id DESC);

      CREATE TABLE nodes (
        id TEXT PRIMARY KEY,
        version TEXT,
        revision INTEGER,
        index_entries INTEGER,
        sync_age_seconds REAL,
        last_contact_at TEXT NOT NULL
      ) STRICT;

      CREATE TABLE api_keys (
        key_id TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL CHECK (role IN ('admin', 'analyst', 'node')),
        label TEXT,
        created_at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX api_keys_id ON api_keys (key_id);

      CREATE TABLE scans (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        source TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
        progress TEXT NOT NULL DEFAULT '{}',
        findings TEXT NOT NULL DEFAULT '[]',
        leaks_created INTEGER NOT NULL DEFAULT 0,
        leaks_updated INTEGER NOT NULL DEFAULT 0,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        error TEXT
      ) STRICT;

      -- Per scanned source (a stable key such as "git:https://…"): what the last scan saw (commits).
      CREATE TABLE scan_state (
        source_key TEXT PRIMARY KEY,
        state TEXT NOT NULL DEFAULT '{}',
        updated_at TEXT NOT NULL
      ) STRICT;
    ` },
  },
  {
    version: 2,
    name: 'node identities (the key a node reports with), prune index, nodes that saw each leak',
    sql: { sqlite: `
      -- The key id a node is bound to: the node key it first reported with (null: not yet bound, e.g. a
      -- row from before this migration or made by an admin key; the first node key to report claims it).
      ALTER TABLE nodes ADD COLUMN key_id TEXT;
      CREATE INDEX nodes_key ON nodes (key_id);
      CREATE INDEX nodes_last_contact ON nodes (last_contact_at);

      -- Which nodes have seen each leak, so risk counts nodes, not sightings: a burst from one node is
      -- one node's evidence. Kept apart from sightings, which are pruned to the newest few per leak.
      CREATE TABLE leak_seen_by (
        leak_id INTEGER NOT NULL REFERENCES leaks (id),
        node_id TEXT NOT NULL,
        first_seen_at TEXT NOT NULL,
        PRIMARY KEY (leak_id, node_id)
      ) STRICT, WITHOUT ROWID;
      INSERT OR IGNORE INTO leak_seen_by (leak_id, node_id, first_seen_at)
        SELECT leak_id, node_id, min(received_at) FROM sightings GROUP BY leak_id, node_id;
      ALTER TABLE leaks ADD COLUMN seen_by_nodes INTEGER NOT NULL DEFAULT 0;
      UPDATE leaks SET seen_by_nodes = (SELECT count(*) FROM leak_seen_by s WHERE s.leak_id = leaks.id);
      -- A leak with hits whose sightings were all pruned still counts as seen by one node.
      UPDATE leaks SET seen_by_nodes = 1 WHERE hits > 0 AND seen_by_nodes = 0;
    ` },
  },
  {
    version: 3,
    name: 'hash key: whether token hashes are keyed, and the id of the key',
    sql: { sqlite: `
      -- One row once the store's token hashes are keyed (HMAC-SHA256 with the hashKey option); none while
      -- they are plain SHA-256s. The key's id only (protocol/token-hash.ts hashKeyId), never the key.
      CREATE TABLE hash_key (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        key_id TEXT NOT NULL CHECK (length(key_id) = 16),
        keyed_at TEXT NOT NULL
      ) STRICT;
    ` },
  },
  {
    version: 4,
    name: 'scan jobs: queued scans, the job that runs a scan, its attempts and heartbeat',
    sql: {
      // SQLite runs scans in the control plane's process and never queues one, but keeps the same
      // columns and statuses so a store moves between the engines as it is. A CHECK cannot change in
      // place in SQLite: the table is rebuilt (it holds no foreign key).
      sqlite: `
      CREATE TABLE scans_new (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        source TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
        progress TEXT NOT NULL DEFAULT '{}',
        findings TEXT NOT NULL DEFAULT '[]',
        leaks_created INTEGER NOT NULL DEFAULT 0,
        leaks_updated INTEGER NOT NULL DEFAULT 0,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        error TEXT,
        source_key TEXT,
        job_id TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        heartbeat_at TEXT
      ) STRICT;
      INSERT INTO scans_new (id, source, status, progress, findings, leaks_created, leaks_updated, started_at, finished_at, error)
        SELECT id, source, status, progress, findings, leaks_created, leaks_updated, started_at, finished_at, error FROM scans;
      DROP TABLE scans;
      ALTER TABLE scans_new RENAME TO scans;
      CREATE INDEX scans_status ON scans (status, heartbeat_at);
      CREATE INDEX scans_source_key ON scans (source_key, status);
    `,
      postgres: `
      -- queued: waiting for a scan worker (a pg-boss job, job_id); attempts counts the workers that took
      -- it; heartbeat_at is the running worker's last sign of life (a stale one gets the job retried).
      ALTER TABLE scans DROP CONSTRAINT IF EXISTS scans_status_check;
      ALTER TABLE scans ADD CONSTRAINT scans_status_check CHECK (status IN ('queued', 'running', 'done', 'failed'));
      ALTER TABLE scans ADD COLUMN source_key text;
      ALTER TABLE scans ADD COLUMN job_id text;
      ALTER TABLE scans ADD COLUMN attempts bigint NOT NULL DEFAULT 0;
      ALTER TABLE scans ADD COLUMN heartbeat_at text;
      CREATE INDEX scans_status ON scans (status, heartbeat_at);
      CREATE INDEX scans_source_key ON scans (source_key, status);
    `,
    },
  },
  {
    version: 5,
    name: 'events (the outbox webhooks deliver from), issuer and checker key roles',
    sql: {
      // events: what happened, written in the transaction of the change itself, so an event is never
      // lost and never announces a change that rolled back. Payloads hold hashes and previews only.
      // api_keys gains two roles: issuer (confirms a rotation) and checker (asks the range endpoint).
      sqlite: `
      CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        type TEXT NOT NULL,
        leak_id INTEGER,
        data TEXT NOT NULL DEFAULT '{}',
        at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX events_leak ON events (leak_id, id);

      CREATE TABLE api_keys_new (
        key_id TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL CHECK (role IN ('admin', 'analyst', 'node', 'issuer', 'checker')),
        label TEXT,
        created_at TEXT NOT NULL
      ) STRICT;
      INSERT INTO api_keys_new (key_id, hash, role, label, created_at)
        SELECT key_id, hash, role, label, created_at FROM api_keys;
      DROP TABLE api_keys;
      ALTER TABLE api_keys_new RENAME TO api_keys;
      CREATE INDEX api_keys_id ON api_keys (key_id);
    `,
      postgres: `
      CREATE TABLE events (
        id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        type text NOT NULL,
        leak_id bigint,
        data text NOT NULL DEFAULT '{}',
        at text NOT NULL
      );
      CREATE INDEX events_leak ON events (leak_id, id);

      ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS api_keys_role_check;
      ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check CHECK (role IN ('admin', 'analyst', 'node', 'issuer', 'checker'));
    `,
    },
  },
  {
    version: 6,
    name: 'webhooks: endpoints, their deliveries, the fan-out mark; the sighting and stale-node event marks',
    sql: {
      // webhooks: an endpoint, its signing secret (it must be kept to sign; it is shown once and never
      // answered again) and, after a rotation, the previous secret until the overlap ends. from_event_id:
      // the newest event when it was made, so it gets no event from before it existed.
      // webhook_deliveries: one event for one endpoint (unique: an event is fanned out once, whichever
      // replica does it); leased_until: the replica sending it holds it until then.
      // events.fanned_out: a flag a row rather than a mark of the newest id, since on PostgreSQL ids are
      // taken before commit: a transaction committing late could hold an id below the mark. The events
      // recorded before webhooks existed are not fanned out.
      // leaks.sighted_event_at: when its last leak.sighted event was recorded (at most one an interval).
      // nodes.stale_since: set when a node.stale event is recorded, cleared by its next contact, so a
      // stale episode announces itself once.
      sqlite: `
      CREATE TABLE webhooks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        url TEXT NOT NULL,
        description TEXT,
        events TEXT NOT NULL,
        format TEXT NOT NULL CHECK (format IN ('json', 'slack')),
        enabled INTEGER NOT NULL DEFAULT 1,
        secret TEXT NOT NULL,
        previous_secret TEXT,
        previous_secret_until TEXT,
        from_event_id INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
      CREATE TABLE webhook_deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        webhook_id INTEGER NOT NULL,
        event_id INTEGER NOT NULL,
        event_type TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        leased_until TEXT,
        response_code INTEGER,
        duration_ms INTEGER,
        last_error TEXT,
        created_at TEXT NOT NULL,
        give_up_at TEXT NOT NULL,
        delivered_at TEXT,
        UNIQUE (webhook_id, event_id)
      ) STRICT;
      CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
      CREATE INDEX webhook_deliveries_of ON webhook_deliveries (webhook_id, id);
      ALTER TABLE events ADD COLUMN fanned_out INTEGER NOT NULL DEFAULT 0;
      UPDATE events SET fanned_out = 1;
      CREATE INDEX events_to_fan_out ON events (id) WHERE fanned_out = 0;
      ALTER TABLE leaks ADD COLUMN sighted_event_at TEXT;
      ALTER TABLE nodes ADD COLUMN stale_since TEXT;
    `,
      postgres: `
      CREATE TABLE webhooks (
        id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        url text NOT NULL,
        description text,
        events text NOT NULL,
        format text NOT NULL CHECK (format IN ('json', 'slack')),
        enabled bigint NOT NULL DEFAULT 1,
        secret text NOT NULL,
        previous_secret text,
        previous_secret_until text,
        from_event_id bigint NOT NULL,
        created_at text NOT NULL,
        updated_at text NOT NULL
      );
      CREATE TABLE webhook_deliveries (
        id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        webhook_id bigint NOT NULL,
        event_id bigint NOT NULL,
        event_type text NOT NULL,
        payload text NOT NULL,
        status text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts bigint NOT NULL DEFAULT 0,
        next_attempt_at text NOT NULL,
        leased_until text,
        response_code bigint,
        duration_ms bigint,
        last_error text,
        created_at text NOT NULL,
        give_up_at text NOT NULL,
        delivered_at text,
        UNIQUE (webhook_id, event_id)
      );
      CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
      CREATE INDEX webhook_deliveries_of ON webhook_deliveries (webhook_id, id);
      ALTER TABLE events ADD COLUMN fanned_out bigint NOT NULL DEFAULT 0;
      UPDATE events SET fanned_out = 1;
      CREATE INDEX events_to_fan_out ON events (id) WHERE fanned_out = 0;
      ALTER TABLE leaks ADD COLUMN sighted_event_at text;
      ALTER TABLE nodes ADD COLUMN stale_since text;
      `,
      },
    },
  {
    version: 7,
    name: 'rotation state of leaks (requested by an operator, confirmed by the issuer)',
    sql: {
      // rotation: null (none asked), 'requested' (an operator asked the issuer to rotate the credential;
      // the leak stays open and enforced meanwhile), 'rotated' (the issuer confirmed; the leak closed).
      // A state beside the status, not a status: the leak's status keeps meaning what nodes enforce.
      sqlite: `
      ALTER TABLE leaks ADD COLUMN rotation TEXT CHECK (rotation IN ('requested', 'rotated'));
      ALTER TABLE leaks ADD COLUMN rotation_requested_at TEXT;
      ALTER TABLE leaks ADD COLUMN rotated_at TEXT;
      CREATE INDEX leaks_rotation ON leaks (rotation) WHERE rotation IS NOT NULL;
    `,
      postgres: `
      ALTER TABLE leaks ADD COLUMN rotation text CHECK (rotation IN ('requested', 'rotated'));
      ALTER TABLE leaks ADD COLUMN rotation_requested_at text;
      ALTER TABLE leaks ADD COLUMN rotated_at text;
      CREATE INDEX leaks_rotation ON leaks (rotation) WHERE rotation IS NOT NULL;
      `,
      },
    },
  {
    version: 8,
    name: 'PostgreSQL text compares as bytes (COLLATE "C"), as SQLite compares it',
    sql: {
      // SQLite compares text with BINARY (memcmp) unless told otherwise: nothing to do.
      sqlite: '-- SQLite compares text as bytes already.',
      // A PostgreSQL column takes the database's collation, chosen when the database was created (often
      // en_US.UTF-8, which orders "a" < "B" < "b" and skips punctuation at first): lists sorted by title
      // or source and cursors (`title > ?`) would then order differently from SQLite, and range scans
      // over hex hashes would compare through the locale, slower and without a byte-ordered index. Every
      // text column of the store's tables becomes "C"; the types and values are the same, so only the
      // indexes on the columns are rebuilt. A step that adds a text column later declares it COLLATE "C".
      postgres: `
      DO $$
      DECLARE col record;
      BEGIN
        FOR col IN
          SELECT c.relname AS tbl, a.attname AS name
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
          WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
            AND a.attnum > 0 AND NOT a.attisdropped
            AND a.atttypid = 'text'::regtype AND a.attcollation <> 'pg_catalog."C"'::regcollation
          ORDER BY c.relname, a.attnum
        LOOP
          EXECUTE format('ALTER TABLE %I ALTER COLUMN %I TYPE text COLLATE "C"', col.tbl, col.name);
        END LOOP;
      END
      $$;
    `,
    },
  },
  {
    version: 9,
    name: 'API keys: name, owner, expiry, last use, revocation',
    sql: {
      // name: what the key is for (env-seeded keys have their label instead); owner: the person the
      // audit names for what the key does; revoked_at: revoked keys stay, so the key ids the audit
      // names keep naming a listed key (a time ahead: a rotated key working until then);
      // last_used_at: written at most once a minute a key. revoked_by: who revoked it (the audit's actor,
      // or `env:<label>` when a changed environment variable replaced a seeded key: that one comes back
      // if the variable does, as a key revoked by a person does not).
      sqlite: `
      ALTER TABLE api_keys ADD COLUMN name TEXT;
      ALTER TABLE api_keys ADD COLUMN owner TEXT;
      ALTER TABLE api_keys ADD COLUMN expires_at TEXT;
      ALTER TABLE api_keys ADD COLUMN last_used_at TEXT;
      ALTER TABLE api_keys ADD COLUMN revoked_at TEXT;
      ALTER TABLE api_keys ADD COLUMN revoked_by TEXT;
    `,
      postgres: `
      ALTER TABLE api_keys ADD COLUMN name text COLLATE "C";
      ALTER TABLE api_keys ADD COLUMN owner text COLLATE "C";
      ALTER TABLE api_keys ADD COLUMN expires_at text COLLATE "C";
      ALTER TABLE api_keys ADD COLUMN last_used_at text COLLATE "C";
      ALTER TABLE api_keys ADD COLUMN revoked_at text COLLATE "C";
      ALTER TABLE api_keys ADD COLUMN revoked_by text COLLATE "C";
    `,
    },
  },
  {
    version: 10,
    name: 'console sessions of people signed in through OpenID Connect, and sign-ins under way',
    sql: {
      // A session's token is stored as its SHA-256 only (found by session_id, its first 8 hex, then
      // compared in constant time, as API keys are). A session is made at the provider's callback with
      // a one-time code for the console page (handoff_hash); the token exists only once the page
      // redeems it, so it never passes through a URL. Sessions are for the console's two roles only.
      // oidc_logins: a sign-in between the redirect to the provider and its callback, by the hashes of
      // its state and of the browser's cookie (state, nonce and PKCE verifier, which only the cookie
      // holds), so any replica can take the callback, once.
      sqlite: `
      CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        session_id TEXT,
        token_hash TEXT UNIQUE,
        handoff_hash TEXT UNIQUE,
        handoff_expires_at TEXT,
        person TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('admin', 'analyst')),
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        revoked_at TEXT
      ) STRICT;
      CREATE INDEX sessions_session_id ON sessions (session_id);
      CREATE INDEX sessions_expires ON sessions (expires_at);
      CREATE TABLE oidc_logins (
        state_hash TEXT PRIMARY KEY,
        login_hash TEXT NOT NULL,
        expires_at TEXT NOT NULL
      ) STRICT;
    `,
      postgres: `
      CREATE TABLE sessions (
        id bigserial PRIMARY KEY,
        session_id text COLLATE "C",
        token_hash text COLLATE "C" UNIQUE,
        handoff_hash text COLLATE "C" UNIQUE,
        handoff_expires_at text COLLATE "C",
        person text COLLATE "C" NOT NULL,
        role text COLLATE "C" NOT NULL CHECK (role IN ('admin', 'analyst')),
        created_at text COLLATE "C" NOT NULL,
        expires_at text COLLATE "C" NOT NULL,
        revoked_at text COLLATE "C"
      );
      CREATE INDEX sessions_session_id ON sessions (session_id);
      CREATE INDEX sessions_expires ON sessions (expires_at);
      CREATE TABLE oidc_logins (
        state_hash text COLLATE "C" PRIMARY KEY,
        login_hash text COLLATE "C" NOT NULL,
        expires_at text COLLATE "C" NOT NULL
      );
    `,
    },
  },
  {
    version: 11,
    name: 'where a scanned leak was found with others, and what vouches for its token format',
    sql: {
      // place_key: one value a repository, commit and file; the leaks a scan made there share it, and
      // each shows the others as found with it (leak detail's `foundWith`), so it is indexed.
      // verified_format: 'checksum' or 'prefix' when the scanner's rule vouches for the token's format
      // (risk.ts weighs it); null for other leaks.
      sqlite: `
      ALTER TABLE leaks ADD COLUMN place_key TEXT;
      ALTER TABLE leaks ADD COLUMN verified_format TEXT CHECK (verified_format IN ('checksum', 'prefix'));
      CREATE INDEX leaks_place_key ON leaks (place_key) WHERE place_key IS NOT NULL;
    `,
      postgres: `
      ALTER TABLE leaks ADD COLUMN place_key text COLLATE "C";
      ALTER TABLE leaks ADD COLUMN verified_format text COLLATE "C" CHECK (verified_format IN ('checksum', 'prefix'));
      CREATE INDEX leaks_place_key ON leaks (place_key) WHERE place_key IS NOT NULL;
      `,
    },
  },
  {
    version: 12,
    name: 'leak counts kept by triggers; indexes for each sort of the leak list, alone and after status',
    sql: { sqlite: LEAK_LIST_SQLITE, postgres: LEAK_LIST_POSTGRES },
  },
  {
    version: 13,
    name: 'the index\'s entry count kept by triggers',
    sql: { sqlite: INDEX_SIZE_SQLITE, postgres: INDEX_SIZE_POSTGRES },
  },
  {
    version: 14,
    name: 'the search\'s trigram index keeps a short list of pending entries',
    sql: {
      sqlite: '-- SQLite\'s FTS5 index has no pending list.',
      // A GIN index gathers new entries in a pending list (4 MB by default) that every search reads
      // whole until it is merged: up to 40–50 ms on each search at a million leaks. 256 kB keeps the
      // batching for inserts and a search's extra read to a few pages.
      postgres: `
      ALTER INDEX leaks_search SET (gin_pending_list_limit = 256);
      SELECT gin_clean_pending_list('leaks_search');
      `,
    },
  },
  {
    version: 15,
    name: 'public sources: cursors, content already scanned, public places of a leak, issued token hashes',
    sql: { sqlite: PUBLIC_SOURCES_SQLITE, postgres: PUBLIC_SOURCES_POSTGRES },
  },
  {
    version: 16,
    name: 'the list\'s status and sort indexes carry the other filters\' columns (PostgreSQL)',
    sql: {
      // SQLite reads the filter's own index or walks the sort's, as its plan says (leak-list.ts).
      sqlite: '-- PostgreSQL only: SQLite keeps its indexes.',
      postgres: STATUS_SORT_FILTERS_POSTGRES,
    },
  },
  {
    version: 17,
    name: 'who ended a console session, and when it was last used',
    sql: {
      // revoked_by: the actor who ended the session (as the audit names callers), `leakgate sessions`,
      // or the person signing out. last_used_at: written at most once a minute a session, as API keys' is.
      // person is indexed without case, as people are matched (emails).
      sqlite: `
      ALTER TABLE sessions ADD COLUMN revoked_by TEXT;
      ALTER TABLE sessions ADD COLUMN last_used_at TEXT;
      CREATE INDEX sessions_person ON sessions (lower(person));
    `,
      postgres: `
      ALTER TABLE sessions ADD COLUMN revoked_by text COLLATE "C";
      ALTER TABLE sessions ADD COLUMN last_used_at text COLLATE "C";
      CREATE INDEX sessions_person ON sessions (lower(person));
    `,
    },
  },
  {
    version: 18,
    name: 'public sources: a lease on each cursor row (shards run by many workers), and its count of errors',
    sql: { sqlite: PUBLIC_SOURCE_LEASES_SQLITE, postgres: PUBLIC_SOURCE_LEASES_POSTGRES },
  },
]

/** The schema version this build expects: its newest migration's. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS.at(-1)?.version ?? 0

/**
 * Migration 13, per engine: how many entries the index holds, kept beside it so that `/metrics` and the
 * sync's snapshot header read one row instead of counting the entries (seconds' worth of a scrape at a
 * million leaks).
 *
 * `index_size` has one row. Triggers on `index_entries` keep it in the transaction of the write itself,
 * whichever code writes (the index log's refresh, an import, an operator's SQL). An update of an entry
 * (its action, its leak, the hash-key rewrite of its hash) leaves the count as it is.
 */

/** SQLite's text of migration 13: a trigger a row. */
export const INDEX_SIZE_SQLITE = `
  CREATE TABLE index_size (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    entries INTEGER NOT NULL
  ) STRICT;
  INSERT INTO index_size (one, entries) SELECT 1, count(*) FROM index_entries;
  CREATE TRIGGER index_size_insert AFTER INSERT ON index_entries BEGIN
    UPDATE index_size SET entries = entries + 1;
  END;
  CREATE TRIGGER index_size_delete AFTER DELETE ON index_entries BEGIN
    UPDATE index_size SET entries = entries - 1;
  END;
`

/**
 * PostgreSQL's text of migration 13: a trigger a statement, counting its transition table, so a bulk
 * insert (an import) updates the row once. For INSERT … ON CONFLICT DO UPDATE the insert's transition
 * table holds only the rows it inserted.
 */
export const INDEX_SIZE_POSTGRES = `
  CREATE TABLE index_size (
    one integer PRIMARY KEY CHECK (one = 1),
    entries bigint NOT NULL
  );
  INSERT INTO index_size (one, entries) SELECT 1, count(*) FROM index_entries;
  CREATE FUNCTION index_size_added() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    UPDATE index_size SET entries = entries + (SELECT count(*) FROM added);
    RETURN NULL;
  END
  $$;
  CREATE FUNCTION index_size_removed() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    UPDATE index_size SET entries = entries - (SELECT count(*) FROM removed);
    RETURN NULL;
  END
  $$;
  CREATE TRIGGER index_size_insert AFTER INSERT ON index_entries
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION index_size_added();
  CREATE TRIGGER index_size_delete AFTER DELETE ON index_entries
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION index_size_removed();
`

/**
 * Migration 12, per engine: what keeps the leak list, the stats and the metrics fast on a store of a
 * million leaks.
 *
 * `leak_counts`: how many leaks have each combination of status, risk, action, source, kind and rotation
 * ('' for a null kind or rotation). Triggers on `leaks` keep it in the transaction of the write itself,
 * whichever code writes, so the stats, the metrics and the list's total read a few hundred rows instead
 * of counting the leaks. A row whose count falls to 0 is removed, so the table holds only what exists.
 *
 * Indexes: one a sort of the list, `(sort, id)` as the list orders, and the same after `status`, the
 * filter the console always sends; `source` and `kind` for the rare values of those filters. The risk
 * filter uses `risk_rank` (the same level), so the risk sort's index serves it.
 *
 * The search (`q`, a substring of `search_text`): trigrams, so a text few leaks hold is found without
 * reading every leak. SQLite: `leaks_fts`, an FTS5 trigram index over `search_text` (rowids only,
 * `detail=none`: the list checks the substring itself on the few leaks it finds), kept by triggers.
 * PostgreSQL: a GIN index of pg_trgm's trigrams, which its planner uses for LIKE '%…%' by itself.
 */

const COUNT_KEY = 'status, risk, action, source, kind, rotation'

// The triggers' statements, written once for both engines: `row` is the trigger's old or new row
// (`old`/`new` in SQLite, `OLD`/`NEW` in PostgreSQL's function), `pad` the indentation they stand at.
// A null kind or rotation is counted as ''. They build the same text, space for space, as when each
// trigger was written out: migration 12 stays the text that existing stores ran.

/** The count key of `row`'s leak, as values. */
const keyOf = (row: string): string => `${row}.status, ${row}.risk, ${row}.action, ${row}.source, coalesce(${row}.kind, ''), coalesce(${row}.rotation, '')`

/** Takes `row`'s leak off its count, and removes a count that fell to 0. */
function uncount(row: string, pad: string): string {
  const where = `WHERE status = ${row}.status AND risk = ${row}.risk AND action = ${row}.action AND source = ${row}.source
${pad}    AND kind = coalesce(${row}.kind, '') AND rotation = coalesce(${row}.rotation, '')`
  return `${pad}UPDATE leak_counts SET n = n - 1
${pad}  ${where};
${pad}DELETE FROM leak_counts
${pad}  ${where} AND n <= 0;`
}

/** Adds `row`'s leak to its count; `upsert` is how the engine adds to a count that exists. */
function count(row: string, pad: string, upsert: string): string {
  return `${pad}INSERT INTO leak_counts (${COUNT_KEY}, n)
${pad}  VALUES (${keyOf(row)}, 1)
${pad}  ${upsert};`
}

/** The condition that an update changed the count key, in the engine's null-safe "differs" (`IS NOT`, `IS DISTINCT FROM`). */
function keyChanged(old: string, neu: string, differs: string, pad: string): string {
  const differ = (columns: readonly string[]): string => columns.map((c) => `${old}.${c} ${differs} ${neu}.${c}`).join(' OR ')
  return `${differ(['status', 'risk', 'action'])}
${pad}OR ${differ(['source', 'kind', 'rotation'])}`
}

/** Counts the leaks already there, when the table is made. */
const FILL_COUNTS = `INSERT INTO leak_counts (${COUNT_KEY}, n)
    SELECT status, risk, action, source, coalesce(kind, ''), coalesce(rotation, ''), count(*) FROM leaks
    GROUP BY status, risk, action, source, coalesce(kind, ''), coalesce(rotation, '');`

const SQLITE_UPSERT = 'ON CONFLICT DO UPDATE SET n = n + 1'
const POSTGRES_UPSERT = `ON CONFLICT (${COUNT_KEY}) DO UPDATE SET n = leak_counts.n + 1`

/** Each sort of the list: the index's name suffix and the expression it orders by (leak-list.ts's SORT_SQL). */
const SORT_INDEXES: ReadonlyArray<readonly [string, string]> = [
  ['created', 'created_at'],
  ['updated', 'updated_at'],
  ['risk', 'risk_rank'],
  ['hits', 'hits'],
  ['last_seen', "(coalesce(last_seen_at, ''))"],
  ['title', 'title'],
]

/**
 * The filters a page checks beside `status` (leak-list.ts's FILTER_SQL), kept at the end of PostgreSQL's
 * `(status, sort, id)` indexes by migration 16: a page walking one checks them on its entries (index
 * conditions) and reads only the rows it returns. Without them a rare source among the open leaks
 * sorted by hits read 5 000 rows for a page (100 ms at a million leaks), with them 66 index pages (2 ms).
 */
const FILTER_COLUMNS = ['risk_rank', 'source', 'action', 'kind', 'rotation']

/** PostgreSQL's text of migration 16: the `(status, sort, id)` indexes made again with the filter columns. */
export const STATUS_SORT_FILTERS_POSTGRES = SORT_INDEXES.map(([name, expr]) => {
  const columns = ['status', expr, 'id', ...FILTER_COLUMNS.filter((c) => c !== expr)].join(', ')
  return `DROP INDEX leaks_status_${name};\n  CREATE INDEX leaks_status_${name} ON leaks (${columns});`
}).join('\n  ')

const INDEXES = [
  // leaks_created (created_at, id) exists since the first migration.
  ...SORT_INDEXES.filter(([name]) => name !== 'created').map(([name, expr]) => `CREATE INDEX leaks_${name} ON leaks (${expr}, id);`),
  ...SORT_INDEXES.map(([name, expr]) => `CREATE INDEX leaks_status_${name} ON leaks (status, ${expr}, id);`),
  // leaks_status_created starts with status: the status-only index is a prefix of it.
  'DROP INDEX leaks_status;',
  'CREATE INDEX leaks_source ON leaks (source);',
  'CREATE INDEX leaks_kind ON leaks (kind);',
].join('\n')

/** SQLite's text of migration 12. */
export const LEAK_LIST_SQLITE = `
  CREATE TABLE leak_counts (
    status TEXT NOT NULL,
    risk TEXT NOT NULL,
    action TEXT NOT NULL,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    rotation TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (${COUNT_KEY})
  ) STRICT, WITHOUT ROWID;
  ${FILL_COUNTS}

  CREATE TRIGGER leak_counts_insert AFTER INSERT ON leaks BEGIN
${count('new', '    ', SQLITE_UPSERT)}
  END;
  CREATE TRIGGER leak_counts_delete AFTER DELETE ON leaks BEGIN
${uncount('old', '    ')}
  END;
  CREATE TRIGGER leak_counts_update AFTER UPDATE OF ${COUNT_KEY} ON leaks
  WHEN ${keyChanged('old', 'new', 'IS NOT', '    ')}
  BEGIN
${uncount('old', '    ')}
${count('new', '    ', SQLITE_UPSERT)}
  END;

  ${INDEXES}

  CREATE VIRTUAL TABLE leaks_fts USING fts5(search_text, content='leaks', content_rowid='id', tokenize='trigram', detail='none');
  INSERT INTO leaks_fts (leaks_fts) VALUES ('rebuild');
  CREATE TRIGGER leaks_fts_insert AFTER INSERT ON leaks BEGIN
    INSERT INTO leaks_fts (rowid, search_text) VALUES (new.id, new.search_text);
  END;
  CREATE TRIGGER leaks_fts_delete AFTER DELETE ON leaks BEGIN
    INSERT INTO leaks_fts (leaks_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
  END;
  CREATE TRIGGER leaks_fts_update AFTER UPDATE OF search_text ON leaks BEGIN
    INSERT INTO leaks_fts (leaks_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
    INSERT INTO leaks_fts (rowid, search_text) VALUES (new.id, new.search_text);
  END;
`

/** PostgreSQL's text of migration 12. */
export const LEAK_LIST_POSTGRES = `
  CREATE TABLE leak_counts (
    status text COLLATE "C" NOT NULL,
    risk text COLLATE "C" NOT NULL,
    action text COLLATE "C" NOT NULL,
    source text COLLATE "C" NOT NULL,
    kind text COLLATE "C" NOT NULL,
    rotation text COLLATE "C" NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (${COUNT_KEY})
  );
  ${FILL_COUNTS}

  CREATE FUNCTION leak_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_OP <> 'INSERT' THEN
${uncount('OLD', '      ')}
    END IF;
    IF TG_OP <> 'DELETE' THEN
${count('NEW', '      ', POSTGRES_UPSERT)}
    END IF;
    RETURN NULL;
  END
  $$;
  CREATE TRIGGER leak_counts_insert_delete AFTER INSERT OR DELETE ON leaks
    FOR EACH ROW EXECUTE FUNCTION leak_counts_track();
  CREATE TRIGGER leak_counts_update AFTER UPDATE OF ${COUNT_KEY} ON leaks
    FOR EACH ROW
    WHEN (${keyChanged('OLD', 'NEW', 'IS DISTINCT FROM', '      ')})
    EXECUTE FUNCTION leak_counts_track();

  ${INDEXES}

  CREATE EXTENSION IF NOT EXISTS pg_trgm;
  CREATE INDEX leaks_search ON leaks USING gin (search_text gin_trgm_ops);
`

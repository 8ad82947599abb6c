"""The store's schema: each migration moves it one version forward."""

from __future__ import annotations

DB_NAME = "evalkit.sqlite"

# Append only: each entry moves the schema from version i to i + 1.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE sources (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('interview', 'observation', 'document')),
        text TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        words INTEGER NOT NULL,
        attributes TEXT NOT NULL DEFAULT '{}',
        units TEXT,
        ingested_at TEXT NOT NULL,
        ingested_by TEXT NOT NULL
    );
    CREATE INDEX sources_hash ON sources (content_hash);
    CREATE TABLE excerpts (
        id TEXT PRIMARY KEY,
        source_id TEXT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
        ordinal INTEGER NOT NULL,
        start INTEGER NOT NULL,
        "end" INTEGER NOT NULL,
        speaker TEXT,
        speaker_role TEXT,
        section TEXT,
        t_start REAL,
        t_end REAL,
        CHECK (0 <= start AND start < "end")
    );
    CREATE INDEX excerpts_source ON excerpts (source_id, ordinal);
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        command TEXT NOT NULL,
        action TEXT NOT NULL,
        entity TEXT NOT NULL,
        entity_id TEXT,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    """,
    # 2: codebook versions, and the codes of the project (kept when retired, so that
    # codings made under an older version still point at something).
    """
    CREATE TABLE codebooks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        title TEXT NOT NULL,
        version TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        yaml TEXT NOT NULL,
        origin TEXT,
        loaded_at TEXT NOT NULL,
        loaded_by TEXT NOT NULL
    );
    CREATE TABLE codes (
        name TEXT PRIMARY KEY,
        parent TEXT,
        guid TEXT,
        codebook_id INTEGER NOT NULL REFERENCES codebooks (id),
        retired INTEGER NOT NULL DEFAULT 0
    );
    """,
    # 3: codings. A row with code NULL records that the coder coded the excerpt and
    # applied nothing. Excerpts with codings cannot be deleted (RESTRICT): nothing is lost.
    """
    CREATE TABLE codings (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        excerpt_id TEXT NOT NULL REFERENCES excerpts (id) ON DELETE RESTRICT,
        coder TEXT NOT NULL,
        code TEXT REFERENCES codes (name),
        codebook_id INTEGER REFERENCES codebooks (id),
        origin TEXT NOT NULL,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL
    );
    CREATE UNIQUE INDEX codings_unique ON codings (excerpt_id, coder, IFNULL(code, ''));
    CREATE INDEX codings_coder ON codings (coder);
    """,
    # 4: machine suggestions and their review. A suggestion stays a suggestion until a
    # person accepts (it then also becomes a coding by that person) or rejects it.
    """
    CREATE TABLE suggestions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        excerpt_id TEXT NOT NULL REFERENCES excerpts (id) ON DELETE RESTRICT,
        code TEXT NOT NULL REFERENCES codes (name),
        origin TEXT NOT NULL,
        confidence REAL NOT NULL,
        rationale TEXT NOT NULL,
        codebook_id INTEGER REFERENCES codebooks (id),
        model_version TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'suggested'
            CHECK (status IN ('suggested', 'accepted', 'rejected')),
        reviewer TEXT,
        reviewed_at TEXT,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL
    );
    CREATE INDEX suggestions_status ON suggestions (status, confidence);
    """,
    # 5: the project's own ID (CAB packets carry it, so a packet from another project is
    # refused), the packets handed to reviewers, and the reviewers' decisions. A decision
    # is never updated: a changed mind is a new row, and the latest row counts.
    """
    CREATE TABLE project (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO project (key, value) VALUES ('id', lower(hex(randomblob(16))));
    CREATE TABLE packets (
        id TEXT PRIMARY KEY,
        reviewer TEXT NOT NULL,
        selection TEXT NOT NULL,
        items TEXT NOT NULL,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL
    );
    CREATE TABLE reviews (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        packet_id TEXT NOT NULL REFERENCES packets (id),
        ref INTEGER NOT NULL,
        excerpt_id TEXT NOT NULL REFERENCES excerpts (id) ON DELETE RESTRICT,
        code TEXT NOT NULL REFERENCES codes (name),
        reviewer TEXT NOT NULL,
        decision TEXT CHECK (decision IN ('agree', 'disagree', 'unsure')),
        comment TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL
    );
    CREATE UNIQUE INDEX reviews_unique
        ON reviews (packet_id, ref, reviewer, IFNULL(decision, ''), comment);
    CREATE INDEX reviews_excerpt ON reviews (excerpt_id, code);
    """,
    # 6: operations (one per command, grouping its audit entries) and the row changes each
    # made, so the last operation can be undone exactly. Changes are recorded by TEMP
    # triggers each connection creates (see history.py).
    """
    CREATE TABLE operations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        command TEXT NOT NULL,
        actor TEXT NOT NULL,
        started_at TEXT NOT NULL,
        summary TEXT NOT NULL DEFAULT '',
        undone_by INTEGER REFERENCES operations (id),
        undoes INTEGER REFERENCES operations (id)
    );
    CREATE TABLE changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        operation INTEGER NOT NULL REFERENCES operations (id),
        tbl TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('insert', 'update', 'delete')),
        row INTEGER NOT NULL,
        old TEXT
    );
    CREATE INDEX changes_operation ON changes (operation, seq);
    ALTER TABLE audit ADD COLUMN operation INTEGER REFERENCES operations (id);
    """,
    # 7: analytic memos, and a full-text index of excerpt text kept in step by triggers
    # (so ingest, de-identification and undo all keep it right without thinking of it).
    """
    CREATE TABLE memos (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        target_kind TEXT NOT NULL
            CHECK (target_kind IN ('project', 'code', 'source', 'excerpt')),
        target TEXT,
        title TEXT NOT NULL,
        body TEXT NOT NULL DEFAULT '',
        author TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX memos_target ON memos (target_kind, target);
    CREATE VIRTUAL TABLE excerpts_fts USING fts5 (
        body, tokenize = 'unicode61 remove_diacritics 2'
    );
    INSERT INTO excerpts_fts (rowid, body)
        SELECT e.rowid, substr(s.text, e.start + 1, e."end" - e.start)
        FROM excerpts e JOIN sources s ON s.id = e.source_id;
    CREATE TRIGGER excerpts_fts_insert AFTER INSERT ON excerpts BEGIN
        INSERT INTO excerpts_fts (rowid, body)
        SELECT NEW.rowid, substr(text, NEW.start + 1, NEW."end" - NEW.start)
        FROM sources WHERE id = NEW.source_id;
    END;
    CREATE TRIGGER excerpts_fts_delete AFTER DELETE ON excerpts BEGIN
        DELETE FROM excerpts_fts WHERE rowid = OLD.rowid;
    END;
    CREATE TRIGGER excerpts_fts_update AFTER UPDATE ON excerpts BEGIN
        DELETE FROM excerpts_fts WHERE rowid = OLD.rowid;
        INSERT INTO excerpts_fts (rowid, body)
        SELECT NEW.rowid, substr(text, NEW.start + 1, NEW."end" - NEW.start)
        FROM sources WHERE id = NEW.source_id;
    END;
    CREATE TRIGGER excerpts_fts_source AFTER UPDATE OF text ON sources BEGIN
        DELETE FROM excerpts_fts
            WHERE rowid IN (SELECT rowid FROM excerpts WHERE source_id = NEW.id);
        INSERT INTO excerpts_fts (rowid, body)
        SELECT e.rowid, substr(NEW.text, e.start + 1, e."end" - e.start)
        FROM excerpts e WHERE e.source_id = NEW.id;
    END;
    """,
    # 8: a cache of what is computed from an excerpt's text alone (sentence embeddings,
    # rule hits), keyed by the text's sha256, what was computed and with which version
    # (model id, rules fingerprint). Derived data, not a decision: not in the undo
    # history, and pruned to the texts of current excerpts when sources change.
    """
    CREATE TABLE text_cache (
        text_hash TEXT NOT NULL,
        kind TEXT NOT NULL,
        version TEXT NOT NULL,
        value BLOB NOT NULL,
        PRIMARY KEY (kind, version, text_hash)
    ) WITHOUT ROWID;
    """,
    # 9: rapid-appraisal (RQA) matrix cells, one per source and domain: the machine's
    # draft summary with the excerpt spans it came from, and a person's edited summary
    # with who and when (a person's edit is a decision: tracked, audited, undoable).
    # Memos gain a kind, so the team can mark the ones that are recommendations.
    """
    CREATE TABLE rqa_cells (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        source_id TEXT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
        domain TEXT NOT NULL,
        draft TEXT NOT NULL DEFAULT '',
        evidence TEXT NOT NULL DEFAULT '[]',
        drafted_at TEXT,
        drafted_by TEXT,
        summary TEXT,
        edited_at TEXT,
        edited_by TEXT
    );
    CREATE UNIQUE INDEX rqa_cells_unique ON rqa_cells (source_id, domain);
    ALTER TABLE memos ADD COLUMN kind TEXT NOT NULL DEFAULT 'note'
        CHECK (kind IN ('note', 'recommendation'));
    """,
]

# Tables whose rows undo can restore: everything but the audit log and the history itself.
TRACKED_TABLES: tuple[str, ...] = (
    "project",
    "sources",
    "excerpts",
    "codebooks",
    "codes",
    "codings",
    "suggestions",
    "packets",
    "reviews",
    "memos",
    "rqa_cells",
)
SCHEMA_VERSION = len(MIGRATIONS)

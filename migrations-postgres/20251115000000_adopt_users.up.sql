-- Adopts a `users` table that existed before the first auth-tokens migration (seed 002's
-- phone users, seed 004's `users (id, username, created_at)`), so migration 1's
-- `CREATE TABLE IF NOT EXISTS users` finds every column and index it expects.
--
-- Numbered before migration 1 so that it runs first on a database that has none of the
-- auth-tokens migrations. A deployment of the first release (migrations 1..4 applied, no
-- adoption) gets it applied afterwards and it does nothing there: migration 1 created
-- that `users` table itself. The released migrations keep their checksums.
--
-- Rules (ARCHITECTURE.md, "Existing deployments"):
--   * only missing columns and indexes are added; every existing column, row and
--     constraint is kept; each addition is recorded in auth_schema_adoptions so that
--     down removes exactly that;
--   * a NOT NULL column without a default that sign-up does not write (seed 002's
--     phone_number against email sign-up, seed 004's username) loses NOT NULL, recorded,
--     and down restores it, refusing while rows hold NULL there;
--   * a nullable is_active/is_admin is kept as it is and read fail-closed: NULL is
--     inactive and not admin;
--   * a column the library needs but of an incompatible type stops the upgrade with a
--     message naming it, before anything is changed.
CREATE TABLE IF NOT EXISTS auth_schema_adoptions (
    table_name  TEXT NOT NULL,
    object_kind TEXT NOT NULL CHECK (object_kind IN ('table', 'column', 'index', 'not_null_dropped')),
    object_name TEXT NOT NULL,
    adopted_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (table_name, object_kind, object_name)
);

DO $adopt$
DECLARE
    wanted  CONSTANT TEXT[][] := ARRAY[
        -- column, definition added when missing, accepted existing types
        ['email',              'VARCHAR(254)',                        'character varying,text'],
        ['phone_number',       'VARCHAR(20)',                         'character varying,text'],
        ['password_hash',      'TEXT',                                'character varying,text'],
        ['is_admin',           'BOOLEAN NOT NULL DEFAULT FALSE',      'boolean'],
        ['is_active',          'BOOLEAN NOT NULL DEFAULT TRUE',       'boolean'],
        ['is_verified',        'BOOLEAN NOT NULL DEFAULT FALSE',      'boolean'],
        ['last_login',         'TIMESTAMPTZ',                         'timestamp with time zone,timestamp without time zone'],
        ['tokens_valid_after', 'TIMESTAMPTZ',                         'timestamp with time zone'],
        ['created_at',         'TIMESTAMPTZ NOT NULL DEFAULT now()',  'timestamp with time zone,timestamp without time zone'],
        ['updated_at',         'TIMESTAMPTZ NOT NULL DEFAULT now()',  'timestamp with time zone,timestamp without time zone']
    ];
    -- Columns every sign-up writes; any other NOT NULL column without a default blocks it.
    written CONSTANT TEXT[] := ARRAY['id', 'email', 'password_hash', 'created_at', 'updated_at'];
    i       INTEGER;
    col     RECORD;
    existing_type TEXT;
BEGIN
    IF to_regclass('public.users') IS NULL
       OR EXISTS (SELECT 1 FROM auth_schema_adoptions WHERE table_name = 'users' AND object_kind = 'table')
       OR (to_regclass('public._sqlx_migrations') IS NOT NULL
           AND EXISTS (SELECT 1 FROM _sqlx_migrations WHERE version = 20251116000001)) THEN
        RETURN; -- nothing to adopt: a fresh database, or a users table of ours
    END IF;

    SELECT data_type INTO existing_type FROM information_schema.columns
     WHERE table_schema = 'public' AND table_name = 'users' AND column_name = 'id';
    IF existing_type IS NULL OR existing_type NOT IN ('integer', 'bigint', 'smallint') THEN
        RAISE EXCEPTION 'cannot adopt table users: its id column is %, an integer id is required',
            coalesce(existing_type, 'missing');
    END IF;
    FOR i IN 1 .. array_length(wanted, 1) LOOP
        SELECT data_type INTO existing_type FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name = 'users' AND column_name = wanted[i][1];
        IF existing_type IS NOT NULL
           AND NOT existing_type = ANY (string_to_array(wanted[i][3], ',')) THEN
            RAISE EXCEPTION 'cannot adopt table users: column % is %, the library needs %',
                wanted[i][1], existing_type, wanted[i][3];
        END IF;
    END LOOP;

    INSERT INTO auth_schema_adoptions (table_name, object_kind, object_name)
    VALUES ('users', 'table', 'users');

    FOR col IN
        SELECT column_name::text AS name FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name = 'users'
           AND is_nullable = 'NO' AND column_default IS NULL
           AND NOT column_name::text = ANY (written)
         ORDER BY ordinal_position
    LOOP
        EXECUTE format('ALTER TABLE users ALTER COLUMN %I DROP NOT NULL', col.name);
        INSERT INTO auth_schema_adoptions (table_name, object_kind, object_name)
        VALUES ('users', 'not_null_dropped', col.name);
    END LOOP;

    FOR i IN 1 .. array_length(wanted, 1) LOOP
        IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                        WHERE table_schema = 'public' AND table_name = 'users'
                          AND column_name = wanted[i][1]) THEN
            EXECUTE format('ALTER TABLE users ADD COLUMN %I %s', wanted[i][1], wanted[i][2]);
            INSERT INTO auth_schema_adoptions (table_name, object_kind, object_name)
            VALUES ('users', 'column', wanted[i][1]);
        END IF;
    END LOOP;

    IF to_regclass('public.users_email_key') IS NULL THEN
        CREATE UNIQUE INDEX users_email_key ON users (email);
        INSERT INTO auth_schema_adoptions (table_name, object_kind, object_name)
        VALUES ('users', 'index', 'users_email_key');
    END IF;
    IF to_regclass('public.users_phone_number_key') IS NULL THEN
        CREATE UNIQUE INDEX users_phone_number_key ON users (phone_number);
        INSERT INTO auth_schema_adoptions (table_name, object_kind, object_name)
        VALUES ('users', 'index', 'users_phone_number_key');
    END IF;
END
$adopt$;

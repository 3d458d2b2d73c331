-- Reverts the adoption of a pre-existing users table: removes exactly the columns and
-- indexes up added and restores the NOT NULL constraints it dropped. It refuses (and
-- changes nothing) while a restored NOT NULL column holds NULLs, e.g. users who signed
-- up by email on seed 002's table have no phone_number: give them one or delete them.
DO $revert$
DECLARE
    r RECORD;
    n BIGINT;
BEGIN
    IF to_regclass('public.auth_schema_adoptions') IS NULL THEN
        RETURN;
    END IF;
    FOR r IN SELECT table_name, object_name FROM auth_schema_adoptions
              WHERE object_kind = 'not_null_dropped' ORDER BY object_name LOOP
        EXECUTE format('SELECT count(*) FROM %I WHERE %I IS NULL', r.table_name, r.object_name)
           INTO n;
        IF n > 0 THEN
            RAISE EXCEPTION 'refusing to revert the adoption of table %: % row(s) have no %, which was NOT NULL before the upgrade (users created since, e.g. by email sign-up); set it or delete those rows, then run down again',
                r.table_name, n, r.object_name;
        END IF;
        EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET NOT NULL', r.table_name, r.object_name);
    END LOOP;
    FOR r IN SELECT object_name FROM auth_schema_adoptions WHERE object_kind = 'index' LOOP
        EXECUTE format('DROP INDEX IF EXISTS %I', r.object_name);
    END LOOP;
    FOR r IN SELECT table_name, object_name FROM auth_schema_adoptions WHERE object_kind = 'column' LOOP
        EXECUTE format('ALTER TABLE %I DROP COLUMN IF EXISTS %I', r.table_name, r.object_name);
    END LOOP;
END
$revert$;
DROP TABLE IF EXISTS auth_schema_adoptions;

-- A users table that existed before the upgrade stays: the adoption migration's down
-- removes what was added to it. Otherwise migration 1 created it and drops it.
DO $down$
BEGIN
    IF to_regclass('public.auth_schema_adoptions') IS NOT NULL
       AND EXISTS (SELECT 1 FROM auth_schema_adoptions
                    WHERE table_name = 'users' AND object_kind = 'table') THEN
        RETURN;
    END IF;
    DROP TABLE IF EXISTS users;
END
$down$;

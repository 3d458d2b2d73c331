-- Adopts a Django `auth_user` (Django 5's default user table) that existed before the
-- library's migrations, in this database or another one on the same server (seed 000's
-- `hybrid.auth_user`), so that seed 000's `auth_user_tokens` keeps joining to it and the
-- legacy-token upgrade runs beside it.
--
-- Which table to adopt is a setting (authd `users_table`, the store's `DjangoUsers`),
-- passed by the migration runner in the session variables @auth_tokens_users_schema
-- (NULL: this database) and @auth_tokens_users_table (NULL: no adoption, the library
-- creates its own `auth_user`).
--
-- Numbered before 20260301000001_create_auth_user so that it runs first on a database
-- without the library's migrations; on a deployment whose `auth_user` the library
-- created, it is applied afterwards and does nothing.
--
-- Rules (ARCHITECTURE.md, "Existing deployments"):
--   * no Django column, constraint or row is changed: the store writes Django's NOT NULL
--     columns itself when it creates a user (username, first_name, last_name, password);
--   * only what the store needs and Django lacks is added, each addition recorded in
--     auth_schema_adoptions: the columns tokens_valid_after and phone_number (with its
--     UNIQUE key), and an index on email when the table has none;
--   * a table that is not Django-shaped stops the upgrade with a message naming the
--     columns, before anything is changed;
--   * without the setting, an `auth_user` the library did not create stops the upgrade
--     with a message saying which setting adopts it.
CREATE TABLE IF NOT EXISTS auth_schema_adoptions (
  table_schema VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  table_name VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  object_kind VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  object_name VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  adopted_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (table_schema, table_name, object_kind, object_name),
  CONSTRAINT auth_schema_adoptions_kind_check CHECK (object_kind IN ('table', 'column', 'index'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

DROP PROCEDURE IF EXISTS auth_tokens_adopt_users;
CREATE PROCEDURE auth_tokens_adopt_users()
adopt: BEGIN
  DECLARE target_schema VARCHAR(64) CHARACTER SET utf8mb4 DEFAULT COALESCE(@auth_tokens_users_schema, DATABASE());
  DECLARE target_table VARCHAR(64) CHARACTER SET utf8mb4 DEFAULT @auth_tokens_users_table;
  DECLARE target VARCHAR(200) CHARACTER SET utf8mb4;
  DECLARE wrong VARCHAR(512) CHARACTER SET utf8mb4;
  DECLARE message VARCHAR(512) CHARACTER SET utf8mb4;

  IF target_table IS NULL THEN
    IF EXISTS (SELECT 1 FROM information_schema.tables
                WHERE table_schema = DATABASE() AND table_name = 'auth_user')
       AND NOT EXISTS (SELECT 1 FROM __diesel_schema_migrations WHERE version = '20260301000001') THEN
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT =
        'cannot create table auth_user: this database already has one; if it is a Django auth_user, adopt it with the users_table setting (authd --users-table auth_user)';
    END IF;
    LEAVE adopt;
  END IF;
  IF EXISTS (SELECT 1 FROM auth_schema_adoptions WHERE object_kind = 'table') THEN
    LEAVE adopt;
  END IF;

  SET target = CONCAT('`', REPLACE(target_schema, '`', '``'), '`.`', REPLACE(target_table, '`', '``'), '`');
  IF NOT EXISTS (SELECT 1 FROM information_schema.tables
                  WHERE table_schema = target_schema AND table_name = target_table
                    AND table_type = 'BASE TABLE') THEN
    SET message = CONCAT('cannot adopt table ', target, ': it does not exist');
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = message;
  END IF;
  -- The columns the store reads or writes, and the types it accepts for each.
  SELECT GROUP_CONCAT(CONCAT(w.name, ' (', COALESCE(c.data_type, 'missing'), ', needs ', w.types, ')')
                      ORDER BY w.pos SEPARATOR '; ')
    INTO wrong
    FROM (SELECT 1 AS pos, 'id' AS name, 'int,bigint,mediumint' AS types
          UNION ALL SELECT 2, 'password', 'varchar,char'
          UNION ALL SELECT 3, 'last_login', 'datetime'
          UNION ALL SELECT 4, 'is_superuser', 'tinyint'
          UNION ALL SELECT 5, 'username', 'varchar'
          UNION ALL SELECT 6, 'first_name', 'varchar'
          UNION ALL SELECT 7, 'last_name', 'varchar'
          UNION ALL SELECT 8, 'email', 'varchar'
          UNION ALL SELECT 9, 'is_staff', 'tinyint'
          UNION ALL SELECT 10, 'is_active', 'tinyint'
          UNION ALL SELECT 11, 'date_joined', 'datetime'
          UNION ALL SELECT 12, 'tokens_valid_after', 'datetime,none'
          UNION ALL SELECT 13, 'phone_number', 'varchar,none') AS w
    LEFT JOIN information_schema.columns AS c
      ON c.table_schema = target_schema AND c.table_name = target_table AND c.column_name = w.name
   WHERE FIND_IN_SET(COALESCE(c.data_type, 'none'), w.types) = 0;
  IF wrong IS NOT NULL THEN
    SET message = LEFT(CONCAT('cannot adopt table ', target, ' as a Django auth_user: ', wrong), 512);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = message;
  END IF;

  INSERT INTO auth_schema_adoptions (table_schema, table_name, object_kind, object_name)
  VALUES (target_schema, target_table, 'table', target_table);
  IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                  WHERE table_schema = target_schema AND table_name = target_table
                    AND column_name = 'tokens_valid_after') THEN
    SET @auth_tokens_ddl = CONCAT('ALTER TABLE ', target, ' ADD COLUMN tokens_valid_after DATETIME(6) NULL ',
      'COMMENT ''auth-tokens: access tokens issued before this instant are invalid''');
    PREPARE auth_tokens_stmt FROM @auth_tokens_ddl;
    EXECUTE auth_tokens_stmt;
    DEALLOCATE PREPARE auth_tokens_stmt;
    INSERT INTO auth_schema_adoptions (table_schema, table_name, object_kind, object_name)
    VALUES (target_schema, target_table, 'column', 'tokens_valid_after');
  END IF;
  IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                  WHERE table_schema = target_schema AND table_name = target_table
                    AND column_name = 'phone_number') THEN
    SET @auth_tokens_ddl = CONCAT('ALTER TABLE ', target, ' ADD COLUMN phone_number VARCHAR(16) ',
      'CHARACTER SET ascii COLLATE ascii_bin NULL COMMENT ''auth-tokens: E.164'', ',
      'ADD UNIQUE KEY auth_tokens_phone_number_key (phone_number)');
    PREPARE auth_tokens_stmt FROM @auth_tokens_ddl;
    EXECUTE auth_tokens_stmt;
    DEALLOCATE PREPARE auth_tokens_stmt;
    INSERT INTO auth_schema_adoptions (table_schema, table_name, object_kind, object_name)
    VALUES (target_schema, target_table, 'column', 'phone_number'),
           (target_schema, target_table, 'index', 'auth_tokens_phone_number_key');
  END IF;
  -- Password login looks users up by email; Django does not index it (and does not keep
  -- it unique: see the store's rule for an email two users share).
  IF NOT EXISTS (SELECT 1 FROM information_schema.statistics
                  WHERE table_schema = target_schema AND table_name = target_table
                    AND column_name = 'email' AND seq_in_index = 1) THEN
    SET @auth_tokens_ddl = CONCAT('ALTER TABLE ', target, ' ADD INDEX auth_tokens_email (email)');
    PREPARE auth_tokens_stmt FROM @auth_tokens_ddl;
    EXECUTE auth_tokens_stmt;
    DEALLOCATE PREPARE auth_tokens_stmt;
    INSERT INTO auth_schema_adoptions (table_schema, table_name, object_kind, object_name)
    VALUES (target_schema, target_table, 'index', 'auth_tokens_email');
  END IF;
END;

CALL auth_tokens_adopt_users();
DROP PROCEDURE auth_tokens_adopt_users;

-- Reverts the adoption of a Django auth_user: drops exactly the columns and indexes up
-- added (and what they hold), so the table's definition is again what it was before the
-- upgrade and its original rows are byte for byte the same; users created since stay,
-- as valid Django rows. It refuses, changing nothing, when it cannot restore the
-- definition: the adopted table is gone, or an index that up did not add now covers a
-- column up added (dropping the column would change that index).
DROP PROCEDURE IF EXISTS auth_tokens_revert_adoption;
CREATE PROCEDURE auth_tokens_revert_adoption()
revert: BEGIN
  DECLARE target_schema VARCHAR(64) CHARACTER SET utf8mb4;
  DECLARE target_table VARCHAR(64) CHARACTER SET utf8mb4;
  DECLARE target VARCHAR(200) CHARACTER SET utf8mb4;
  DECLARE blocking VARCHAR(512) CHARACTER SET utf8mb4;
  DECLARE changes TEXT CHARACTER SET utf8mb4;
  DECLARE message VARCHAR(512) CHARACTER SET utf8mb4;

  IF NOT EXISTS (SELECT 1 FROM auth_schema_adoptions WHERE object_kind = 'table') THEN
    LEAVE revert;
  END IF;
  SELECT table_schema, table_name INTO target_schema, target_table
    FROM auth_schema_adoptions WHERE object_kind = 'table' LIMIT 1;
  SET target = CONCAT('`', REPLACE(target_schema, '`', '``'), '`.`', REPLACE(target_table, '`', '``'), '`');
  IF NOT EXISTS (SELECT 1 FROM information_schema.tables
                  WHERE table_schema = target_schema AND table_name = target_table) THEN
    SET message = CONCAT('refusing to revert the adoption of table ', target,
      ': the table no longer exists; restore it from the backup taken before the upgrade');
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = message;
  END IF;
  SELECT GROUP_CONCAT(DISTINCT s.index_name ORDER BY s.index_name SEPARATOR ', ') INTO blocking
    FROM information_schema.statistics AS s
    JOIN auth_schema_adoptions AS a
      ON a.object_kind = 'column' AND s.column_name = a.object_name
   WHERE s.table_schema = target_schema AND s.table_name = target_table
     AND s.index_name NOT IN (SELECT object_name FROM auth_schema_adoptions WHERE object_kind = 'index');
  IF blocking IS NOT NULL THEN
    SET message = LEFT(CONCAT('refusing to revert the adoption of table ', target, ': index(es) ', blocking,
      ' were added since the upgrade and cover a column the upgrade added; drop them, then run down again'), 512);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = message;
  END IF;

  SELECT GROUP_CONCAT(change_clause ORDER BY ord SEPARATOR ', ') INTO changes
    FROM (SELECT 1 AS ord, CONCAT('DROP INDEX `', REPLACE(a.object_name, '`', '``'), '`') AS change_clause
            FROM auth_schema_adoptions AS a
            JOIN (SELECT DISTINCT index_name FROM information_schema.statistics
                   WHERE table_schema = target_schema AND table_name = target_table) AS s
              ON s.index_name = a.object_name
           WHERE a.object_kind = 'index'
          UNION ALL
          SELECT 2, CONCAT('DROP COLUMN `', REPLACE(a.object_name, '`', '``'), '`')
            FROM auth_schema_adoptions AS a
            JOIN information_schema.columns AS c
              ON c.table_schema = target_schema AND c.table_name = target_table
             AND c.column_name = a.object_name
           WHERE a.object_kind = 'column') AS all_changes;
  IF changes IS NOT NULL THEN
    SET @auth_tokens_ddl = CONCAT('ALTER TABLE ', target, ' ', changes);
    PREPARE auth_tokens_stmt FROM @auth_tokens_ddl;
    EXECUTE auth_tokens_stmt;
    DEALLOCATE PREPARE auth_tokens_stmt;
  END IF;
END;

CALL auth_tokens_revert_adoption();
DROP PROCEDURE auth_tokens_revert_adoption;
DROP TABLE auth_schema_adoptions;

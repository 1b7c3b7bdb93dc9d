DROP FUNCTION shoplens.load_swap(text[]);
DROP FUNCTION shoplens.load_stage(text);
DROP TABLE shoplens.load_columns;
DROP TABLE shoplens.loads;
REVOKE ALL ON SCHEMA shoplens FROM shoplens_readonly;
DROP SCHEMA shoplens;
-- The role is cluster-wide: drop it only when no other database still grants it something.
DO $$
BEGIN
    DROP ROLE IF EXISTS shoplens_readonly;
EXCEPTION WHEN dependent_objects_still_exist THEN
    RAISE NOTICE 'shoplens_readonly kept: another database still uses it';
END
$$;

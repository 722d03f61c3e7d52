-- Loaded by lib/popvault.sh into each test archive's PostgreSQL database
-- (POPVAULT_TEST_CATALOG=pg), never into a user's: the few SQLite forms
-- the e2e suites use to look into a catalog (hex(), group_concat(), CAST
-- of a blob to text), so that one query checks both engines. popvault's
-- own SQL uses none of them (docs/ARCHITECTURE.md §12, dialect rules).
CREATE FUNCTION hex(b bytea) RETURNS text
	LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT upper(encode(b, 'hex')) $$;
CREATE FUNCTION hex(t text) RETURNS text
	LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT upper(encode(convert_to(t, 'UTF8'), 'hex')) $$;

CREATE FUNCTION pv_group_concat_step(acc text, v anyelement, sep text) RETURNS text
	LANGUAGE sql IMMUTABLE AS $$
		SELECT CASE WHEN v IS NULL THEN acc
			    WHEN acc IS NULL THEN v::text
			    ELSE acc || sep || v::text END $$;
CREATE FUNCTION pv_group_concat_step(acc text, v anyelement) RETURNS text
	LANGUAGE sql IMMUTABLE AS $$ SELECT pv_group_concat_step(acc, v, ',') $$;
CREATE AGGREGATE group_concat(anyelement, text) (SFUNC = pv_group_concat_step, STYPE = text);
CREATE AGGREGATE group_concat(anyelement) (SFUNC = pv_group_concat_step, STYPE = text);

-- SQLite reads a blob cast to text as its bytes; PostgreSQL would print
-- bytea's hex escape. The logs' leaves are UTF-8 text.
CREATE FUNCTION pv_bytea_text(b bytea) RETURNS text
	LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT convert_from(b, 'UTF8') $$;
CREATE CAST (bytea AS text) WITH FUNCTION pv_bytea_text(bytea);

-- instr(haystack, needle): the 1-based position of needle, 0 when absent.
CREATE FUNCTION instr(h bytea, n text) RETURNS integer
	LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT position(convert_to(n, 'UTF8') IN h) $$;
CREATE FUNCTION instr(h text, n text) RETURNS integer
	LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT position(n IN h) $$;

-- Throttle attempts judged and counted one at a time per counter. Conventions: see V1.
--
-- An attempt used to lock its counters' rows and judge them in the statement's snapshot,
-- but a counter that does not exist yet has no row to lock: fifty first attempts arriving
-- together all saw no counter, all passed, and all reached a password check. This function
-- takes a transaction-scoped advisory lock per counter first (in one order, so two attempts
-- cannot deadlock), and only then reads the counters, in a snapshot taken after the locks
-- are held (each statement of a VOLATILE function has its own): every attempt on a counter,
-- existing or not, sees every earlier attempt on it. As before, an attempt that a rule
-- refuses moves no counter at all.
--
-- Returns the seconds until the latest full counter's window ends, or NULL when the attempt
-- may proceed (and has been counted). It names its table unqualified and runs with the
-- search_path it was created with (the API's schema), whatever its caller's is.
CREATE FUNCTION count_attempt(rules text[], keys bytea[], limits integer[])
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
    lock_key bigint;
    retry_after bigint;
BEGIN
    FOR lock_key IN
        SELECT DISTINCT hashtextextended(a.rule || ':' || encode(a.key, 'hex'), 7266002)
          FROM unnest(rules, keys) AS a(rule, key)
         ORDER BY 1
    LOOP
        PERFORM pg_advisory_xact_lock(lock_key);
    END LOOP;

    SELECT max(greatest(1, ceil(extract(epoch FROM
               c.window_start + interval '15 minutes' - now()))))::bigint
      INTO retry_after
      FROM throttle_counters c
      JOIN unnest(rules, keys, limits) AS a(rule, key, max_attempts) USING (rule, key)
     WHERE c.window_start > now() - interval '15 minutes' AND c.attempts >= a.max_attempts;
    IF retry_after IS NOT NULL THEN
        RETURN retry_after;
    END IF;

    INSERT INTO throttle_counters AS c (rule, key, window_start, attempts)
    SELECT a.rule, a.key, now(), 1
      FROM unnest(rules, keys) AS a(rule, key)
     ORDER BY a.rule, a.key
    ON CONFLICT (rule, key) DO UPDATE SET
        window_start = CASE WHEN c.window_start <= now() - interval '15 minutes'
                            THEN now() ELSE c.window_start END,
        attempts = CASE WHEN c.window_start <= now() - interval '15 minutes'
                        THEN 1 ELSE c.attempts + 1 END;
    RETURN NULL;
END
$$;

-- EventFlow schema v3: two indexes fewer on the tables every delivery writes.
--
-- Each delivery inserts a row into `deliveries` and one into `attempts`, and
-- every index is one more B-tree insertion on that path (index maintenance
-- was the largest share of PostgreSQL's time while the dispatcher drained a
-- backlog).
--
-- deliveries_event: a delivery's id carries its event's millisecond (the
-- first 48 bits), so an event's deliveries are found by a short range scan of
-- the primary key (see `ids_of_the_same_millisecond` in the store crate).
DROP INDEX IF EXISTS deliveries_event;
-- attempts_endpoint: no query reads attempts by endpoint; the statistics
-- come from stats_minutely and stats_hourly.
DROP INDEX IF EXISTS attempts_endpoint;

-- 0108 left 30% of each inbox page free so that a row's two status updates ('published', then
-- its outcome) stay on its page as heap-only tuples. Counted on the running pipeline, only one
-- of the two did (0.97 HOT updates per webhook): a page holds three rows of a 1.4 KB webhook at
-- 70%, and the relay marks them together, so the second and third new versions no longer fit and
-- each went to another page with three new index entries. At 50%, a page holds two rows and
-- room for both of their next versions; the old versions are pruned before the outcomes arrive.
-- Measured: 2.00 HOT updates per webhook and 12% less WAL across the pipeline (docs/benchmarks.md),
-- for a table about 40% larger. (Applies to pages written from now on.)
ALTER TABLE webhook_inbox SET (fillfactor = 50);

-- Each inbox row is updated twice after its insert ('published', then its outcome). Leaving a
-- third of each page free lets those updates stay on the row's page as heap-only tuples: no new
-- entries in the row's three indexes and less WAL for every webhook. (Applies to pages written
-- from now on.)
ALTER TABLE webhook_inbox SET (fillfactor = 70);

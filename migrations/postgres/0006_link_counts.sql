-- Every link's click count, apart from its row (ADR 0033). Each click
-- flush adds to these counters; in `links` (a wide row under seven
-- indexes) the same additions rewrote a wide row per clicked link. A link
-- nobody has visited has no row here: readers take a missing row as 0.
create table link_counts (
    link_id bigint primary key,
    visits bigint not null
);
insert into link_counts (link_id, visits) select id, visits from links where visits > 0;

-- `links.visits` stays for the older nodes of a rolling upgrade, which
-- still read and add to it (README, "Upgrades"). What it held when the
-- counts moved is kept here, so that the release that drops the column
-- can first add to `link_counts` what those nodes counted meanwhile.
create table link_counts_moved (
    link_id bigint primary key,
    visits bigint not null
);
insert into link_counts_moved (link_id, visits) select link_id, visits from link_counts;

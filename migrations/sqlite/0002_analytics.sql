-- Click analytics. Visit limits count people only, apart from `visits`,
-- which counts every click (ADR 0017).
alter table links add column human_visits integer not null default 0;
update links set human_visits = visits where max_visits is not null;

-- Per link and hour (hours since the Unix epoch, UTC): kept for ever.
-- Flushes add to them (upserts), so nodes add up without reading.
create table click_hours (
    link_id integer not null,
    hour integer not null,
    total integer not null,
    humans integer not null,
    bots integer not null,
    primary key (link_id, hour)
) without rowid;

-- Breakdowns of the same hours: facet 1 referrer host, 2 country,
-- 3 browser, 4 OS, 5 device class. Keyed by facet before hour: a breakdown
-- reads only its own rows of the range.
create table click_facets (
    link_id integer not null,
    hour integer not null,
    facet integer not null,
    name text not null,
    n integer not null,
    primary key (link_id, facet, hour, name)
) without rowid;

-- Raw visits, for analytics.retention_days. Never an IP.
create table visits (
    id integer primary key,
    link_id integer not null,
    at integer not null,
    referrer text not null,
    country text not null,
    browser text not null,
    os text not null,
    device text not null,
    bot integer not null,
    user_agent text
);
create index visits_link_at on visits (link_id, at, id);
create index visits_at on visits (at);

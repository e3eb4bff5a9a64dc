-- Click analytics. Visit limits count people only, apart from `visits`,
-- which counts every click (ADR 0017).
alter table links add column human_visits bigint not null default 0;
update links set human_visits = visits where max_visits is not null;

-- Per link and hour (hours since the Unix epoch, UTC): kept for ever.
-- Flushes add to them (upserts), so nodes add up without reading.
create table click_hours (
    link_id bigint not null,
    hour bigint not null,
    total bigint not null,
    humans bigint not null,
    bots bigint not null,
    primary key (link_id, hour)
);

-- Breakdowns of the same hours: facet 1 referrer host, 2 country,
-- 3 browser, 4 OS, 5 device class. Keyed by facet before hour: a breakdown
-- reads only its own rows of the range.
create table click_facets (
    link_id bigint not null,
    hour bigint not null,
    facet bigint not null,
    name text collate "C" not null,
    n bigint not null,
    primary key (link_id, facet, hour, name)
);

-- Raw visits, for analytics.retention_days. Never an IP.
create table visits (
    id bigint generated always as identity primary key,
    link_id bigint not null,
    at bigint not null,
    referrer text not null,
    country text not null,
    browser text not null,
    os text not null,
    device text not null,
    bot boolean not null,
    user_agent text
);
create index visits_link_at on visits (link_id, at, id);
create index visits_at on visits (at);

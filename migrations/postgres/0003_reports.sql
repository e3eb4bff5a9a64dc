-- Abuse reports and review (ADR 0021).

-- Why the instance disabled a link: null (its owner or an admin did, by
-- hand), 'abuse' (a report resolved by disabling) or 'blocklist' (the
-- blocklist rescan). Set only while disabled.
alter table links add column disabled_reason text;

-- The review queue: pending links, newest first.
create index links_pending on links (pending, created_at, id);

-- Reports are kept after they are resolved (who decided what, and when).
-- reporter_network is the reporter's /24 (IPv4) or /48 (IPv6), never a
-- full address; no answer shows it.
create table reports (
    id bigserial primary key,
    link_id bigint not null references links (id),
    slug text not null collate "C",
    reason text not null,
    details text,
    reporter_network text,
    created_at bigint not null,
    status text not null default 'open',
    resolution text,
    resolved_at bigint,
    resolved_by bigint references users (id)
);
-- The admin list: by status, newest first.
create index reports_status_created on reports (status, created_at, id);
-- Closing every open report of a link when it is disabled.
create index reports_link on reports (link_id, status);

-- Abuse reports and review (ADR 0021).

-- Why the instance disabled a link: null (its owner or an admin did, by
-- hand), 'abuse' (a report resolved by disabling) or 'blocklist' (the
-- blocklist rescan). Set only while disabled.
alter table links add column disabled_reason varchar(16);

-- The review queue: pending links, newest first.
create index links_pending on links (pending, created_at, id);

-- Reports are kept after they are resolved (who decided what, and when).
-- reporter_network is the reporter's /24 (IPv4) or /48 (IPv6), never a
-- full address; no answer shows it.
create table reports (
    id bigint not null auto_increment primary key,
    link_id bigint not null,
    slug varchar(64) character set ascii collate ascii_bin not null,
    reason varchar(16) not null,
    details text,
    reporter_network varchar(64),
    created_at bigint not null,
    status varchar(16) not null default 'open',
    resolution varchar(16),
    resolved_at bigint,
    resolved_by bigint,
    -- The admin list: by status, newest first.
    key reports_status_created (status, created_at, id),
    -- Closing every open report of a link when it is disabled.
    key reports_link (link_id, status),
    constraint reports_link_fk foreign key (link_id) references links (id),
    constraint reports_resolved_by_fk foreign key (resolved_by) references users (id)
) engine = InnoDB default charset = utf8mb4;

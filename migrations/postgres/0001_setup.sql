-- kurz schema, PostgreSQL. Timestamps are bigint milliseconds since the Unix
-- epoch, as in the other backends, so rows move between them unchanged.

create table settings (
    name text primary key,
    value text not null,
    created_at bigint not null
);

-- Segment allocation: each node leases blocks of IDs by bumping next_id.
create table id_counters (
    name text primary key,
    next_id bigint not null,
    created_at bigint not null
);
insert into id_counters (name, next_id, created_at) values ('link', 1, 0);

create table users (
    id bigserial primary key,
    username text not null unique,
    password_hash text not null,
    role text not null,
    created_at bigint not null
);

create table api_keys (
    id bigserial primary key,
    user_id bigint not null references users (id),
    name text,
    key_hash text not null unique,
    read_only boolean not null default false,
    created_at bigint not null,
    revoked_at bigint
);
create index api_keys_user on api_keys (user_id);

-- Deleted links stay as tombstones (deleted_at set, target cleared) so that
-- their slug is never given out again. No index on url: reuse looks links up
-- by (owner_id, url_hash).
create table links (
    id bigint primary key,
    slug text not null collate "C",
    url text not null,
    url_hash bigint not null,
    owner_id bigint references users (id),
    created_at bigint not null,
    updated_at bigint not null,
    expires_at bigint,
    max_visits bigint,
    visits bigint not null default 0,
    tags text not null default '[]',
    title text,
    redirect_status bigint,
    forward_query boolean not null default false,
    password_hash text,
    disabled boolean not null default false,
    pending boolean not null default false,
    deleted_at bigint
);
create unique index links_slug on links (slug);
create index links_owner_created on links (owner_id, created_at, id);
create index links_created on links (created_at, id);
create index links_owner_url on links (owner_id, url_hash);

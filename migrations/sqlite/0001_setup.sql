-- kurz schema, SQLite. Timestamps are integer milliseconds since the Unix epoch.

create table settings (
    name text primary key,
    value text not null,
    created_at integer not null
);

-- Segment allocation: each node leases blocks of IDs by bumping next_id.
create table id_counters (
    name text primary key,
    next_id integer not null,
    created_at integer not null
);
insert into id_counters (name, next_id, created_at) values ('link', 1, 0);

create table users (
    id integer primary key autoincrement,
    username text not null unique,
    password_hash text not null,
    role text not null,
    created_at integer not null
);

create table api_keys (
    id integer primary key autoincrement,
    user_id integer not null references users (id),
    name text,
    key_hash text not null unique,
    read_only integer not null default 0,
    created_at integer not null,
    revoked_at integer
);
create index api_keys_user on api_keys (user_id);

-- Deleted links stay as tombstones (deleted_at set, target cleared) so that
-- their slug is never given out again.
create table links (
    id integer primary key,
    slug text not null,
    url text not null,
    url_hash integer not null,
    owner_id integer references users (id),
    created_at integer not null,
    updated_at integer not null,
    expires_at integer,
    max_visits integer,
    visits integer not null default 0,
    tags text not null default '[]',
    title text,
    redirect_status integer,
    forward_query integer not null default 0,
    password_hash text,
    disabled integer not null default 0,
    pending integer not null default 0,
    deleted_at integer
);
create unique index links_slug on links (slug);
create index links_owner_created on links (owner_id, created_at, id);
create index links_created on links (created_at, id);
create index links_owner_url on links (owner_id, url_hash);

-- kurz schema, MySQL / MariaDB. Timestamps are bigint milliseconds since the
-- Unix epoch. Slugs and key hashes are ASCII with a binary collation, so they
-- compare case-sensitively and index compactly.

create table settings (
    name varchar(64) character set ascii collate ascii_bin primary key,
    value text not null,
    created_at bigint not null
) engine = InnoDB default charset = utf8mb4;

-- Segment allocation: each node leases blocks of IDs by bumping next_id.
create table id_counters (
    name varchar(64) character set ascii collate ascii_bin primary key,
    next_id bigint not null,
    created_at bigint not null
) engine = InnoDB default charset = utf8mb4;
insert into id_counters (name, next_id, created_at) values ('link', 1, 0);

create table users (
    id bigint not null auto_increment primary key,
    username varchar(64) character set ascii collate ascii_bin not null,
    password_hash varchar(255) not null,
    role varchar(16) not null,
    created_at bigint not null,
    unique key users_username (username)
) engine = InnoDB default charset = utf8mb4;

create table api_keys (
    id bigint not null auto_increment primary key,
    user_id bigint not null,
    name varchar(512),
    key_hash char(64) character set ascii collate ascii_bin not null,
    read_only boolean not null default false,
    created_at bigint not null,
    revoked_at bigint,
    unique key api_keys_hash (key_hash),
    key api_keys_user (user_id),
    constraint api_keys_user_fk foreign key (user_id) references users (id)
) engine = InnoDB default charset = utf8mb4;

-- Deleted links stay as tombstones (deleted_at set, target cleared) so that
-- their slug is never given out again. No index on url: reuse looks links up
-- by (owner_id, url_hash).
create table links (
    id bigint not null primary key,
    slug varchar(64) character set ascii collate ascii_bin not null,
    url text not null,
    url_hash bigint not null,
    owner_id bigint,
    created_at bigint not null,
    updated_at bigint not null,
    expires_at bigint,
    max_visits bigint,
    visits bigint not null default 0,
    tags text not null,
    title text,
    redirect_status bigint,
    forward_query boolean not null default false,
    password_hash varchar(255),
    disabled boolean not null default false,
    pending boolean not null default false,
    deleted_at bigint,
    unique key links_slug (slug),
    key links_owner_created (owner_id, created_at, id),
    key links_created (created_at, id),
    key links_owner_url (owner_id, url_hash),
    constraint links_owner_fk foreign key (owner_id) references users (id)
) engine = InnoDB default charset = utf8mb4;

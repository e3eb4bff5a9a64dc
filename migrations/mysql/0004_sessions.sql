-- Web-UI sessions and disabled accounts.

-- Set while an admin has disabled the user: no login, no session, no key
-- works. The time is kept for the admin's list.
alter table users add column disabled_at bigint;

-- One row per signed-in browser. token_hash is the hex SHA-256 of the
-- random cookie value, so a read of this table signs no one in. Rows of
-- ended sessions are deleted; expired ones by the periodic purge.
create table sessions (
    token_hash char(64) character set ascii collate ascii_bin not null primary key,
    user_id bigint not null,
    created_at bigint not null,
    expires_at bigint not null,
    -- Ending every session of a user (password change, disabling).
    key sessions_user (user_id),
    -- The purge of expired sessions.
    key sessions_expires (expires_at),
    constraint sessions_user_fk foreign key (user_id) references users (id)
) engine = InnoDB default charset = utf8mb4;

-- Web-UI sessions and disabled accounts.

-- Set while an admin has disabled the user: no login, no session, no key
-- works. The time is kept for the admin's list.
alter table users add column disabled_at bigint;

-- One row per signed-in browser. token_hash is the hex SHA-256 of the
-- random cookie value, so a read of this table signs no one in. Rows of
-- ended sessions are deleted; expired ones by the periodic purge.
create table sessions (
    token_hash text collate "C" primary key,
    user_id bigint not null references users (id),
    created_at bigint not null,
    expires_at bigint not null
);
-- Ending every session of a user (password change, disabling).
create index sessions_user on sessions (user_id);
-- The purge of expired sessions.
create index sessions_expires on sessions (expires_at);

-- Abuse limits that every process sharing this file must agree on (failed sign-ins, registrations,
-- joins): one row per counted event until it leaves its window. Keys are keyed digests, so no email
-- address or client address is kept; expired rows are deleted as new ones come.
create table limit_hits (
    id integer primary key,
    name text not null,
    key_hash text not null,
    expires_at real not null  -- Unix time at which the event stops counting
);
create index limit_hits_by_key on limit_hits (name, key_hash, expires_at);
create index limit_hits_by_expiry on limit_hits (expires_at);

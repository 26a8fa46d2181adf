-- A registration sent again with the same Idempotency-Key (a phone that lost the answer) gets the
-- first answer back instead of a second seat. Only digests are kept; rows go with their registration.
create table registration_keys (
    session_id integer not null references sessions(id) on delete cascade,
    key_hash text not null,
    body_hash text not null,
    registration_id integer not null references registrations(id) on delete cascade,
    primary key (session_id, key_hash)
);

-- Messages an organizer sent to everyone registered for a session (a room change, the weather),
-- kept as a log on the session. The mails themselves go through the outbox, one per registrant.
-- form_key is the sending form's one-time key: the same form sent twice (a double tap) sends once.
create table session_messages (
    id integer primary key,
    session_id integer not null references sessions(id) on delete cascade,
    sender_id integer references accounts(id) on delete set null,
    sender text not null,
    subject text not null,
    body text not null,
    recipients integer not null,
    form_key text not null,
    created_at text not null default (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    unique (session_id, form_key)
);

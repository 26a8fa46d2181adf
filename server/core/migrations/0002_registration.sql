-- Registration: children for childcare, accommodation requests, check-in, the mail outbox,
-- and anonymous totals kept after sensitive details are purged.

-- the registrant's token is derived from this salt and the server secret (HMAC), so mails can link to
-- /r/{token} while the database alone (token_hash) never reveals a working link
alter table registrations add column token_salt text not null default '';
alter table registrations add column locale text not null default 'ja';
alter table registrations add column note text not null default '';
alter table registrations add column checked_in_at text;
alter table registrations add column cancelled_at text;
alter table registrations add column reminded_at text;
alter table registrations add column purged_at text;

-- what happens to a request after its deadline: refused ('closed') or accepted with no promise
alter table session_accommodations add column after_deadline text not null default 'closed'
    check (after_deadline in ('closed', 'best_effort'));
alter table sessions add column childcare_after_deadline text not null default 'closed'
    check (childcare_after_deadline in ('closed', 'best_effort'));

create table registration_children (
    id integer primary key,
    registration_id integer not null references registrations(id) on delete cascade,
    session_id integer not null references sessions(id),
    age_months integer not null check (age_months >= 0),
    notes text not null default '',
    status text not null check (status in ('confirmed', 'waitlisted', 'cancelled')),
    late integer not null default 0,
    created_at text not null default (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
create index registration_children_session on registration_children(session_id, status);
create index registration_children_registration on registration_children(registration_id);

create table accommodation_requests (
    id integer primary key,
    registration_id integer not null references registrations(id) on delete cascade,
    session_id integer not null references sessions(id),
    code text not null,
    note text not null default '',
    status text not null check (status in ('requested', 'confirmed', 'unavailable', 'cancelled')),
    message text not null default '',
    late integer not null default 0,
    updated_at text not null default (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
create index accommodation_requests_session on accommodation_requests(session_id, code, status);
create index accommodation_requests_registration on accommodation_requests(registration_id);

create table change_requests (
    id integer primary key,
    registration_id integer not null references registrations(id) on delete cascade,
    message text not null,
    handled integer not null default 0,
    created_at text not null default (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

create table outbox (
    id integer primary key,
    kind text not null,
    registration_id integer references registrations(id) on delete set null,
    to_address text not null,
    subject text not null,
    body text not null,
    ics text,
    created_at text not null default (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    attempts integer not null default 0,
    next_attempt_at text not null default (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    sent_at text,
    last_error text not null default ''
);
create index outbox_due on outbox(sent_at, next_attempt_at);

-- counts that survive the purge of sensitive details (item: 'childcare:0-1', 'accommodation:sign_language')
create table sensitive_totals (
    session_id integer not null references sessions(id),
    item text not null,
    count integer not null,
    primary key (session_id, item)
);

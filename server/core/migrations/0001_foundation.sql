-- Organizations, accounts, venues, sessions, series, accommodation offers, search.
-- Times are UTC text 'YYYY-MM-DDTHH:MM:SSZ'; lists are JSON arrays of strings.

create table if not exists meta (
    key text primary key,
    value text not null
);

create table organizations (
    id integer primary key,
    slug text not null unique,
    name text not null,
    name_en text not null default '',
    contact_email text not null default '',
    contact_phone text not null default '',
    website text not null default '',
    created_at text not null default (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

create table accounts (
    id integer primary key,
    org_id integer not null references organizations(id),
    email text not null unique collate nocase,
    display_name text not null default '',
    password_hash text not null,
    role text not null check (role in ('organizer', 'facilitator', 'admin')),
    active integer not null default 1,
    created_at text not null default (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

create table login_sessions (
    token_hash text primary key,
    account_id integer not null references accounts(id) on delete cascade,
    created_at text not null,
    expires_at text not null
);
create index login_sessions_account on login_sessions(account_id);

create table api_tokens (
    token_hash text primary key,
    account_id integer not null references accounts(id) on delete cascade,
    label text not null default '',
    created_at text not null default (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    last_used_at text
);

create table venues (
    id integer primary key,
    org_id integer not null references organizations(id),
    name text not null,
    name_en text not null default '',
    address text not null default '',
    address_en text not null default '',
    capacity integer check (capacity is null or capacity >= 0),
    features text not null default '[]',
    access_notes text not null default '',
    access_notes_en text not null default '',
    created_at text not null default (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    updated_at text not null default (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
create index venues_org on venues(org_id);

create table series (
    id integer primary key,
    org_id integer not null references organizations(id),
    rrule text not null,
    timezone text not null,
    first_starts_at text not null,
    duration_minutes integer not null check (duration_minutes > 0),
    created_at text not null default (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

create table sessions (
    id integer primary key,
    org_id integer not null references organizations(id),
    series_id integer references series(id),
    -- the occurrence's original start in its series (its RECURRENCE-ID); kept when it moves
    recurrence_at text,
    title text not null,
    title_en text not null default '',
    description text not null default '',
    description_en text not null default '',
    kind text not null check (kind in ('dialogue', 'round_table', 'workshop', 'forum', 'briefing', 'lecture')),
    format text not null check (format in ('in_person', 'online', 'hybrid')),
    venue_id integer references venues(id),
    online_url text not null default '',
    starts_at text not null,
    ends_at text not null,
    timezone text not null default 'Asia/Tokyo',
    capacity_in_person integer not null default 0 check (capacity_in_person >= 0),
    capacity_online integer not null default 0 check (capacity_online >= 0),
    registration_opens_at text,
    registration_closes_at text,
    status text not null default 'draft' check (status in ('draft', 'published', 'cancelled', 'completed')),
    languages text not null default '["ja"]',
    themes text not null default '[]',
    facilitators text not null default '[]',
    contact_name text not null default '',
    contact_email text not null default '',
    contact_phone text not null default '',
    childcare_places integer check (childcare_places is null or childcare_places >= 0),
    childcare_min_age_months integer,
    childcare_max_age_months integer,
    childcare_deadline text,
    childcare_note text not null default '',
    cancel_reason text not null default '',
    -- bumped on every change a calendar subscriber should see (time, place, status)
    sequence integer not null default 0,
    created_at text not null default (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    updated_at text not null default (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    check (ends_at > starts_at)
);
create index sessions_status_start on sessions(status, starts_at);
create index sessions_org_start on sessions(org_id, starts_at);
create index sessions_series on sessions(series_id, recurrence_at);

create table session_accommodations (
    session_id integer not null references sessions(id) on delete cascade,
    code text not null check (code in ('sign_language', 'captioning', 'wheelchair_space', 'hearing_loop',
        'braille_materials', 'easy_japanese', 'interpretation', 'other')),
    mode text not null check (mode in ('always', 'on_request')),
    deadline text,
    capacity integer check (capacity is null or capacity >= 0),
    language text not null default '',
    note text not null default '',
    primary key (session_id, code)
);
create index session_accommodations_code on session_accommodations(code, session_id);

create table registrations (
    id integer primary key,
    session_id integer not null references sessions(id),
    token_hash text not null unique,
    name text not null,
    name_kana text not null default '',
    email text not null default '',
    phone text not null default '',
    mode text not null check (mode in ('in_person', 'online')),
    status text not null check (status in ('confirmed', 'waitlisted', 'cancelled', 'attended')),
    consent_sensitive integer not null default 0,
    staff_entered integer not null default 0,
    created_at text not null default (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    updated_at text not null default (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
create index registrations_session_status on registrations(session_id, status, mode);

-- Free-text search: trigram FTS5 finds Japanese substrings of three or more characters;
-- shorter queries use LIKE on the same table. Rows are kept in step by sessions/store.py.
-- sqlite only
create virtual table session_search using fts5(title, description, themes, place, tokenize = 'trigram');
-- PostgreSQL (lines starting with --pg): a plain table with the same columns; its whole text in
-- one generated column with a pg_trgm index, which serves `like` for three characters or more.
--pg create table session_search (rowid bigint primary key, title text not null default '',
--pg     description text not null default '', themes text not null default '', place text not null default '',
--pg     doc text generated always as (title || ' ' || description || ' ' || themes || ' ' || place) stored);
--pg create index session_search_trgm on session_search using gin (doc gin_trgm_ops);

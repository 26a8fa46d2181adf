-- Live workshop boards: configuration, an append-only event log, applied op ids, participants.

create table boards (
    id integer primary key,
    session_id integer not null references sessions(id),
    org_id integer not null references organizations(id),
    title text not null,
    prompts text not null,           -- JSON [{id, title}]
    colors text not null,            -- JSON [colour names]
    vote_budget integer not null default 5 check (vote_budget between 1 and 100),
    max_votes_per_note integer not null default 3 check (max_votes_per_note between 1 and 100),
    anonymous integer not null default 0,
    private_writing integer not null default 0,
    join_code text not null unique,
    outcome_published integer not null default 0,
    outcome_names integer not null default 0,
    created_at text not null default (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
create index boards_session on boards(session_id);

create table board_events (
    board_id integer not null references boards(id),
    seq integer not null,
    type text not null,
    data text not null,
    actor text not null,
    created_at text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    primary key (board_id, seq)
) without rowid;

-- a client's op id is applied once; a repeated op gets the original answer
create table board_ops (
    board_id integer not null references boards(id),
    actor text not null,
    op text not null,
    result text not null,
    primary key (board_id, actor, op)
) without rowid;

create table board_participants (
    id text primary key,
    board_id integer not null references boards(id),
    token_hash text not null unique,
    display_name text not null default '',
    place text not null default 'online' check (place in ('room', 'online')),
    created_at text not null default (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
create index board_participants_board on board_participants(board_id);

create table board_templates (
    id integer primary key,
    org_id integer not null references organizations(id),
    name text not null,
    config text not null,
    created_at text not null default (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

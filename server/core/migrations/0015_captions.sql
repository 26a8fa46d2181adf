-- Live captions (要約筆記): one caption stream per session, the captioners' links (revocable),
-- the committed lines (each with the seq of its latest change, so a reconnecting viewer can be
-- sent exactly what was added or edited after the seq it had), and applied op ids.
-- Times are ISO-8601 UTC text made in Python.

create table caption_streams (
    id integer primary key,
    session_id integer not null unique references sessions(id),
    code text not null unique,
    seq integer not null default 0,
    published integer not null default 0,
    created_at text not null
);

create table caption_captioners (
    id integer primary key,
    stream_id integer not null references caption_streams(id),
    token_hash text not null unique,
    label text not null default '',
    created_at text not null,
    revoked_at text
);
create index caption_captioners_stream on caption_captioners(stream_id);

create table caption_lines (
    stream_id integer not null references caption_streams(id),
    line integer not null,
    seq integer not null,
    text text not null,
    speaker text not null default '',
    at text not null,
    edited_at text,
    primary key (stream_id, line)
);
create index caption_lines_seq on caption_lines(stream_id, seq);

create table caption_ops (
    stream_id integer not null references caption_streams(id),
    actor text not null,
    op text not null,
    result text not null,
    primary key (stream_id, actor, op)
);

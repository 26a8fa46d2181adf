-- ふりがな: each organization's readings of local names and terms (一関 -> いちのせき), applied
-- before the morphological analyser; and the やさしい日本語 summary a session may carry.
create table reading_names (
    id integer primary key,
    org_id integer not null references organizations(id) on delete cascade,
    surface text not null,
    reading text not null,
    changed_at text not null,  -- ISO-8601 UTC to the microsecond: processes reload when it moves
    unique (org_id, surface)
);

create table session_easy_summaries (
    session_id integer primary key references sessions(id) on delete cascade,
    body text not null,
    updated_at text not null
);

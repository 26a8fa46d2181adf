-- When a session was first published. Public feeds show only sessions that were: a draft, or a
-- session cancelled (or marked completed) before anyone could see it, must not show there, in
-- their content or in their ETag and Last-Modified.
-- Existing sessions: published and completed ones count as published; a cancelled one only when
-- someone had registered for it (whether it was ever public is not recorded).
alter table sessions add column published_at text;

update sessions set published_at = updated_at
where status in ('published', 'completed')
   or (status = 'cancelled' and exists (select 1 from registrations r where r.session_id = sessions.id));

create trigger sessions_published_on_insert after insert on sessions
when new.status = 'published'
begin
    update sessions set published_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') where id = new.id;
end;

create trigger sessions_published_on_update after update of status on sessions
when new.status = 'published' and new.published_at is null
begin
    update sessions set published_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') where id = new.id;
end;

-- An occurrence of a series taken back to draft leaves the series' feed event as an EXDATE; the
-- event's SEQUENCE and LAST-MODIFIED count that moment, and not the draft's later edits.
alter table sessions add column withdrawn_at text;
alter table sessions add column withdrawn_sequence integer;

create trigger sessions_withdrawn after update of status on sessions
when old.status != 'draft' and new.status = 'draft' and new.published_at is not null
begin
    update sessions set withdrawn_at = new.updated_at, withdrawn_sequence = new.sequence where id = new.id;
end;

-- When a session was first published. Public feeds show only sessions that were: a draft, or a
-- session cancelled (or marked completed) before anyone could see it, must not show there, in
-- their content or in their ETag and Last-Modified.
-- Existing sessions: published and completed ones count as published; a cancelled one only when
-- someone had registered for it (whether it was ever public is not recorded).
alter table sessions add column published_at text;

update sessions set published_at = updated_at
where status in ('published', 'completed')
   or (status = 'cancelled' and exists (select 1 from registrations r where r.session_id = sessions.id));

-- sqlite only
create trigger sessions_published_on_insert after insert on sessions
when new.status = 'published'
begin
    update sessions set published_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') where id = new.id;
end;

-- sqlite only
create trigger sessions_published_on_update after update of status on sessions
when new.status = 'published' and new.published_at is null
begin
    update sessions set published_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') where id = new.id;
end;

-- An occurrence of a series taken back to draft leaves the series' feed event as an EXDATE; the
-- event's SEQUENCE and LAST-MODIFIED count that moment, and not the draft's later edits.
alter table sessions add column withdrawn_at text;
alter table sessions add column withdrawn_sequence integer;

-- sqlite only
create trigger sessions_withdrawn after update of status on sessions
when old.status != 'draft' and new.status = 'draft' and new.published_at is not null
begin
    update sessions set withdrawn_at = new.updated_at, withdrawn_sequence = new.sequence where id = new.id;
end;

-- PostgreSQL's form of the three triggers above: one function run before the row is written.
--pg create function sessions_publication() returns trigger language plpgsql as $$
--pg begin
--pg     if tg_op = 'INSERT' then
--pg         if new.status = 'published' then
--pg             new.published_at := to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');
--pg         end if;
--pg         return new;
--pg     end if;
--pg     if new.status = 'published' and new.published_at is null then
--pg         new.published_at := to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');
--pg     end if;
--pg     if old.status != 'draft' and new.status = 'draft' and new.published_at is not null then
--pg         new.withdrawn_at := new.updated_at;
--pg         new.withdrawn_sequence := new.sequence;
--pg     end if;
--pg     return new;
--pg end $$;
--pg create trigger sessions_publication_on_insert before insert on sessions
--pg     for each row execute function sessions_publication();
--pg create trigger sessions_publication_on_update before update of status on sessions
--pg     for each row execute function sessions_publication();

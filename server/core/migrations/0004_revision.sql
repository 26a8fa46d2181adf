-- A counter bumped on every change to a session, so calendar validators change even when two
-- edits fall in the same second (updated_at has one-second resolution).
alter table sessions add column revision integer not null default 0;
alter table organizations add column updated_at text not null default '1970-01-01T00:00:00Z';

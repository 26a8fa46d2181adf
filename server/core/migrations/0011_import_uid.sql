-- The UID an imported event had in its file: importing the same file again updates the draft it made
-- instead of adding another.
alter table sessions add column import_uid text;
create index sessions_import_uid on sessions(org_id, import_uid);

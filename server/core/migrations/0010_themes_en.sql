-- A session's themes in English (a JSON list like themes), shown on English pages instead of the
-- Japanese themes when the organizer wrote them.
alter table sessions add column themes_en text not null default '[]';

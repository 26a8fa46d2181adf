-- "What happens next", written by the organizer and shown on the board's published outcome.
alter table boards add column next_steps text not null default '';

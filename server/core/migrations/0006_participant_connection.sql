-- Which connection each board participant joined from, as a short keyed code (never the address),
-- so the facilitator sees when one connection makes many participants (ballot stuffing).
alter table board_participants add column connection text not null default '';

-- Every registration's write checks that its address holds no other place in the session: an index on
-- the lowercased address keeps that check from reading every registration of the session (and keeps
-- the write lock short when a thousand residents register at once).
create index registrations_email on registrations(lower(email), session_id);

-- The accountability ledger (論点整理): themes with a public page, the opinions residents gave, the
-- issues organizers group them under, and the city's responses, appended and never edited (a
-- correction is a new response). A response is a draft until published_at is set. Residents may follow
-- a theme by mail (double opt-in: confirmed_at is set only through the link mailed to them).
-- Times are ISO-8601 UTC text made in Python; dates (received_on) are YYYY-MM-DD.

create table themes (
    id integer primary key,
    org_id integer not null references organizations(id),
    slug text not null unique,
    title text not null,
    description text not null default '',
    published integer not null default 1 check (published in (0, 1)),
    created_at text not null
);
create index themes_org on themes(org_id);

alter table sessions add column theme_id integer references themes(id);
create index sessions_theme on sessions(theme_id);

create table opinions (
    id integer primary key,
    theme_id integer not null references themes(id) on delete cascade,
    text text not null,
    source text not null check (source in ('board', 'question', 'evaluation', 'paper', 'mail', 'phone',
        'public_comment', 'other')),
    session_id integer references sessions(id) on delete set null,
    received_on text not null,
    -- where it was collected from (e.g. 'board:3:note:n7'), so the same note is sent to a theme once
    origin text,
    created_at text not null,
    unique (theme_id, origin)
);
create index opinions_theme on opinions(theme_id, id);

create table issues (
    id integer primary key,
    theme_id integer not null references themes(id) on delete cascade,
    title text not null,
    created_at text not null
);
create index issues_theme on issues(theme_id, id);

-- one opinion may feed several issues
create table issue_opinions (
    issue_id integer not null references issues(id) on delete cascade,
    opinion_id integer not null references opinions(id) on delete cascade,
    primary key (issue_id, opinion_id)
);
create index issue_opinions_opinion on issue_opinions(opinion_id);

create table responses (
    id integer primary key,
    issue_id integer not null references issues(id) on delete cascade,
    body text not null,
    status text not null check (status in ('considering', 'adopted', 'partly_adopted', 'not_feasible',
        'continuing', 'done')),
    department text not null default '',
    session_id integer references sessions(id) on delete set null,
    author_id integer references accounts(id) on delete set null,
    created_at text not null,
    published_at text
);
create index responses_issue on responses(issue_id, id);

create table theme_followers (
    id integer primary key,
    theme_id integer not null references themes(id) on delete cascade,
    email text not null,
    locale text not null default 'ja',
    -- the follower's link token is HMAC(server secret, salt); only its hash is looked up
    token_salt text not null,
    token_hash text not null unique,
    requested_at text not null,
    confirmed_at text,
    unique (theme_id, email)
);

-- mail to a theme's follower (not a registrant): its links are made from the follower's salt when sent
alter table outbox add column follower_id integer references theme_followers(id) on delete set null;
alter table outbox add column unsubscribe_url text;

-- Evaluation (評価): one per session, its questions and options, the answers, and who has answered.
-- Answers are stored without the registrant: a response has a random id and no time, so neither a
-- join nor the order of rows links it to the "has answered" mark (evaluation_answered).
create table evaluations (
    id integer primary key,
    session_id integer not null unique references sessions(id) on delete cascade,
    code text not null unique,
    opens_at text not null,
    closes_at text,
    created_at text not null,
    mailed_at text,
    results_published integer not null default 0,
    -- the aggregated results kept when the answers are purged with the retention purge (JSON)
    summary text,
    purged_at text
);

create table evaluation_questions (
    id integer primary key,
    evaluation_id integer not null references evaluations(id) on delete cascade,
    position integer not null,
    kind text not null check (kind in ('scale', 'single_choice', 'multiple_choice', 'text')),
    -- the standard item bank's key ('satisfaction', ...) or '' for a custom question
    bank_key text not null default '',
    text text not null,
    text_en text not null default '',
    -- who is asked: everyone, those who requested an accommodation, those who used childcare
    audience text not null default 'all' check (audience in ('all', 'accommodation', 'childcare'))
);
create index evaluation_questions_evaluation on evaluation_questions(evaluation_id, position);

create table evaluation_options (
    id integer primary key,
    question_id integer not null references evaluation_questions(id) on delete cascade,
    position integer not null,
    label text not null,
    label_en text not null default ''
);
create index evaluation_options_question on evaluation_options(question_id, position);

create table evaluation_responses (
    id integer primary key,  -- random, so that the order of answers says nothing
    evaluation_id integer not null references evaluations(id) on delete cascade,
    source text not null check (source in ('registrant', 'room', 'paper')),
    used_accommodation integer not null default 0,
    used_childcare integer not null default 0
);
create index evaluation_responses_evaluation on evaluation_responses(evaluation_id);

create table evaluation_answers (
    id integer primary key,  -- random as well
    response_id integer not null references evaluation_responses(id) on delete cascade,
    question_id integer not null references evaluation_questions(id) on delete cascade,
    value integer,           -- a scale's 1..5
    option_id integer,       -- a choice (one row per chosen option)
    text text,
    published integer not null default 0
);
create index evaluation_answers_question on evaluation_answers(question_id);
create index evaluation_answers_response on evaluation_answers(response_id);

-- who has answered (stops a second answer) and who was mailed: never joined to the answers
create table evaluation_answered (
    evaluation_id integer not null references evaluations(id) on delete cascade,
    registration_id integer not null references registrations(id) on delete cascade,
    primary key (evaluation_id, registration_id)
);

create table evaluation_invitations (
    evaluation_id integer not null references evaluations(id) on delete cascade,
    registration_id integer not null references registrations(id) on delete cascade,
    invited_at text not null,
    reminded_at text,
    primary key (evaluation_id, registration_id)
);

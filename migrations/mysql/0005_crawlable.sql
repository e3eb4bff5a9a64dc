-- Links a search engine may crawl: /robots.txt allows them and disallows
-- the rest (Shlink's `crawlable`).
alter table links add column crawlable boolean not null default false;
-- /robots.txt lists them (MySQL has no partial index).
create index links_crawlable on links (crawlable, id);

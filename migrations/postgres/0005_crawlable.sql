-- Links a search engine may crawl: /robots.txt allows them and disallows
-- the rest (Shlink's `crawlable`).
alter table links add column crawlable boolean not null default false;
-- /robots.txt lists them; few links are crawlable.
create index links_crawlable on links (id) where crawlable and deleted_at is null;

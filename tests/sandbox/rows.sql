-- Sample rows for the seed schema (etc/sql/mailserver-tables.sql), as
-- the tutorial adds them: one domain, two users, one alias.
INSERT INTO virtual_domains (id, name) VALUES (1, 'example.org');
INSERT INTO virtual_users (id, domain_id, password, email) VALUES
  (1, 1, MD5('john-secret'), 'john@example.org'),
  (2, 1, MD5('jane-secret'), 'jane@example.org');
INSERT INTO virtual_aliases (id, domain_id, source, destination) VALUES
  (1, 1, 'jack@example.org', 'john@example.org');

-- A client whose client_id is the URL of its Client ID Metadata Document
-- (draft-ietf-oauth-client-id-metadata-document): the row the server
-- keeps of it, made the first time the URL is used and found by it,
-- holds the URL; other clients hold NULL. One row per URL.
ALTER TABLE oauth_clients ADD COLUMN metadata_url TEXT;
CREATE UNIQUE INDEX oauth_clients_metadata_url ON oauth_clients (metadata_url) WHERE metadata_url IS NOT NULL;

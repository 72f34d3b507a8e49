-- Who acted, by kind: a user, the operator at the command line, the server
-- itself, or someone not signed in. Records made before say it as the
-- command line showed it: a user when there is one, someone not signed in
-- for a refused token or a record with an address, else the operator.
ALTER TABLE audit_log ADD COLUMN actor TEXT NOT NULL DEFAULT '';
UPDATE audit_log SET actor = CASE
    WHEN actor_user_id IS NOT NULL THEN 'user'
    WHEN action = 'auth.refused' OR address <> '' THEN 'anonymous'
    ELSE 'operator'
END;

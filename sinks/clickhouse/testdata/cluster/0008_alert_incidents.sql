ALTER TABLE sightline.llm_alerts_local ON CLUSTER sightline
    ADD COLUMN incident_id String;

DROP TABLE IF EXISTS sightline.llm_alerts ON CLUSTER sightline;

CREATE TABLE IF NOT EXISTS sightline.llm_alerts ON CLUSTER sightline AS sightline.llm_alerts_local
ENGINE = Distributed(sightline, sightline, llm_alerts_local, cityHash64(fingerprint));
